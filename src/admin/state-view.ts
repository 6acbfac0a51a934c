/** The JSON of `GET /state`: what an operator asks a live node. */
import type { NodeRuntime } from '../runtime.js';
import { eventStreamStats } from './event-stream-stats.js';

/**
 * `peers` is paged (`?limit=&offset=`): a mesh of thousands of remembered
 * peers must not make every `/state` a multi-megabyte answer. The default
 * page holds every peer of any ordinary mesh; `peersPage.total` says how many
 * there are.
 */
export const DEFAULT_PEERS_LIMIT = 1_000;
export const MAX_PEERS_LIMIT = 10_000;

export interface PeersPage {
  offset: number;
  limit: number;
}

/** Reads `limit` and `offset` from a query; a string naming the bad one when invalid. */
export function peersPageOf(query: URLSearchParams): PeersPage | string {
  const read = (name: string, fallback: number, max: number): number | string => {
    const raw = query.get(name);
    if (raw === null || raw === '') return fallback;
    const n = Number(raw);
    return /^\d+$/.test(raw) && n <= max ? n : `${name} must be an integer from 0 to ${max}`;
  };
  const limit = read('limit', DEFAULT_PEERS_LIMIT, MAX_PEERS_LIMIT);
  if (typeof limit === 'string') return limit;
  const offset = read('offset', 0, Number.MAX_SAFE_INTEGER);
  if (typeof offset === 'string') return offset;
  return { limit, offset };
}

/** The processes serving the proxy: the workers with `--workers N`, else this one. */
function workerList(rt: NodeRuntime): Array<{ pid: number; inFlight: number; requests: number }> {
  return rt.workers?.() ?? [{ pid: process.pid, inFlight: rt.tracker.count, requests: requestsAnswered(rt) }];
}

/** Requests answered by this process (every outcome), as a worker reports its own. */
function requestsAnswered(rt: NodeRuntime): number {
  let n = 0;
  for (const [, count] of rt.metrics.requestCounts.entries()) n += count;
  return n;
}

export function stateView(rt: NodeRuntime, page: PeersPage = { offset: 0, limit: DEFAULT_PEERS_LIMIT }) {
  const allPeers = rt.peers.list();
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
    // The interface's shape; what each answered is beside it (an operator's check that every worker serves).
    workers: workerList(rt).map(({ pid, inFlight }) => ({ pid, inFlight })),
    workerRequests: workerList(rt).map(({ pid, requests }) => ({ pid, requests })),
    lifecycle: rt.lifecycle.label(),
    lifecycleStates: rt.lifecycle.names(),
    inFlight: rt.tracker.count,
    inFlightRequests: rt.tracker.requests,
    inFlightWebSockets: rt.tracker.websockets,
    peers: allPeers.slice(page.offset, page.offset + page.limit),
    peersPage: { total: allPeers.length, offset: page.offset, limit: page.limit },
    circuitBreakers: rt.breakers.list(),
    upstreams: rt.config.upstreams,
    listen: { proxy: ctx?.proxyAddress ?? null, admin: ctx?.adminAddress ?? null, mesh: ctx?.meshPort ?? null },
    startedAt: rt.lifecycle.startedAt,
    restored: ctx?.restored ?? null,
    snapshots: ctx ? { saved: ctx.snapshotsSaved, failed: ctx.snapshotFailures } : null,
    shutdown,
    lastError: ctx?.lastError ?? null,
    discovery: rt.discovery ?? { mdns: null },
    registry: rt.registry ?? null,
    eventStreams: { open: eventStreamStats.open, slowDisconnected: eventStreamStats.slowDisconnected },
  };
}
