/**
 * The messages between the primary (the node: chart, store, mesh, admin) and
 * its data-plane worker processes (`--workers N`) over the child_process IPC
 * channel. Plain data; the listening socket travels as the `sendHandle` of
 * `listen`.
 */
import type { LifecycleEvent, PeerInfo, ProxyCommand } from '../../machines/events.js';
import type { Config } from '../config/schema.js';
import type { BreakerRecord } from '../proxy/breaker-registry.js';

/** Set in a worker's environment: which slot it fills (1-based), for its log lines. */
export const WORKER_ENV = 'GRACEFUL_EDGE_WORKER';

/** What a worker needs of the config: everything the data plane reads (no mesh key). */
export type WorkerConfig = Omit<Config, 'meshKey'>;

export type ToWorker =
  /** First message: the config, the routing table and the breakers to start from. */
  | { type: 'w:init'; config: WorkerConfig; peers: PeerInfo[]; breakers: BreakerRecord[] }
  /** With the listening handle as sendHandle: serve on it. */
  | { type: 'w:listen' }
  /** A drain step from the chart (the same commands the in-process proxy gets). */
  | { type: 'w:command'; command: ProxyCommand }
  /** The primary's routing table changed. */
  | { type: 'w:peers'; peers: PeerInfo[] }
  /** The merge of every worker's breakers changed: take what is newer than this worker knows. */
  | { type: 'w:merged-breakers'; breakers: BreakerRecord[] }
  /** The node is done with this worker: stop everything and exit 0. */
  | { type: 'w:exit' };

/** Counters since the previous report, by label. */
export type CountDeltas = Record<string, number>;

export interface WorkerStats {
  inFlightRequests: number;
  inFlightWebSockets: number;
  /** Requests finished since the shutdown began (the drain's count). */
  completedSinceShutdown: number;
  /** Requests answered (every outcome) since the worker started. */
  requests: number;
  requestDeltas: CountDeltas;
  localErrorDeltas: CountDeltas;
  /** TLS handshakes refused, by reason (with --tls-cert). */
  tlsFailureDeltas: CountDeltas;
}

export type FromWorker =
  /** The worker's proxy reported to the chart: PROXY.LISTENING / FAILED / DRAINED / CUT_DONE. */
  | { type: 'w:event'; event: LifecycleEvent }
  /** Every 100 ms while anything changed. */
  | { type: 'w:stats'; stats: WorkerStats }
  /** A breaker changed state (or was made): the worker's whole set, for the primary's merge. */
  | { type: 'w:breakers'; breakers: BreakerRecord[] };

export function isWorkerMessage<T extends { type: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' && (value as { type: string }).type.startsWith('w:');
}
