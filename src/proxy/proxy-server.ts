/**
 * The proxy listener as the chart's `proxyServer` actor (invoked on `online`):
 * it serves until told otherwise and walks the shutdown timeline on command —
 * SHUTDOWN_STARTED (every answer says `Connection: close`), STOP_ACCEPTING
 * (listener closed, idle keep-alive sockets get a short grace, DRAINED the
 * moment nothing is left), CUT (destroy the rest, count it, CUT_DONE).
 */
import http from 'node:http';
import net from 'node:net';
import { fromCallback } from 'xstate';
import { planShutdown } from '../../machines/budget.js';
import type { LifecycleEvent, ProxyCommand } from '../../machines/events.js';
import { formatHostPort, parseHostPort } from '../config/host-port.js';
import type { NodeRuntime } from '../runtime.js';
import type { CockatielBreakerRegistry } from './breaker-registry.js';
import { defaultMaxConnections, enforceConnectionLimit, resolveConnectionLimit } from './connection-limit.js';
import type { ForwardEngine } from './forward-engine.js';
import { trustedProxyList } from './forwarding-headers.js';
import { refuseConnect } from './http-rules/connect-method.js';
import { isWebSocketUpgrade, serveAsPlainRequest } from './http-rules/plain-upgrade.js';
import { forwardRequest } from './request-forwarder.js';
import type { ProxyPhase } from './request-forwarder.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { createProxyListener, isHttp2Socket } from './tls/proxy-listener.js';
import { TargetPicker } from './target-picker.js';
import { WebSocketTunnels } from './websocket-tunnels.js';

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

export interface ProxyServerOptions {
  engine: () => ForwardEngine;
  breakers: CockatielBreakerRegistry;
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

export function createProxyServerLogic(rt: NodeRuntime, opts: ProxyServerOptions) {
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
export function startProxyServer(rt: NodeRuntime, opts: ProxyServerOptions, send: (e: LifecycleEvent) => void): ProxyServerHandle {
  {
    const log = rt.logger.child({ component: 'proxy' });
    const engine = opts.engine();
    const picker = new TargetPicker(rt.config.upstreams, rt.peers, opts.breakers, () => rt.bound.proxy);
    // Plain counts, read by prom-client at scrape (src/admin/metrics.ts).
    const count = rt.metrics.countRequest;

    let phase: ProxyPhase = 'serving';
    let shutdownAt: number | null = null;
    let drainDeadlineAt = Infinity;
    let reported = false;
    // Hot restart: the successor accepts on the same socket; this process
    // finishes its connections (still forwarding to upstreams, unlike a drain).
    let handedOver = false;
    const listenerGone = () => phase === 'stopped' || handedOver;
    const connections = new Map<net.Socket, Connection>();

    const since = () => (shutdownAt === null ? null : Date.now() - shutdownAt);
    const graceMs = () => Math.max(0, Math.min(IDLE_GRACE_MS, drainDeadlineAt - Date.now() - 50));

    const maybeDrained = () => {
      if (!listenerGone() || reported) return;
      if (rt.tracker.count > 0 || connections.size > 0) return;
      reported = true;
      const drained = rt.tracker.completedSinceShutdown;
      log.info({ phase: 'drained', drained, inFlight: 0, sinceShutdownMs: since() }, `drained: ${drained} requests finished during shutdown, nothing left`);
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

    const tunnels = new WebSocketTunnels({
      nodeId: rt.config.nodeId,
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
      trustedProxies: trustedProxyList(rt.config.trustedProxies),
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
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json', connection: 'close' });
          res.end(JSON.stringify({ error: 'bad gateway' }));
        });
      },
      log,
      { headersTimeout: rt.config.headerTimeoutMs, connectionsCheckingInterval: HEADER_CHECK_INTERVAL_MS },
    );
    const server = listener.server;
    const limit = resolveConnectionLimit(rt.config.maxConnections);
    enforceConnectionLimit(server, limit, { logger: log, metrics: rt.metrics, open: () => connections.size + tunnels.open });
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
      rt.bound.proxy = formatHostPort({ host: a.address, port: a.port });
      log.info(
        {
          proxy: rt.bound.proxy,
          engine: engine.name,
          tls: listener.scheme === 'https',
          maxConnections: limit.maxConnections,
          maxConnectionsFrom: limit.source,
          fdSoftLimit: limit.fdSoftLimit,
          headerTimeoutMs: rt.config.headerTimeoutMs,
        },
        `proxy listening on ${listener.scheme}://${rt.bound.proxy}/ (engine ${engine.name})`,
      );
      const room = defaultMaxConnections(limit.fdSoftLimit);
      if (limit.source === 'configured' && limit.maxConnections > room) {
        log.warn(
          { maxConnections: limit.maxConnections, fdSoftLimit: limit.fdSoftLimit, fitsFdLimit: room },
          '--max-connections is above what the fd limit leaves room for: the admin listener may be locked out when it is reached',
        );
      }
      send({ type: 'PROXY.LISTENING', address: rt.bound.proxy });
    };
    // Hot restart: serve on the listening socket the previous process passed
    // (no bind, so no connection is refused in between); register ours for the next.
    const inherited = rt.restart?.inherited.proxy;
    if (inherited) server.listen(inherited, onListening);
    else server.listen(port, host, onListening);
    rt.restart?.register('proxy', server);

    /**
     * Stops accepting without touching open connections: http.Server#close
     * would also close idle keep-alive sockets at once (Node ≥ 19), the race
     * the grace exists to avoid.
     */
    const closeListener = () => {
      if (server.listening) net.Server.prototype.close.call(server);
    };

    const startShutdown = () => {
      if (shutdownAt !== null) return;
      shutdownAt = Date.now();
      drainDeadlineAt = shutdownAt + planShutdown(rt.config.drainTimeoutMs, rt.config.shutdownDelayMs).drainDeadlineMs;
      rt.tracker.shuttingDown = true;
    };

    const onCommand = (cmd: ProxyCommand) => {
      if (cmd.type === 'PROXY.SHUTDOWN_STARTED') {
        startShutdown();
        if (phase === 'serving') phase = 'closing';
        const goaways = listener.sessions?.goAwayAll() ?? 0;
        if (goaways > 0) log.info({ phase: 'shutdown-started', http2Sessions: goaways }, 'sent GOAWAY to every HTTP/2 session');
        log.info(
          { phase: 'shutdown-started', inFlight: rt.tracker.count, connections: connections.size, sinceShutdownMs: since() },
          `shutdown started: answering with Connection: close; ${rt.tracker.count} in flight`,
        );
      } else if (cmd.type === 'PROXY.STOP_ACCEPTING') {
        startShutdown();
        if (phase === 'cut') return;
        phase = 'stopped';
        closeListener();
        listener.sessions?.goAwayAll();
        let idle = 0;
        for (const c of connections.values()) if (c.busy === 0) (idle++, armGrace(c));
        log.info(
          { phase: 'stop-accepting', inFlight: rt.tracker.count, idleConnections: idle, graceMs: graceMs(), sinceShutdownMs: since() },
          `listener closed: ${rt.tracker.count} in flight, ${idle} idle connections get ${graceMs()} ms`,
        );
        maybeDrained();
      } else if (cmd.type === 'PROXY.HAND_OVER') {
        startShutdown();
        if (phase === 'cut') return;
        handedOver = true;
        // Every answer says Connection: close, so kept-alive clients reconnect to the successor.
        phase = 'closing';
        closeListener();
        let idle = 0;
        for (const c of connections.values()) if (c.busy === 0) (idle++, armGrace(c));
        log.info(
          { phase: 'handed-over', inFlight: rt.tracker.count, idleConnections: idle, graceMs: graceMs() },
          'hot restart: listener handed over; finishing open connections here',
        );
        maybeDrained();
      } else if (cmd.type === 'PROXY.CUT') {
        startShutdown();
        if (phase === 'cut') return;
        phase = 'cut';
        closeListener();
        const drained = rt.tracker.completedSinceShutdown;
        const cutRequests = rt.tracker.requests;
        rt.tracker.forEachRequest((r) => (r.cut = true));
        const cutTunnels = tunnels.cutAll();
        listener.sessions?.destroyAll();
        for (const c of connections.values()) c.socket.destroy();
        const cut = cutRequests + cutTunnels;
        log.warn(
          { phase: 'cut', cut, cutRequests, cutWebSockets: cutTunnels, drained, sinceShutdownMs: since() },
          `drain deadline: cut ${cut} (${cutRequests} requests, ${cutTunnels} websockets), ${drained} drained`,
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
