/**
 * `graceful-edge state [--data-dir DIR] [--json]`: prints the saved snapshot
 * without starting a node. The file is opened read-only and never changed —
 * not even a corrupt one (only a starting node moves that aside).
 */
import path from 'node:path';
import { STATE_FILE } from './open-store.js';
import { withSavedState } from './read-saved.js';
import type { SavedState } from './state-store.js';

/** The JSON of `graceful-edge state --json` (spec: interface.md). */
export interface StateJson {
  nodeId: string | null;
  savedAt: number | null;
  shutdownAt: number | null;
  peers: Array<{ address: string; meshPort: number; id: string | null; source: string; status: string; lastSeen: number | null }>;
  circuitBreakers: Array<{ target: string; state: string; updatedAt: number; data: unknown }>;
  shutdowns: Array<{ at: number; drained: number; cut: number; noticesSent: number | null; acked: number | null; signals: string[] }>;
  transitions: number;
}

export function stateJson(saved: SavedState): StateJson {
  return {
    nodeId: saved.nodeId,
    savedAt: saved.savedAt,
    shutdownAt: saved.shutdownAt,
    peers: saved.peers.map((p) => ({
      address: p.address,
      meshPort: p.meshPort,
      id: p.id,
      source: p.source,
      status: p.status,
      lastSeen: p.lastSeen,
    })),
    circuitBreakers: saved.breakers.map((b) => ({ target: b.target, state: b.state, updatedAt: b.updatedAt, data: b.data })),
    shutdowns: saved.shutdowns.map((s) => ({ ...s })),
    transitions: saved.transitions,
  };
}

/** Reads the saved state of `dataDir`; throws an Error whose message is ready for an operator. */
export function readState(dataDir: string, onSkipped?: (skipped: SavedState['skipped']) => void): StateJson {
  return withSavedState(dataDir, 'no saved state', (store, file) => {
    try {
      const saved = store.load();
      if (saved?.skipped) onSkipped?.(saved.skipped);
      if (saved) return stateJson(saved);
      // A run that was killed before its first snapshot: no snapshot, maybe transitions.
      return {
        nodeId: store.getMeta('node_id'),
        savedAt: null,
        shutdownAt: null,
        peers: [],
        circuitBreakers: [],
        shutdowns: [],
        transitions: store.lastRun()?.transitions.length ?? 0,
      };
    } catch (error) {
      throw new Error(`cannot read ${file}: ${(error as Error).message}`);
    }
  });
}

const time = (ms: number | null) => (ms === null ? '-' : `${new Date(ms).toISOString()} (${ms})`);

export function stateText(s: StateJson, file: string): string {
  const lines = [
    `state file   ${file}`,
    `node         ${s.nodeId ?? '-'}`,
    `saved at     ${s.savedAt === null ? 'no snapshot saved yet' : time(s.savedAt)}`,
    `shutdown at  ${s.shutdownAt === null ? 'none: the last run did not shut down gracefully' : time(s.shutdownAt)}`,
    `transitions  ${s.transitions} in the last run`,
    '',
    `peers (${s.peers.length})`,
    ...s.peers.map((p) => `  ${p.address}  mesh ${p.meshPort}  id ${p.id ?? '-'}  ${p.source}  ${p.status}  last seen ${time(p.lastSeen)}`),
    '',
    `circuit breakers (${s.circuitBreakers.length})`,
    ...s.circuitBreakers.map((b) => `  ${b.target}  ${b.state}  updated ${time(b.updatedAt)}`),
    '',
    `shutdowns (${s.shutdowns.length})`,
    ...s.shutdowns.map(
      (d) =>
        `  ${time(d.at)}  drained ${d.drained}  cut ${d.cut}  notices ${d.noticesSent ?? '-'} (acked ${d.acked ?? '-'})  signals ${d.signals.join(',') || '-'}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function printState(dataDir: string, json: boolean): number {
  // `state --json | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  let state: StateJson;
  let skipped: SavedState['skipped'];
  try {
    state = readState(dataDir, (s) => (skipped = s));
  } catch (error) {
    process.stderr.write(`graceful-edge state: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(json ? `${JSON.stringify(state, null, 2)}\n` : stateText(state, path.resolve(dataDir, STATE_FILE)));
  if (skipped) {
    // The rest was read and printed; what could not be is named, not fatal.
    process.stderr.write(`graceful-edge state: warning: ${skipped.count} saved row(s) not read (unreadable or beyond a limit):\n`);
    for (const r of skipped.rows) process.stderr.write(`  ${r.table} ${r.key}: ${r.reason}\n`);
  }
  return 0;
}
