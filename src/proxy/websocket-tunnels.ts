/**
 * WebSocket upgrades, tunnelled by http-proxy-3 whatever the HTTP engine.
 * Each tunnel counts as in-flight work from the upgrade request on (also
 * while the upstream has not answered yet); at the drain deadline every open
 * tunnel gets a proper close frame with code 1001 (Going Away) both ways, and
 * an upgrade still waiting for its upstream gets the draining 503.
 *
 * Whatever the client does to its socket (reset, close with unread data) is
 * that tunnel's end: http-proxy-3 re-emits client socket errors on the
 * ProxyServer, whose default handler throws when nobody listens — the
 * uncaught `read ECONNRESET` that shut nodes down (issue 11, item 1).
 *
 * http-proxy-3 is loaded on the first upgrade, not at start: a node that
 * never tunnels a WebSocket (the undici engine's usual run) never holds it
 * (docs/performance.md, "Memory"). Upgrades that arrive while it loads are
 * tracked (in flight, cut by the drain) from the start and wait for the one
 * shared load.
 *
 * An upgrade crosses the proxy under the same header rules as any request
 * (forwarding-headers.ts), the same refusals (http-rules/request-rules.ts)
 * and the same loop detection (http-rules/via.ts).
 */
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type net from 'node:net';
import type { BlockList } from 'node:net';
import type { ProxyServer } from 'http-proxy-3';
import type { Logger } from '../log/logger.js';
import type { InFlightTracker } from './in-flight-tracker.js';
import { redactTarget } from './error-responses.js';
import { writeRawJson } from '../http/json-response.js';
import { DRAINING_HEADER, HOP_HEADER, responseHeadersFrom, upgradeHeadersFor } from './forwarding-headers.js';
import { addDateIfMissing } from './http-rules/date-header.js';
import { refusalAtNode, refusalOutcome, refuseOnSocket } from './http-rules/request-rules.js';
import type { PeerAddressCheck } from './mesh-peer-hosts.js';
import type { ProxyPhase } from './request-forwarder.js';
import type { TargetPicker } from './target-picker.js';

const GOING_AWAY = 1001;

interface Tunnel {
  client: net.Socket;
  /** The upgrade request to the upstream, until it answers (or forever, if it never does). */
  proxyReq: http.ClientRequest | null;
  /** The upstream's socket once it answered 101. */
  upstream: net.Socket | null;
  target: string;
  /** Set by the cut: the upstream request's failure is ours, not the target's. */
  cut: boolean;
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
  #proxy: ProxyServer | null = null;
  #loading: Promise<ProxyServer> | null = null;
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
      /** `--trusted-proxy` addresses (null: none): their X-Forwarded-* / Forwarded are kept. */
      trustedProxies: BlockList | null;
      /** Mesh peers by address: an upgrade one forwarded (hop header) keeps its forwarding headers too. */
      meshPeers: PeerAddressCheck | null;
    },
  ) {}

  /** The ProxyServer, at once when loaded; otherwise the one load every waiting upgrade shares. */
  #server(): ProxyServer | Promise<ProxyServer> {
    if (this.#proxy) return this.#proxy;
    this.#loading ??= import('http-proxy-3').then(
      ({ ProxyServer: Server }) => (this.#proxy = this.#listen(new Server({ ws: true }))),
      (error: unknown) => {
        // Let a later upgrade try again; this one fails like an unreachable target.
        this.#loading = null;
        throw error;
      },
    );
    return this.#loading;
  }

  #listen(proxy: ProxyServer): ProxyServer {
    proxy.on('proxyReqWs', (proxyReq, req) => {
      const t = this.#tunnels.get(req);
      if (!t || t.client.destroyed) {
        // The client left before the request to the upstream was made.
        proxyReq.on('error', () => undefined);
        proxyReq.destroy();
        return;
      }
      t.proxyReq = proxyReq;
      // Runs before http-proxy-3's own listener writes the 101 from these headers.
      proxyReq.on('upgrade', (res: http.IncomingMessage, upstream: net.Socket) => {
        addDateIfMissing(res.headers);
        t.upstream = upstream;
        // A client that closed in the meantime gets no tunnel.
        if (t.client.destroyed) upstream.destroy();
      });
      // Not a WebSocket endpoint: http-proxy-3 relays this answer from its
      // headers, then closes. Its hop-by-hop fields are the origin's hop's,
      // and the client must hear that this connection ends (RFC 9110 §7.6.1).
      proxyReq.on('response', (res: http.IncomingMessage) => {
        res.headers = responseHeadersFrom(res.headers, true) as http.IncomingHttpHeaders;
        addDateIfMissing(res.headers);
      });
    });
    // Errors of the client's socket (and of an upstream with no callback):
    // the tunnel ends through its 'close'; counting happens there.
    proxy.on('error', (err, req) => {
      const t = this.#tunnels.get(req);
      this.deps.logger.debug(
        { target: t ? redactTarget(t.target) : null, code: (err as NodeJS.ErrnoException).code ?? null, err: (err as Error).message },
        'websocket connection error',
      );
    });
    return proxy;
  }

  get open(): number {
    return this.#tunnels.size;
  }

  handleUpgrade(req: http.IncomingMessage, duplex: Duplex, head: Buffer): void {
    const socket = duplex as net.Socket;
    // Before anything else, as for a plain request (request-forwarder.ts).
    const refusal = refusalAtNode(req, this.deps.nodeId);
    if (refusal) {
      socket.on('error', () => undefined);
      this.deps.count(refusalOutcome(refusal));
      return refuseOnSocket(socket, socket.remoteAddress, refusal, this.deps.logger);
    }
    const phase = this.deps.phase();
    if (phase === 'waiting' || phase === 'cutting') {
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
    const tunnel: Tunnel = { client: socket, proxyReq: null, upstream: null, target: target.key, cut: false };
    this.#tunnels.set(req, tunnel);
    let failed = false;
    socket.on('error', () => undefined);
    // Upgraded sockets are half-open capable: a client that sends FIN before
    // the upstream's 101 would otherwise stay in flight until the cut.
    socket.once('end', () => {
      if (!tunnel.upstream) socket.destroy();
    });
    socket.once('close', () => {
      this.#tunnels.delete(req);
      // An upgrade request still waiting on the upstream would hold a socket
      // (and the process, at exit) for as long as the upstream stays silent.
      if (!tunnel.upstream) tunnel.proxyReq?.destroy();
      // http-proxy-3 ends the upstream on a clean close only; after a reset, too.
      tunnel.upstream?.destroySoon();
      if (!failed) this.deps.count(this.#cutting ? 'cut' : 'websocket_closed');
      done();
      this.deps.onSettled();
    });
    const fail = (err: Error) => {
      // Our own doing: the client went away, or the cut answered already.
      if (tunnel.cut || socket.destroyed) return;
      failed = true;
      this.deps.count('bad_gateway');
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      this.deps.logger.warn({ target: redactTarget(target.key), code, err: err.message }, 'websocket upgrade failed');
      if (!tunnel.upstream) writeRawJson(socket, 502, 'Bad Gateway', { error: `bad gateway: ${code}` });
    };
    const tunnelWith = (proxy: ProxyServer) => {
      // Cut or gone while http-proxy-3 loaded: the tunnel has had its answer.
      if (tunnel.cut || socket.destroyed) return;
      // http-proxy-3's ws() builds the upstream request from
      // `{ ...req.headers, ...options.headers }` (common.setupOutgoing), so
      // its `headers` option can add and override but never drop a field the
      // client sent (Proxy-Authorization, a field Connection names), and its
      // `xfwd` appends to whatever X-Forwarded-* the client claimed. So the
      // request's headers are replaced by the rules' result, which ws() then
      // copies as they are; xfwd stays off. The tunnel needs nothing of the
      // client's own headers after this point.
      req.headers = upgradeHeadersFor(req, {
        toPeer: target.kind === 'peer',
        nodeId: this.deps.nodeId,
        encrypted: Boolean((socket as { encrypted?: boolean }).encrypted),
        trusted: this.deps.trustedProxies,
        meshPeers: this.deps.meshPeers,
      }) as http.IncomingHttpHeaders;
      proxy.ws(req, socket, head, { target: target.url }, (err) => fail(err as Error));
    };
    const server = this.#server();
    if (server instanceof Promise) server.then(tunnelWith, (error: unknown) => fail(error as Error));
    else tunnelWith(server);
  }

  /** Sends 1001 to both ends of every tunnel and closes them; returns how many. */
  cutAll(): number {
    this.#cutting = true;
    const n = this.#tunnels.size;
    for (const t of this.#tunnels.values()) {
      t.cut = true;
      const { client, upstream } = t;
      if (!upstream) {
        // Still waiting for the upstream's 101: the client has had no answer
        // yet, so it gets the draining 503 like any request; the upstream
        // request is dropped (a silent upstream held the exit for minutes).
        t.proxyReq?.destroy();
        writeRawJson(client, 503, 'Service Unavailable', { error: 'this node is shutting down', retry: true }, {
          'retry-after': '1',
          [DRAINING_HEADER]: '1',
        });
      } else {
        // Stop relaying first so the close frame never lands inside a relayed frame.
        upstream.unpipe(client);
        client.unpipe(upstream);
        if (client.writable) client.end(closeFrame(GOING_AWAY, 'proxy shutting down', false));
        if (upstream.writable) upstream.end(closeFrame(GOING_AWAY, 'proxy shutting down', true));
      }
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
      t.cut = true;
      t.client.destroy();
      t.proxyReq?.destroy();
      t.upstream?.destroy();
    }
  }
}
