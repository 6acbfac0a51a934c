/**
 * The vocabulary between the lifecycle chart and the services it invokes.
 * Everything here is plain data (JSON-serialisable) so that events can be
 * recorded in SQLite and replayed through the pure machine.
 */

export type PeerSource = 'static' | 'mdns' | 'etcd' | 'restored';
export type PeerStatus = 'alive' | 'suspect' | 'left';

/** A mesh peer as the chart and the routing table know it. */
export interface PeerInfo {
  /** The peer's proxy `host:port` — its identity in the routing table. */
  address: string;
  meshPort: number;
  id: string | null;
  source: PeerSource;
  status: PeerStatus;
  lastSeen: number | null;
}

/** What `restoring` found on disk; the data itself goes to the routing table. */
export interface RestoreSummary {
  fresh: boolean;
  /** Why the node starts fresh (no file, corrupt file moved aside, …). */
  reason: string | null;
  peers: number;
  breakers: number;
  lastShutdownAt: number | null;
  savedAt: number | null;
}

/** What the final drain achieved, reported by the proxy actor. */
export interface DrainOutcome {
  drained: number;
  cut: number;
}

/** What deregistering achieved (mDNS goodbye, leave notices, etcd lease). */
export interface DeregisterOutcome {
  goodbyeSent: boolean;
  noticesSent: number;
  acked: number;
  leaseRevoked: boolean | null;
}

/** A successor that took over this node (hot restart). */
export interface SuccessorInfo {
  pid: number;
  runId: number | null;
}

/** A circuit breaker as saved and restored: the library's state as plain data. */
export interface BreakerRecord {
  /** A proxy target: an upstream origin URL or a peer's `host:port`. */
  target: string;
  state: 'closed' | 'open' | 'half-open' | 'isolated';
  /** The library's own serialised state (cockatiel's `toJSON()`). */
  data: unknown;
  updatedAt: number;
}

/** The part of a saved snapshot that restoring reads. */
export interface SavedSnapshot {
  nodeId: string;
  savedAt: number;
  /** Null when that run did not shut down gracefully. */
  shutdownAt: number | null;
  peers: PeerInfo[];
  breakers: BreakerRecord[];
}

/**
 * Actor outputs keep bulk data the chart only hands on under `payload`: the
 * transition record drops it (a snapshot can hold thousands of peers), and
 * replay never needs it because no guard or assign reads it.
 */
export interface StartupOutput {
  /** Set when the state file could not be used and was moved aside. */
  movedAside: string | null;
  /** The etcd lease id the last run left in the store (revoked by the registrar), if any. */
  etcdLeaseId: string | null;
  /** What the file held before this run touched it: `restoreSnapshot`'s input. */
  payload: RestoreInput;
}

export interface RestoreInput {
  saved: SavedSnapshot | null;
  /** Why there is nothing to restore, when the file was moved aside. */
  freshReason: string | null;
}

/** What `restoreSnapshot` returns: the summary the chart keeps, the data it applies. */
export interface RestoreOutput {
  summary: RestoreSummary;
  payload: RestoredState;
}

/** Peers and breakers to put into the routing table and breaker registry (`applyRestored`). */
export interface RestoredState {
  peers: PeerInfo[];
  breakers: BreakerRecord[];
}

/** Events sent into the chart from outside (signals) or by invoked actors. */
export type LifecycleEvent =
  | { type: 'SHUTDOWN'; signal: string; at: number }
  /** Hot restart asked for (SIGHUP): hand the node over to a fresh process. */
  | { type: 'RESTART'; signal: string; at: number }
  /** The successor serves on the passed listeners and took the data dir. */
  | { type: 'RESTART.READY'; pid: number; runId: number | null }
  /** The successor could not start; this process keeps serving. */
  | { type: 'RESTART.FAILED'; error: string }
  /** The proxy listener is bound: `online.binding` ends, serving begins. */
  | { type: 'PROXY.LISTENING'; address: string }
  | { type: 'PROXY.DRAINED'; drained: number }
  | { type: 'PROXY.CUT_DONE'; drained: number; cut: number }
  | { type: 'PROXY.FAILED'; error: string }
  /**
   * `--workers N`: a data-plane worker process exited unasked; what it had in
   * flight is lost. `slot` (1..N) is the place it held, `uptimeMs` how long
   * it lived: the chart's replacement back-off (worker-backoff.ts) reads both.
   * `startError`: the process could not even be forked (EAGAIN, EMFILE…);
   * then `pid` is 0 and it lived 0 ms, so the slot backs off like a crash loop.
   */
  | { type: 'WORKER.EXITED'; pid: number; slot: number; uptimeMs: number; code: number | null; signal: string | null; inFlight: number; startError?: string }
  | { type: 'ADMIN.FAILED'; error: string }
  /** The admin listener is bound (for /state and a successor's READY). */
  | { type: 'ADMIN.LISTENING'; address: string }
  /** The mesh UDP socket is bound (the port peers are told). */
  | { type: 'MESH.LISTENING'; port: number }
  | { type: 'PEER.FOUND'; peer: PeerInfo }
  | { type: 'PEER.LEFT'; address: string; reason: string }
  | { type: 'PEER.STATUS'; address: string; status: PeerStatus }
  /** The registrar's current etcd lease id (null once revoked), to be kept in the store for the next start. */
  | { type: 'REGISTRY.LEASE'; leaseId: string | null }
  | { type: 'SNAPSHOT.SAVED'; at: number }
  | { type: 'SNAPSHOT.FAILED'; error: string; attempt: number };

/**
 * The drain timeline, in one vocabulary used alike by the chart's state
 * names, the proxy's commands and own phase, the `phase` field of its log
 * lines, and the docs:
 *   serving    accepting, answering normally
 *   delaying   (--shutdown-delay) still accepting; every answer says `Connection: close`
 *   waiting    listener closed; open requests finish, late ones go to peers or get the draining 503
 *   handedOver (hot restart) listener passed to the successor; open requests finish, to any target
 *   cutting    the drain deadline (or a second signal): what is left is destroyed
 *   drained    nothing left in flight (the proxy's DRAINED / CUT_DONE)
 */
export type DrainPhase = 'serving' | 'delaying' | 'waiting' | 'handedOver' | 'cutting' | 'drained';

/**
 * The one command the chart sends the proxy actor (`sendTo('proxy', …)`):
 * enter this phase. `drainDeadlineMs` is the chart's own deadline, counted
 * from the drain's start (the first command), so the proxy never recomputes it.
 */
export interface ProxyDrainCommand {
  type: 'PROXY.DRAIN';
  phase: Exclude<DrainPhase, 'serving' | 'drained'>;
  drainDeadlineMs: number;
}

/**
 * `--workers N`: start a worker in `slot` in place of `pid` (WORKER.EXITED),
 * after `delayMs` (the chart's back-off; 0: at once). A drain cancels a
 * replacement still waiting.
 */
export interface ProxyReplaceWorkerCommand {
  type: 'PROXY.REPLACE_WORKER';
  pid: number;
  slot: number;
  delayMs: number;
}

/** Commands to the proxy actor: a drain phase, or replace a worker. */
export type ProxyCommand = ProxyDrainCommand | ProxyReplaceWorkerCommand;

/**
 * Events the chart sends to the mesh socket (`sendTo('mesh', …)`): whether
 * this node serves, so a prober's ping is answered only then, and the proxy
 * address its messages name.
 */
export type MeshCommand = { type: 'MESH.SERVING'; proxyAddress: string } | { type: 'MESH.NOT_SERVING' };
