/**
 * One node's mDNS presence, from the first probe to the goodbye: publish
 * `_graceful-edge._tcp`, browse the same type, keep discovered peers' TTLs,
 * and say goodbye exactly once.
 *
 * It is shared by the `announcer` actor (lives while `serving`) and the
 * discovery area's `leave` step (runs in `deregistering`): leaving `serving`
 * stops the actor first, which only *quiets* the session (no more browsing,
 * no more announcements); the goodbye and the socket's close belong to the
 * leave step, so the two can never race or announce after the goodbye.
 */
import { Bonjour } from 'bonjour-service';
import type { Browser, Service } from 'bonjour-service';
import { parseHostPort } from '../config/host-port.js';
import type { Logger } from '../log/logger.js';
import type { PeerInfo } from '../../machines/events.js';
import { openTransport } from './bonjour-transport.js';
import type { BonjourTransport, DnsPacket, DnsRecord } from './bonjour-transport.js';
import { planGoodbye, sendGoodbye } from './goodbye.js';
import { candidateNames, fqdnOf, probeTaken } from './instance-probe.js';
import type { MdnsStatus } from './mdns-status.js';
import { RecordLifetimes } from './record-lifetimes.js';
import { addressRecords, serviceRecords } from './service-records.js';
import { SERVICE_TYPE, encodeTxt, readAdvert } from './service-txt.js';
import type { SelfAdvert } from './service-txt.js';

/** RFC 6762 §8.3: at least two announcements, one second apart; then answer queries. */
const ANNOUNCE_AT_MS = [0, 1_000, 3_000];
const LIFETIME_TICK_MS = 250;
/** A repeated complaint about the same thing is logged at most this often. */
const LOG_EVERY_MS = 10_000;

export type MdnsCountedEvent = 'announcement' | 'goodbye' | 'send_error' | 'malformed' | 'ignored_service' | 'name_conflict';

export interface SessionHooks {
  peerFound(peer: PeerInfo): void;
  peerLeft(address: string, reason: string): void;
  /** For /metrics. */
  count(event: MdnsCountedEvent, n?: number): void;
}

interface Tracked {
  address: string;
  id: string;
}

export class MdnsSession {
  readonly #log: Logger;
  readonly #status: MdnsStatus;
  readonly #hooks: SessionHooks;
  readonly #nodeId: string;
  readonly #transport: BonjourTransport;
  readonly #abort = new AbortController();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #tracked = new Map<string, Tracked>();
  readonly #lifetimes = new RecordLifetimes();
  /** SRV/TXT TTL (seconds) per service name, from the packet being processed. */
  readonly #packetTtls = new Map<string, number>();
  readonly #lastLogged = new Map<string, number>();
  #browser: Browser | null = null;
  #records: DnsRecord[] = [];
  #ownFqdn: string | null = null;
  #quiet = false;
  #goodbye: Promise<boolean> | null = null;

  constructor(opts: { nodeId: string; iface: string | null; logger: Logger; status: MdnsStatus; hooks: SessionHooks }) {
    this.#nodeId = opts.nodeId;
    this.#log = opts.logger;
    this.#status = opts.status;
    this.#hooks = opts.hooks;
    this.#transport = openTransport({ iface: opts.iface, onAnswerError: (e) => this.#sendFailed('answer', e) });
    const { mdns } = this.#transport;
    mdns.on('warning', (e: Error) => this.#warning(e));
    // Before the browser's listener: TTLs and goodbyes of SRV/TXT records,
    // which bonjour-service's browser ignores.
    mdns.on('response', (packet: DnsPacket) => this.#onResponse(packet));
  }

  /** Binds, browses, probes a unique name, registers and announces. */
  async start(advert: SelfAdvert): Promise<void> {
    const status = this.#status;
    try {
      await this.#transport.ready;
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      status.phase = 'failed';
      status.lastError = `cannot bind UDP ${5353}: ${e.code ?? e.message}`;
      this.#log.error({ err: e, code: e.code }, `mDNS disabled: cannot bind UDP 5353 (${e.code ?? e.message})`);
      return;
    }
    if (this.#quiet) return;
    this.#browse();

    status.phase = 'probing';
    let instance: string | null = null;
    for (const name of candidateNames(advert.nodeId)) {
      const taken = await probeTaken(this.#transport.mdns, fqdnOf(name, SERVICE_TYPE), this.#abort.signal, (e) =>
        this.#sendFailed('probe', e),
      );
      if (this.#quiet) return;
      if (!taken) {
        instance = name;
        break;
      }
      status.conflicts.push(name);
      this.#hooks.count('name_conflict');
      this.#log.warn({ instance: name }, `mDNS name conflict: "${name}" is already in use on the network; trying another name`);
    }
    if (instance === null) {
      status.phase = 'failed';
      status.lastError = 'every candidate instance name is taken';
      this.#log.error({ tried: status.conflicts }, 'mDNS: every candidate instance name is taken; not announcing');
      return;
    }

    const host = `${advert.nodeId}.local`;
    const service = new Bonjour.Service(
      { name: instance, type: SERVICE_TYPE, protocol: 'tcp', port: parseHostPort(advert.proxy).port, host, txt: encodeTxt(advert) },
      () => undefined,
      () => undefined,
    ) as Service;
    const library = service.records() as DnsRecord[];
    this.#records = serviceRecords(library, addressRecords(host, parseHostPort(advert.proxy).host, library, status.interface));
    this.#ownFqdn = service.fqdn.toLowerCase();
    this.#transport.server.register(this.#records);
    status.instance = instance;
    status.host = host;
    status.phase = 'announcing';
    if (status.conflicts.length > 0) {
      this.#log.warn({ instance, conflicts: status.conflicts }, `mDNS: announcing as "${instance}" after a name conflict`);
    }
    for (const at of ANNOUNCE_AT_MS) this.#later(at, () => this.#announce());
  }

  #announce(): void {
    if (this.#quiet) return;
    this.#transport.mdns.respond({ answers: this.#records }, (error) => {
      if (error) return this.#sendFailed('announcement', error);
      const first = this.#status.announcements === 0;
      this.#status.announcements++;
      this.#hooks.count('announcement');
      if (this.#status.phase === 'announcing') this.#status.phase = 'announced';
      if (first) {
        this.#log.info(
          { instance: this.#status.instance, host: this.#status.host, records: this.#records.length },
          `mDNS: announced ${this.#ownFqdn}`,
        );
      }
    });
  }

  #browse(): void {
    const browser = this.#transport.browse();
    this.#browser = browser;
    browser.on('up', (s: Service) => this.#seen(s));
    browser.on('srv-update', (s: Service) => this.#seen(s));
    browser.on('txt-update', (s: Service) => this.#seen(s));
    browser.on('down', (s: Service) => this.#forget(s.fqdn, 'mdns goodbye'));
    this.#later(LIFETIME_TICK_MS, () => this.#tickLifetimes(), true);
  }

  #seen(service: Service): void {
    if (this.#quiet || typeof service.fqdn !== 'string') return;
    const key = service.fqdn.toLowerCase();
    if (key === this.#ownFqdn) return;
    const advert = readAdvert(service.txt, service.port, service.referer?.address);
    if (!advert.ok) {
      this.#status.ignoredServices++;
      this.#hooks.count('ignored_service');
      this.#complain(`ignore:${key}:${advert.reason}`, 'warn', { service: service.fqdn, from: service.referer?.address, reason: advert.reason }, `mDNS: ignoring service "${service.fqdn}": ${advert.reason}`);
      if (this.#tracked.has(key)) this.#forget(service.fqdn, 'mdns record invalid');
      return;
    }
    if (advert.peer.id === this.#nodeId) return;
    const known = this.#tracked.get(key);
    if (known && known.address !== advert.peer.address) this.#forget(service.fqdn, 'mdns address changed', false);
    this.#tracked.set(key, { address: advert.peer.address, id: advert.peer.id });
    const ttl = this.#packetTtls.get(key) ?? service.ttl ?? 120;
    this.#lifetimes.refresh(key, ttl, Date.now());
    this.#status.peers = this.#tracked.size;
    this.#hooks.peerFound({
      address: advert.peer.address,
      meshPort: advert.peer.meshPort,
      id: advert.peer.id,
      source: 'mdns',
      status: 'alive',
      lastSeen: Date.now(),
    });
  }

  /** Drops a peer: chart event, lifetime, and the browser's copy (so a return is an `up` again). */
  #forget(fqdn: string, reason: string, tellBrowser = true): void {
    const key = fqdn.toLowerCase();
    const known = this.#tracked.get(key);
    if (!known) return;
    this.#tracked.delete(key);
    this.#lifetimes.forget(key);
    this.#status.peers = this.#tracked.size;
    this.#log.debug({ service: fqdn, peer: known.address, reason }, `mDNS: ${fqdn} gone (${reason})`);
    this.#hooks.peerLeft(known.address, reason);
    if (tellBrowser) (this.#browser as unknown as { removeService?: (n: string) => void } | null)?.removeService?.(fqdn);
  }

  #onResponse(packet: DnsPacket): void {
    if (this.#quiet) return;
    this.#packetTtls.clear();
    const now = Date.now();
    for (const rr of [...(packet.answers ?? []), ...(packet.additionals ?? [])]) {
      if ((rr.type !== 'SRV' && rr.type !== 'TXT') || typeof rr.name !== 'string') continue;
      const key = rr.name.toLowerCase();
      const ttl = rr.ttl ?? 0;
      if (ttl === 0) {
        // A goodbye of the SRV alone (no PTR) still means the instance is gone.
        if (rr.type === 'SRV' && this.#tracked.has(key)) this.#forget(rr.name, 'mdns goodbye');
        continue;
      }
      const prev = this.#packetTtls.get(key);
      this.#packetTtls.set(key, prev === undefined ? ttl : Math.min(prev, ttl));
    }
    for (const [key, ttl] of this.#packetTtls) if (this.#tracked.has(key)) this.#lifetimes.refresh(key, ttl, now);
  }

  #tickLifetimes(): void {
    const { expired, query } = this.#lifetimes.tick(Date.now());
    for (const key of expired) this.#forget(key, 'mdns ttl expired');
    if (query && !this.#quiet) this.#transport.mdns.query(`_${SERVICE_TYPE}._tcp.local`, 'PTR', (e) => e && this.#sendFailed('query', e));
  }

  #warning(error: Error): void {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) {
      // multicast-dns could not decode the datagram as DNS.
      this.#status.malformedPackets++;
      this.#hooks.count('malformed');
      const from = this.#transport.lastSource();
      this.#complain('malformed', 'warn', { from, error: error.message, malformed: this.#status.malformedPackets }, `mDNS: dropped an undecodable packet from ${from ?? 'unknown'}: ${error.message}`);
      return;
    }
    this.#complain(`warning:${code}`, 'warn', { code, error: error.message }, `mDNS socket warning: ${error.message}`);
  }

  #sendFailed(what: string, error: Error): void {
    const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    this.#status.sendErrors++;
    this.#hooks.count('send_error');
    this.#status.lastSendError = { code, message: error.message, at: Date.now() };
    const hint = code === 'ENETUNREACH' ? ' (no route for multicast: check --mdns-interface or the 224.0.0.0/4 route)' : '';
    this.#complain(`send:${what}:${code}`, 'warn', { what, code, sendErrors: this.#status.sendErrors }, `mDNS ${what} not sent: ${code}${hint}`);
  }

  #complain(key: string, level: 'warn' | 'debug', fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const last = this.#lastLogged.get(key);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    this.#lastLogged.set(key, now);
    this.#log[level](fields, msg);
  }

  #later(ms: number, fn: () => void, repeat = false): void {
    const timer = repeat ? setInterval(fn, ms) : setTimeout(() => (this.#timers.delete(timer), fn()), ms);
    this.#timers.add(timer);
  }

  /** Stops browsing and announcing; answers to queries stop with the goodbye. */
  quiesce(): void {
    if (this.#quiet) return;
    this.#quiet = true;
    this.#abort.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#browser?.stop();
  }

  /**
   * Unregisters every record (no more answers), sends them with TTL 0 three
   * times and closes the socket after the last one left. Idempotent: the
   * first caller's deadline applies. Resolves true when a goodbye was sent.
   */
  goodbye(timeoutMs: number): Promise<boolean> {
    return (this.#goodbye ??= this.#sayGoodbye(timeoutMs));
  }

  async #sayGoodbye(timeoutMs: number): Promise<boolean> {
    this.quiesce();
    const records = this.#records;
    this.#records = [];
    let sent = false;
    if (records.length > 0 && this.#status.phase !== 'failed') {
      this.#transport.server.unregister(records);
      const started = Date.now();
      const plan = planGoodbye(timeoutMs);
      const result = await sendGoodbye(this.#transport.mdns, records, plan, Math.max(0, timeoutMs - 25));
      this.#status.goodbyesSent += result.sent;
      this.#hooks.count('goodbye', result.sent);
      this.#status.phase = 'goodbye';
      sent = result.sent > 0;
      if (result.lastError) this.#sendFailed('goodbye', result.lastError);
      this.#log[sent ? 'info' : 'warn'](
        { instance: this.#status.instance, sent: result.sent, failed: result.failed, spacingMs: plan.spacingMs, tookMs: Date.now() - started },
        `mDNS goodbye sent ${result.sent}x (TTL 0) for ${this.#ownFqdn}`,
      );
    } else {
      this.#log.info({ phase: this.#status.phase }, 'mDNS: nothing was announced, no goodbye to send');
    }
    await this.#transport.close();
    this.#status.phase = 'closed';
    return sent;
  }
}
