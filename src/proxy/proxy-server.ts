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
import type { ForwardEngine } from './forward-engine.js';
import { forwardRequest } from './request-forwarder.js';
import type { ProxyPhase, RequestRecord } from './request-forwarder.js';
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
}

export function createProxyServerLogic(rt: NodeRuntime, opts: ProxyServerOptions) {
  return fromCallback<ProxyCommand>(({ sendBack, receive }) => {
    const log = rt.logger.child({ component: 'proxy' });
    const send = (e: LifecycleEvent) => sendBack(e);
    const engine = opts.engine();
    const picker = new TargetPicker(rt.config.upstreams, rt.peers, opts.breakers, () => rt.bound.proxy);
    // One prom-client child per outcome, made on first use: inc({ outcome })
    // would hash the label set on every request.
    const outcomeCounters = new Map<string, { inc: () => void }>();
    const count = (outcome: string) => {
      let c = outcomeCounters.get(outcome);
      if (!c) outcomeCounters.set(outcome, (c = rt.metrics.requests.labels(outcome)));
      c.inc();
    };

    let phase: ProxyPhase = 'serving';
    let shutdownAt: number | null = null;
    let drainDeadlineAt = Infinity;
    let reported = false;
    // Hot restart: the successor accepts on the same socket; this process
    // finishes its connections (still forwarding to upstreams, unlike a drain).
    let handedOver = false;
    const listenerGone = () => phase === 'stopped' || handedOver;
    const connections = new Map<net.Socket, Connection>();
    const requests = new Set<RequestRecord>();

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
      logger: log,
    };

    const server = http.createServer((req, res) => {
      const done = rt.tracker.begin();
      const record: RequestRecord = { outcome: null, cut: false, abortAttempt: null };
      requests.add(record);
      const conn = connections.get(req.socket);
      if (conn) {
        conn.busy++;
        if (conn.graceTimer) (clearTimeout(conn.graceTimer), (conn.graceTimer = null));
      }
      res.once('close', () => {
        requests.delete(record);
        if (res.writableFinished) count(record.outcome ?? 'ok');
        else {
          count(record.cut ? 'cut' : record.outcome === 'upstream_aborted' ? 'upstream_aborted' : 'aborted');
          record.abortAttempt?.(record.cut ? 'cut' : 'client went away');
        }
        done();
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
    });
    server.on('connection', (socket: net.Socket) => {
      const c: Connection = { socket, busy: 0, graceTimer: null };
      connections.set(socket, c);
      socket.once('close', () => {
        if (c.graceTimer) clearTimeout(c.graceTimer);
        connections.delete(socket);
        maybeDrained();
      });
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      // Node hands the socket over: it is a tunnel now, not an HTTP connection.
      connections.delete(socket);
      tunnels.handleUpgrade(req, socket, head);
    });

    const { host, port } = parseHostPort(rt.config.listen);
    server.once('error', (e: NodeJS.ErrnoException) =>
      send({ type: 'PROXY.FAILED', error: `proxy listener ${rt.config.listen}: ${e.code ?? e.message}` }),
    );
    const onListening = () => {
      const a = server.address() as net.AddressInfo;
      rt.bound.proxy = formatHostPort({ host: a.address, port: a.port });
      log.info({ proxy: rt.bound.proxy, engine: engine.name }, `proxy listening on http://${rt.bound.proxy}/ (engine ${engine.name})`);
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

    receive((cmd) => {
      if (cmd.type === 'PROXY.SHUTDOWN_STARTED') {
        startShutdown();
        if (phase === 'serving') phase = 'closing';
        log.info(
          { phase: 'shutdown-started', inFlight: rt.tracker.count, connections: connections.size, sinceShutdownMs: since() },
          `shutdown started: answering with Connection: close; ${rt.tracker.count} in flight`,
        );
      } else if (cmd.type === 'PROXY.STOP_ACCEPTING') {
        startShutdown();
        if (phase === 'cut') return;
        phase = 'stopped';
        closeListener();
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
        for (const r of requests) r.cut = true;
        const cutTunnels = tunnels.cutAll();
        for (const c of connections.values()) c.socket.destroy();
        const cut = cutRequests + cutTunnels;
        log.warn(
          { phase: 'cut', cut, cutRequests, cutWebSockets: cutTunnels, drained, sinceShutdownMs: since() },
          `drain deadline: cut ${cut} (${cutRequests} requests, ${cutTunnels} websockets), ${drained} drained`,
        );
        reported = true;
        send({ type: 'PROXY.CUT_DONE', drained, cut });
      }
    });

    return () => {
      closeListener();
      for (const c of connections.values()) c.socket.destroy();
      tunnels.destroyAll();
      void engine.close().catch(() => undefined);
    };
  });
}
