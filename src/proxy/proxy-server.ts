/**
 * The proxy listener as the chart's `proxyServer` actor (invoked on `online`):
 * it serves until told otherwise and walks the drain timeline on command
 * (`PROXY.DRAIN` with a `DrainPhase`, machines/events.ts): delaying (every
 * answer says `Connection: close`), waiting (listener closed, idle keep-alive
 * sockets get a short grace, DRAINED the moment nothing is left), handedOver
 * (hot restart: the same, still forwarding to upstreams), cutting (destroy
 * the rest, count it, CUT_DONE).
 */
import http from 'node:http';
import net from 'node:net';
import { fromCallback } from 'xstate';
import type { LifecycleEvent, ProxyCommand } from '../../machines/events.js';
import { formatHostPort, parseHostPort } from '../config/host-port.js';
import type { Shared } from '../runtime.js';
import type { ReadonlyPeers } from '../routing/peer-table.js';
import type { RestartState } from '../restart/restart-state.js';
import type { InFlightTracker } from './in-flight-tracker.js';
import type { BreakerRegistry } from './breaker-registry.js';
import { defaultMaxConnections, enforceConnectionLimit, resolveConnectionLimit } from './connection-limit.js';
import type { ForwardEngine } from './forward-engine.js';
import { trustedProxyList } from './forwarding-headers.js';
import { MeshPeerHosts } from './mesh-peer-hosts.js';
import { refuseConnect } from './http-rules/connect-method.js';
import { isWebSocketUpgrade, serveAsPlainRequest } from './http-rules/plain-upgrade.js';
import { forwardRequest } from './request-forwarder.js';
import type { ProxyPhase } from './request-forwarder.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';
import { sendJson } from '../http/json-response.js';
import { createProxyListener, isHttp2Socket } from './tls/proxy-listener.js';
import { TargetPicker } from './target-picker.js';
import { WebSocketTunnels } from './websocket-tunnels.js';
import { resumeOptimisingCompiler } from '../startup-compiler.js';

/**
 * How long an idle kept-alive connection stays open after the listener
 * closes, so a request already on the wire is answered instead of reset
 * (closing at once makes clients race into resets: nodejs/node#60617).
 */
export const IDLE_GRACE_MS = 1_000;

interface Connection {
  socket: net.Socket;
  busy: number;
  graceTimer: NodeJS.Timeout | null;
}

/** What the proxy (and the worker pool in its place) is given: the tracker is its own, the rest it reads. */
export interface ProxyDeps extends Shared {
  readonly peers: ReadonlyPeers;
  /** Owned by the proxy: it counts and cuts what is in flight; others see an InFlightView. */
  readonly tracker: InFlightTracker;
  /** Inherited listener in a successor, the live one offered to the next. */
  readonly restart: RestartState;
}

export interface ProxyServerOptions {
  engine: () => ForwardEngine;
  breakers: BreakerRegistry;
  targetTimeoutMs: number;
  requestBodyTimeoutMs: number;
}

/**
 * How often Node checks the header deadline of connections (default 30 s,
 * which let a silent connection live up to 30 s past `--header-timeout`).
 */
export const HEADER_CHECK_INTERVAL_MS = 1_000;

/** A running proxy listener: commands in, and what stops it. */
export interface ProxyServerHandle {
  receive(cmd: ProxyCommand): void;
  stop(): void;
}

export function createProxyServerLogic(rt: ProxyDeps, opts: ProxyServerOptions) {
  return fromCallback<ProxyCommand>(({ sendBack, receive }) => {
    const proxy = startProxyServer(rt, opts, (e) => sendBack(e));
    receive((cmd) => proxy.receive(cmd));
    return () => proxy.stop();
  });
}

/**
 * The listener and its shutdown timeline, reporting to `send`: the chart's
 * `proxyServer` actor in a single process, or a worker process's IPC channel
 * (src/workers/worker-main.ts) with `--workers N`.
 */
export function startProxyServer(rt: ProxyDeps, opts: ProxyServerOptions, send: (e: LifecycleEvent) => void): ProxyServerHandle {
  {
    const log = rt.logger.child({ component: 'proxy' });
    const engine = opts.engine();
    /** The address bound, once listening: never forward to ourselves. */
    let boundAddress: string | null = null;
    const picker = new TargetPicker(rt.config.upstreams, rt.peers, opts.breakers, () => boundAddress);
    // Plain counts, read by prom-client at scrape (src/observability/metrics.ts).
    const count = rt.metrics.countRequest;

    let phase: ProxyPhase = 'serving';
    let shutdownAt: number | null = null;
    let drainDeadlineAt = Infinity;
    let reported = false;
    // Waiting or handed over (hot restart): the listener is closed or the successor's.
    const listenerGone = () => phase === 'waiting' || phase === 'handedOver';
    const connections = new Map<net.Socket, Connection>();

    const since = () => (shutdownAt === null ? null : Date.now() - shutdownAt);
    const graceMs = () => Math.max(0, Math.min(IDLE_GRACE_MS, drainDeadlineAt - Date.now() - 50));

    const maybeDrained = () => {
      if (!listenerGone() || reported) return;
      if (rt.tracker.count > 0 || connections.size > 0) return;
      reported = true;
      const drained = rt.tracker.completedSinceShutdown;
      log.info({ phase: 'drained', drained, inFlight: 0, sinceShutdownMs: since() }, 'drained: every request finished');
      send({ type: 'PROXY.DRAINED', drained });
    };

    /** After the listener closed, an idle socket waits out the grace, then closes. */
    const armGrace = (c: Connection) => {
      if (c.graceTimer || c.busy > 0) return;
      c.graceTimer = setTimeout(() => {
        c.graceTimer = null;
        if (c.busy === 0) c.socket.destroy();
      }, graceMs());
    };

    const trustedProxies = trustedProxyList(rt.config.trustedProxies);
    const meshPeers = new MeshPeerHosts(rt.peers);
    const tunnels = new WebSocketTunnels({
      nodeId: rt.config.nodeId,
      trustedProxies,
      meshPeers,
      picker,
      tracker: rt.tracker,
      logger: log,
      phase: () => phase,
      count,
      onSettled: maybeDrained,
    });

    const deps = {
      nodeId: rt.config.nodeId,
      engine,
      picker,
      breakers: opts.breakers,
      phase: () => phase,
      targetTimeoutMs: opts.targetTimeoutMs,
      requestBodyTimeoutMs: opts.requestBodyTimeoutMs,
      countLocalError: rt.metrics.countLocalError,
      // Every request fails alike while the fds are out: a line per 10 s is enough.
      localErrorLog: new RateLimitedLog(10_000),
      logger: log,
      trustedProxies,
      meshPeers,
    };

    // A connection must send its whole request head within --header-timeout
    // of being accepted (or of its previous request, when kept alive): Node
    // starts that clock at accept, so one that sends nothing is closed too
    // (with a 408) instead of holding an fd until the fd limit locks
    // everyone out. Idle kept-alive connections close after Node's 5 s.
    const listener = createProxyListener(
      rt,
      (req, res) => {
        // HTTP/2's `Connection: close`: the session's GOAWAY after this stream.
        if (phase !== 'serving' && listener.sessions) listener.sessions.goAwayAfter(req);
        // The tracker's intrusive list, not a Set (docs/performance.md: GC).
        const record = rt.tracker.beginRequest();
        const conn = connections.get(req.socket);
        if (conn) {
          conn.busy++;
          if (conn.graceTimer) (clearTimeout(conn.graceTimer), (conn.graceTimer = null));
        }
        res.once('close', () => {
          if (res.writableFinished) count(record.outcome ?? 'ok');
          else {
            count(record.cut ? 'cut' : record.outcome === 'upstream_aborted' ? 'upstream_aborted' : 'aborted');
            record.abortAttempt(record.cut ? 'cut' : 'client went away');
          }
          rt.tracker.endRequest(record);
          if (conn) {
            conn.busy--;
            // A keep-alive socket that outlived the listener gets the same grace.
            if (listenerGone() && conn.busy === 0 && !conn.socket.destroyed) armGrace(conn);
          }
          maybeDrained();
        });
        forwardRequest(deps, req, res, record).catch((error: unknown) => {
          log.error({ err: error }, 'request handling failed');
          sendJson(res, 502, { error: 'bad gateway' }, { closing: true });
        });
      },
      log,
      { headersTimeout: rt.config.headerTimeoutMs, connectionsCheckingInterval: HEADER_CHECK_INTERVAL_MS },
    );
    const server = listener.server;
    const limit = resolveConnectionLimit(rt.config.maxConnections);
    enforceConnectionLimit(server, limit, { logger: log, metrics: rt.metrics, open: () => connections.size + tunnels.open });
    // The first client lets V8's optimising compiler go (src/startup-compiler.ts).
    server.once(listener.connectionEvent, resumeOptimisingCompiler);
    server.on(listener.connectionEvent, (socket: net.Socket) => {
      // HTTP/2 streams are tracked per session (tls/http2-sessions.ts), not per socket.
      if (isHttp2Socket(socket)) return;
      const c: Connection = { socket, busy: 0, graceTimer: null };
      connections.set(socket, c);
      socket.once('close', () => {
        if (c.graceTimer) clearTimeout(c.graceTimer);
        connections.delete(socket);
        maybeDrained();
      });
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      // Any other upgrade offer (h2c…) is ignored and the request answered (RFC 9110 §7.8).
      if (!isWebSocketUpgrade(req)) return serveAsPlainRequest(server, req, socket, head);
      // Node hands the socket over: it is a tunnel now, not an HTTP connection.
      connections.delete(socket);
      tunnels.handleUpgrade(req, socket, head);
    });

    // No tunnels here: 501 rather than Node's bare close (RFC 9110 §9.1).
    server.on('connect', (_req: http.IncomingMessage, socket: net.Socket) => (count('not_implemented'), refuseConnect(socket)));

    const { host, port } = parseHostPort(rt.config.listen);
    // Before it is bound, an error is the bind's (exit 2). After, it can only
    // be an accept failing (EMFILE when the fds run out): that connection's
    // loss, logged, never a second 'error' with no listener.
    const acceptErrors = new RateLimitedLog(1_000);
    let bound = false;
    server.on('error', (e: NodeJS.ErrnoException) => {
      if (!bound) {
        const error = `proxy listener ${rt.config.listen}: ${e.code ?? e.message}`;
        // Said here, at error level, like the admin listener's refusal: the chart only records it.
        log.error({ error: e.code ?? e.message, address: rt.config.listen, code: e.code ?? null }, 'proxy listener cannot bind');
        send({ type: 'PROXY.FAILED', error });
        return;
      }
      acceptErrors.hit(e.code ?? 'error', (suppressed) =>
        log.warn({ code: e.code ?? null, err: e.message, suppressed }, 'proxy listener could not accept a connection'),
      );
    });
    const onListening = () => {
      const a = server.address() as net.AddressInfo;
      bound = true;
      boundAddress = formatHostPort({ host: a.address, port: a.port });
      log.info(
        {
          proxy: boundAddress,
          url: `${listener.scheme}://${boundAddress}/`,
          engine: engine.name,
          tls: listener.scheme === 'https',
          maxConnections: limit.maxConnections,
          maxConnectionsFrom: limit.source,
          fdSoftLimit: limit.fdSoftLimit,
          headerTimeoutMs: rt.config.headerTimeoutMs,
        },
        'proxy listening',
      );
      const room = defaultMaxConnections(limit.fdSoftLimit);
      if (limit.source === 'configured' && limit.maxConnections > room) {
        log.warn(
          { maxConnections: limit.maxConnections, fdSoftLimit: limit.fdSoftLimit, fitsFdLimit: room },
          '--max-connections is above what the fd limit leaves room for: the admin listener may be locked out when it is reached',
        );
      }
      send({ type: 'PROXY.LISTENING', address: boundAddress });
    };
    // Hot restart: serve on the listening socket the previous process passed
    // (no bind, so no connection is refused in between); register ours for the next.
    const inherited = rt.restart.inherited.proxy;
    if (inherited) server.listen(inherited, onListening);
    else server.listen(port, host, onListening);
    rt.restart.register('proxy', server);

    /**
     * Stops accepting without touching open connections: http.Server#close
     * would also close idle keep-alive sockets at once (Node ≥ 19), the race
     * the grace exists to avoid.
     */
    const closeListener = () => {
      if (server.listening) net.Server.prototype.close.call(server);
    };

    /** The drain starts with the first command; its deadline is the chart's, counted from then. */
    const startDrain = (drainDeadlineMs: number) => {
      if (shutdownAt !== null) return;
      shutdownAt = Date.now();
      drainDeadlineAt = shutdownAt + drainDeadlineMs;
      rt.tracker.shuttingDown = true;
    };

    const onCommand = (cmd: ProxyCommand) => {
      // REPLACE_WORKER is the worker pool's; a proxy serving in this process has none.
      if (cmd.type !== 'PROXY.DRAIN') return;
      startDrain(cmd.drainDeadlineMs);
      if (cmd.phase === 'delaying') {
        if (phase === 'serving') phase = 'delaying';
        const goaways = listener.sessions?.goAwayAll() ?? 0;
        if (goaways > 0) log.info({ phase: 'delaying', http2Sessions: goaways }, 'sent GOAWAY to every HTTP/2 session');
        log.info(
          { phase: 'delaying', inFlight: rt.tracker.count, connections: connections.size, sinceShutdownMs: since() },
          'shutdown started: answering with Connection: close',
        );
      } else if (cmd.phase === 'waiting') {
        if (phase === 'cutting') return;
        phase = 'waiting';
        closeListener();
        listener.sessions?.goAwayAll();
        let idle = 0;
        for (const c of connections.values()) if (c.busy === 0) (idle++, armGrace(c));
        log.info(
          { phase: 'waiting', inFlight: rt.tracker.count, idleConnections: idle, graceMs: graceMs(), sinceShutdownMs: since() },
          'listener closed: idle connections get a grace period',
        );
        maybeDrained();
      } else if (cmd.phase === 'handedOver') {
        if (phase === 'cutting') return;
        // The successor accepts on the same socket; open connections finish
        // here, to any target, every answer saying Connection: close so
        // kept-alive clients reconnect to the successor.
        phase = 'handedOver';
        closeListener();
        let idle = 0;
        for (const c of connections.values()) if (c.busy === 0) (idle++, armGrace(c));
        log.info(
          { phase: 'handedOver', inFlight: rt.tracker.count, idleConnections: idle, graceMs: graceMs() },
          'hot restart: listener handed over; finishing open connections here',
        );
        maybeDrained();
      } else if (cmd.phase === 'cutting') {
        if (phase === 'cutting') return;
        phase = 'cutting';
        closeListener();
        const drained = rt.tracker.completedSinceShutdown;
        const cutRequests = rt.tracker.requests;
        rt.tracker.forEachRequest((r) => (r.cut = true));
        const cutTunnels = tunnels.cutAll();
        listener.sessions?.destroyAll();
        for (const c of connections.values()) c.socket.destroy();
        const cut = cutRequests + cutTunnels;
        log.warn(
          { phase: 'cutting', cut, cutRequests, cutWebSockets: cutTunnels, drained, sinceShutdownMs: since() },
          'drain deadline: cut what was left',
        );
        reported = true;
        send({ type: 'PROXY.CUT_DONE', drained, cut });
      }
    };

    const stop = () => {
      closeListener();
      for (const c of connections.values()) c.socket.destroy();
      tunnels.destroyAll();
      listener.sessions?.destroyAll();
      void engine.close().catch(() => undefined);
    };
    return { receive: onCommand, stop };
  }
}
