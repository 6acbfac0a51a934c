/** The JSON of `GET /state`: what an operator asks a live node. */
import type { AdminContext } from './node-status.js';
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
function workerList(admin: AdminContext): Array<{ pid: number; inFlight: number; requests: number }> {
  return admin.status.workers() ?? [{ pid: process.pid, inFlight: admin.status.inFlight.count, requests: requestsAnswered(admin) }];
}

/** Requests answered by this process (every outcome), as a worker reports its own. */
function requestsAnswered(admin: AdminContext): number {
  let n = 0;
  for (const [, count] of admin.metrics.requestCounts.entries()) n += count;
  return n;
}

export function stateView(admin: AdminContext, page: PeersPage = { offset: 0, limit: DEFAULT_PEERS_LIMIT }) {
  const allPeers = admin.status.peers.list();
  const snap = admin.status.lifecycle.snapshot();
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
    nodeId: admin.config.nodeId,
    // The process answering; runId changes at every start and hot restart.
    pid: process.pid,
    runId: admin.status.runId(),
    restarts: admin.status.restarts,
    // The interface's shape; what each answered is beside it (an operator's check that every worker serves).
    workers: workerList(admin).map(({ pid, inFlight }) => ({ pid, inFlight })),
    workerRequests: workerList(admin).map(({ pid, requests }) => ({ pid, requests })),
    // A slot whose worker keeps dying waits before it is refilled (machines/worker-backoff.ts).
    workersRestarting: admin.status.workersRestarting(),
    lifecycle: admin.status.lifecycle.label(),
    lifecycleStates: admin.status.lifecycle.names(),
    inFlight: admin.status.inFlight.count,
    inFlightRequests: admin.status.inFlight.requests,
    inFlightWebSockets: admin.status.inFlight.websockets,
    peers: allPeers.slice(page.offset, page.offset + page.limit),
    peersPage: { total: allPeers.length, offset: page.offset, limit: page.limit },
    circuitBreakers: admin.status.breakers.list(),
    upstreams: admin.config.upstreams,
    listen: { proxy: ctx?.proxyAddress ?? null, admin: ctx?.adminAddress ?? null, mesh: ctx?.meshPort ?? null },
    startedAt: admin.status.lifecycle.startedAt,
    restored: ctx?.restored ?? null,
    snapshots: ctx ? { saved: ctx.snapshotsSaved, failed: ctx.snapshotFailures } : null,
    shutdown,
    lastError: ctx?.lastError ?? null,
    discovery: admin.status.discovery,
    registry: admin.status.registry,
    eventStreams: { open: eventStreamStats.open, slowDisconnected: eventStreamStats.slowDisconnected },
  };
}
