/**
 * The contract of the SQLite state store (implemented in ./sqlite-store.ts).
 * Everything the node remembers across restarts goes through here.
 */
import type { PeerInfo } from '../../machines/events.js';
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
}

export interface TransitionRecord {
  at: number;
  event: { type: string; [k: string]: unknown };
  from: string;
  to: string;
}

export interface RunRecord {
  runId: number;
  startedAt: number;
  /** The machine's input, so replay starts where the run started. */
  input: { nodeId: string; drainTimeoutMs: number; shutdownDelayMs: number };
  transitions: TransitionRecord[];
}

export interface StateStore {
  readonly path: string;
  /** Starts a run and returns its id; transitions are recorded under it. */
  beginRun(input: RunRecord['input'], startedAt: number): number;
  recordTransition(runId: number, t: TransitionRecord): void;
  /** Writes peers and breakers (and, at shutdown, the shutdown record) in one transaction. */
  saveSnapshot(s: { nodeId: string; peers: PeerInfo[]; breakers: BreakerRecord[]; shutdown?: ShutdownRecord }): void;
  load(): SavedState | null;
  lastRun(): RunRecord | null;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string | null): void;
  close(): void;
}
