/**
 * The contract of the SQLite state store (implemented in ./sqlite-store.ts).
 * Everything the node remembers across restarts goes through here.
 */
import type { PeerInfo } from '../../machines/events.js';
import type { LifecycleInput } from '../../machines/lifecycle.js';
import type { BreakerRecord } from '../proxy/breaker-registry.js';

export interface ShutdownRecord {
  at: number;
  drained: number;
  cut: number;
  /** Leave notices sent / acknowledged (null when the mesh is off). */
  noticesSent: number | null;
  acked: number | null;
  signals: string[];
}

/** A saved row that could not be read or was beyond a limit: not restored, reported. */
export interface SkippedRow {
  table: 'peers' | 'breakers' | 'shutdowns' | 'snapshot';
  /** The row's key, cut to a loggable length. */
  key: string;
  reason: string;
}

export interface SavedState {
  nodeId: string;
  savedAt: number;
  /** Null when the last run did not shut down gracefully. */
  shutdownAt: number | null;
  peers: PeerInfo[];
  breakers: BreakerRecord[];
  shutdowns: ShutdownRecord[];
  /** Transitions recorded in the last run. */
  transitions: number;
  /**
   * Rows not restored (unreadable, too large, beyond the peer/breaker caps);
   * present only when there are some. The first MAX_SKIPPED_LISTED are named.
   */
  skipped?: { count: number; rows: SkippedRow[] };
}

/** What a run started with: the part of the chart's input that replay needs. */
export type RunInput = Pick<LifecycleInput, 'nodeId' | 'drainTimeoutMs' | 'shutdownDelayMs'>;

export interface TransitionRecord {
  at: number;
  event: { type: string; [k: string]: unknown };
  from: string;
  to: string;
}

/** How a run started when it took over from another (hot restart). */
export interface RunTakeover {
  previousRunId: number | null;
  kind: 'hot-restart';
}

export interface RunRecord {
  runId: number;
  startedAt: number;
  /** The machine's input, so replay starts where the run started. */
  input: RunInput;
  transitions: TransitionRecord[];
}

/** One snapshot: everything the node remembers, written in one transaction. */
export interface SnapshotInput {
  nodeId: string;
  peers: PeerInfo[];
  breakers: BreakerRecord[];
  /** Present only at a graceful shutdown; its `at` becomes the snapshot's `shutdownAt`. */
  shutdown?: ShutdownRecord;
  /** Defaults to now. */
  savedAt?: number;
}

export interface SnapshotResult {
  savedAt: number;
  /** Increases with every snapshot; every saved row carries it. */
  generation: number;
  peers: number;
  breakers: number;
}

export interface StateStore {
  readonly path: string;
  /** The run begun by this process, or null before `beginRun`. */
  readonly currentRunId: number | null;
  /**
   * Starts a run and returns its id; transitions are recorded under it. Also
   * clears the saved `shutdownAt`: until this run shuts down gracefully, the
   * file says the last run did not. `takeover`: this run is a hot-restart
   * successor of `previousRunId`.
   */
  beginRun(input: RunRecord['input'], startedAt: number, takeover?: RunTakeover): number;
  recordTransition(runId: number, t: TransitionRecord): void;
  /**
   * Replaces peers and breakers (and, at shutdown, adds the shutdown record and
   * sets `shutdownAt`) in one transaction: a crash leaves the previous snapshot
   * or this one, never a mix. Without `shutdown`, `shutdownAt` reads null.
   */
  saveSnapshot(s: SnapshotInput): SnapshotResult;
  /** The last snapshot, or null when none was saved yet. Throws if it is inconsistent. */
  load(): SavedState | null;
  /** The most recent run with its transitions in order (the input of replay). */
  lastRun(): RunRecord | null;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string | null): void;
  close(): void;
}
