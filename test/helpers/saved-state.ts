/**
 * What a data dir remembers, read the operator's way: `graceful-edge state
 * --json` through the real CLI. The shape is the spec's
 * (/work/shared/spec/interface.md), written here rather than imported.
 */
import { expect } from 'vitest';
import { runCli } from './daemon.js';

export interface SavedState {
  nodeId: string;
  savedAt: number | null;
  /** Null when the last run did not shut down gracefully. */
  shutdownAt: number | null;
  peers: Array<{ address: string; meshPort: number; id: string | null; source: string; status: string }>;
  circuitBreakers: Array<{ target: string; state: string }>;
  shutdowns: Array<{ at: number; drained: number; cut: number; signals: string[]; noticesSent?: number | null; acked?: number | null }>;
  transitions: number;
}

/** `state --data-dir DIR --json`; asserts it succeeded (exit 0, nothing on stderr). */
export async function savedState(dataDir: string): Promise<SavedState> {
  const r = await runCli(['state', '--data-dir', dataDir, '--json']);
  expect(r.stderr, `state --json on ${dataDir}`).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as SavedState;
}
