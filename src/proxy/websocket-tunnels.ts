/**
 * WebSocket upgrades, tunnelled by http-proxy-3 whatever the HTTP engine.
 * Each open tunnel counts as in-flight work; at the drain deadline every
 * tunnel gets a proper close frame with code 1001 (Going Away) both ways.
 */
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type net from 'node:net';
import { ProxyServer } from 'http-proxy-3';
import type { Logger } from '../log/logger.js';
import type { InFlightTracker } from './in-flight-tracker.js';
import { writeRawJson } from './error-responses.js';
import { DRAINING_HEADER, HOP_HEADER } from './forwarding-headers.js';
import { addDateIfMissing } from './http-rules/date-header.js';
import type { ProxyPhase } from './request-forwarder.js';
import type { TargetPicker } from './target-picker.js';

const GOING_AWAY = 1001;

interface Tunnel {
  client: net.Socket;
  upstream: net.Socket | null;
  target: string;
}

/** A close frame; frames from a client (to the upstream) must be masked (RFC 6455 §5.3). */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason, 'utf8')]).subarray(0, 125);
  const head = Buffer.from([0x88, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([head, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, mask, body]);
}

export class WebSocketTunnels {
  readonly #proxy = new ProxyServer({ ws: true, xfwd: true });
  readonly #tunnels = new Map<http.IncomingMessage, Tunnel>();
  #cutting = false;

  constructor(
    private readonly deps: {
      nodeId: string;
      picker: TargetPicker;
      tracker: InFlightTracker;
      logger: Logger;
      phase: () => ProxyPhase;
      count: (outcome: string) => void;
      onSettled: () => void;
    },
  ) {
    this.#proxy.on('proxyReqWs', (proxyReq, req) => {
      // Runs before http-proxy-3's own listener writes the 101 from these headers.
      proxyReq.on('upgrade', (res: http.IncomingMessage, upstream: net.Socket) => {
        addDateIfMissing(res.headers);
        const t = this.#tunnels.get(req);
        if (t) t.upstream = upstream;
      });
    });
  }

  get open(): number {
    return this.#tunnels.size;
  }

  handleUpgrade(req: http.IncomingMessage, duplex: Duplex, head: Buffer): void {
    const socket = duplex as net.Socket;
    const phase = this.deps.phase();
    if (phase === 'stopped' || phase === 'cut') {
      this.deps.count('draining_503');
      return writeRawJson(socket, 503, 'Service Unavailable', { error: 'this node is shutting down', retry: true }, {
        'retry-after': '1',
        [DRAINING_HEADER]: '1',
      });
    }
    const isHop = req.headers[HOP_HEADER] !== undefined;
    const pick = this.deps.picker.pick({ peers: !isHop, upstreams: true });
    if (pick.kind !== 'target') {
      this.deps.count(pick.kind === 'none' ? 'no_target' : 'breaker_open');
      return writeRawJson(socket, 503, 'Service Unavailable', { error: pick.kind === 'none' ? 'no target is configured' : "every target's circuit breaker is open" });
    }
    const target = pick.target;
    const done = this.deps.tracker.begin('websocket');
    const tunnel: Tunnel = { client: socket, upstream: null, target: target.key };
    this.#tunnels.set(req, tunnel);
    let failed = false;
    socket.once('close', () => {
      this.#tunnels.delete(req);
      if (!failed) this.deps.count(this.#cutting ? 'cut' : 'websocket_closed');
      done();
      this.deps.onSettled();
    });
    socket.on('error', () => undefined);
    this.#proxy.ws(
      req,
      socket,
      head,
      {
        target: target.url,
        headers: target.kind === 'peer' ? { [HOP_HEADER]: this.deps.nodeId } : {},
      },
      (err) => {
        failed = true;
        this.deps.count('bad_gateway');
        this.deps.logger.warn({ target: target.key, err: (err as Error).message }, 'websocket upgrade failed');
        if (!tunnel.upstream) writeRawJson(socket, 502, 'Bad Gateway', { error: `bad gateway: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
      },
    );
  }

  /** Sends 1001 to both ends of every tunnel and closes them; returns how many. */
  cutAll(): number {
    this.#cutting = true;
    const n = this.#tunnels.size;
    for (const t of this.#tunnels.values()) {
      const { client, upstream } = t;
      // Stop relaying first so the close frame never lands inside a relayed frame.
      upstream?.unpipe(client);
      client.unpipe(upstream ?? undefined);
      if (client.writable) client.end(closeFrame(GOING_AWAY, 'proxy shutting down', false));
      if (upstream?.writable) upstream.end(closeFrame(GOING_AWAY, 'proxy shutting down', true));
      const force = setTimeout(() => {
        client.destroy();
        upstream?.destroy();
      }, 200);
      force.unref();
    }
    return n;
  }

  destroyAll(): void {
    for (const t of this.#tunnels.values()) {
      t.client.destroy();
      t.upstream?.destroy();
    }
  }
}
