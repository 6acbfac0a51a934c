/**
 * One bonjour-service instance on a UDP socket the node owns.
 *
 * Why own the socket: the library hides it, and with it the two things an
 * operator needs — where an undecodable packet came from, and that sends fail
 * (it reports `up` while ENETUNREACH drops every packet). Why reach into
 * `server`: bonjour-service answers queries from its server's record table,
 * and the node must put its own records there and take them out before the
 * goodbye (see mdns-session.ts). The shapes below are the parts of
 * bonjour-service 1.4.4 / multicast-dns 7.2.5 that are used.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { Bonjour } from 'bonjour-service';
import type { Browser } from 'bonjour-service';

export const MDNS_PORT = 5353;

export interface DnsRecord {
  name: string;
  type: string;
  ttl?: number;
  class?: string;
  flush?: boolean;
  data?: unknown;
}

export interface DnsPacket {
  type?: string;
  answers?: DnsRecord[];
  additionals?: DnsRecord[];
  /** In a probe (RFC 6762 §8.2): the records the sender proposes to own. */
  authorities?: DnsRecord[];
  questions?: { name: string; type: string }[];
}

export type SendCallback = (error?: Error | null) => void;

export interface MulticastDns extends EventEmitter {
  respond(packet: { answers: DnsRecord[]; additionals?: DnsRecord[] }, cb?: SendCallback): void;
  query(name: string, type: string, cb?: SendCallback): void;
  /** A whole query packet (questions plus, for a probe, authorities). */
  query(packet: { questions: { name: string; type: string }[]; authorities?: DnsRecord[] }, cb?: SendCallback): void;
  destroy(cb?: () => void): void;
}

interface BonjourServer {
  mdns: MulticastDns;
  register(records: DnsRecord[]): void;
  unregister(records: DnsRecord[]): void;
}

export interface TransportOptions {
  /** `--mdns-interface`: the address whose interface joins the group and sends. */
  iface: string | null;
  /** Errors answering other nodes' queries (the library would throw them). */
  onAnswerError: (error: Error) => void;
}

export interface BonjourTransport {
  bonjour: Bonjour;
  mdns: MulticastDns;
  server: BonjourServer;
  socket: dgram.Socket;
  /** Source of the datagram being decoded right now (for warnings). */
  lastSource(): string | null;
  /** Resolves once bound to 5353, rejects with the bind error. */
  ready: Promise<void>;
  browse(): Browser;
  close(): Promise<void>;
}

export function openTransport(opts: TransportOptions): BonjourTransport {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  let lastSource: string | null = null;
  // Registered before multicast-dns adds its own listener, so it runs first.
  socket.on('message', (_msg, rinfo: AddressInfo) => (lastSource = `${rinfo.address}:${rinfo.port}`));

  const mdnsOptions = {
    socket,
    port: MDNS_PORT,
    loopback: true,
    ttl: 255,
    ...(opts.iface
      ? // Pinning the interface alone would bind the socket to that address, where
        // multicast queries never arrive: bind the wildcard, join on the interface.
        { interface: opts.iface, bind: '0.0.0.0' }
      : {}),
  };
  const bonjour = new Bonjour(mdnsOptions as unknown as ConstructorParameters<typeof Bonjour>[0], (err: Error) =>
    opts.onAnswerError(err),
  );
  const server = (bonjour as unknown as { server: BonjourServer }).server;
  const mdns = server.mdns;

  const ready = new Promise<void>((resolve, reject) => {
    mdns.once('ready', resolve);
    mdns.once('error', reject);
  });
  // Without a listener an 'error' event would throw out of the socket.
  mdns.on('error', () => undefined);

  let closed: Promise<void> | null = null;
  return {
    bonjour,
    mdns,
    server,
    socket,
    lastSource: () => lastSource,
    ready,
    browse: () => bonjour.find({ type: 'graceful-edge', protocol: 'tcp' }),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        try {
          bonjour.destroy(() => resolve());
        } catch {
          resolve();
        }
      })),
  };
}
