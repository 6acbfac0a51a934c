/** The JSON of `GET /state`: what an operator asks a live node. */
import type { NodeRuntime } from '../runtime.js';

export function stateView(rt: NodeRuntime) {
  const snap = rt.lifecycle.snapshot();
  const ctx = snap?.context;
  const now = Date.now();
  const shutdown =
    ctx && ctx.shutdownAt !== null
      ? {
          startedAt: ctx.shutdownAt,
          signals: ctx.signals,
          budgetMs: ctx.budgetMs,
          elapsedMs: now - ctx.shutdownAt,
          drainDeadlineAt: ctx.shutdownAt + ctx.drainDeadlineMs,
          exitDeadlineAt: ctx.shutdownAt + ctx.budgetMs,
          remainingMs: Math.max(0, ctx.shutdownAt + ctx.budgetMs - now),
          drainSkipped: ctx.drainSkipped,
          drain: ctx.drain,
          deregister: ctx.deregister,
        }
      : null;
  return {
    nodeId: rt.config.nodeId,
    // The process answering; runId changes at every start and hot restart.
    pid: process.pid,
    runId: rt.store?.currentRunId ?? null,
    restarts: rt.restart?.restarts ?? 0,
    workers: [{ pid: process.pid, inFlight: rt.tracker.count }],
    lifecycle: rt.lifecycle.label(),
    lifecycleStates: rt.lifecycle.names(),
    inFlight: rt.tracker.count,
    inFlightRequests: rt.tracker.requests,
    inFlightWebSockets: rt.tracker.websockets,
    peers: rt.peers.list(),
    circuitBreakers: rt.breakers.list(),
    upstreams: rt.config.upstreams,
    listen: { proxy: rt.bound.proxy, admin: rt.bound.admin, mesh: rt.bound.mesh },
    startedAt: rt.lifecycle.startedAt,
    restored: ctx?.restored ?? null,
    snapshots: ctx ? { saved: ctx.snapshotsSaved, failed: ctx.snapshotFailures } : null,
    shutdown,
    lastError: ctx?.lastError ?? null,
    discovery: rt.discovery ?? { mdns: null },
    registry: rt.registry ?? null,
  };
}
