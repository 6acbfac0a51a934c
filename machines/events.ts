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

export interface StartupOutput {
  /** Set when the state file could not be used and was moved aside. */
  movedAside: string | null;
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
  | { type: 'PROXY.LISTENING'; address: string }
  | { type: 'PROXY.DRAINED'; drained: number }
  | { type: 'PROXY.CUT_DONE'; drained: number; cut: number }
  | { type: 'PROXY.FAILED'; error: string }
  /** `--workers N`: a data-plane worker process exited unasked; what it had in flight is lost. */
  | { type: 'WORKER.EXITED'; pid: number; code: number | null; signal: string | null; inFlight: number }
  | { type: 'ADMIN.FAILED'; error: string }
  | { type: 'PEER.FOUND'; peer: PeerInfo }
  | { type: 'PEER.LEFT'; address: string; reason: string }
  | { type: 'PEER.STATUS'; address: string; status: PeerStatus }
  | { type: 'SNAPSHOT.SAVED'; at: number }
  | { type: 'SNAPSHOT.FAILED'; error: string; attempt: number };

/** Events the chart sends to the proxy actor (`sendTo('proxy', …)`). */
export type ProxyCommand =
  | { type: 'PROXY.SHUTDOWN_STARTED' }
  | { type: 'PROXY.STOP_ACCEPTING' }
  /** Hot restart: the successor accepts now; stop accepting, finish what is open (upstreams still used). */
  | { type: 'PROXY.HAND_OVER' }
  | { type: 'PROXY.CUT' }
  /** `--workers N`: start a worker in place of the one that exited (WORKER.EXITED). */
  | { type: 'PROXY.REPLACE_WORKER'; pid: number };
