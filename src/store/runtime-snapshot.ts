/** What a snapshot of the running node holds, read from the runtime the chart owns, and its saving. */
import type { NodeRuntime } from '../runtime.js';
import type { ShutdownRecord, SnapshotInput, SnapshotResult } from './state-store.js';

export function snapshotOf(rt: NodeRuntime, shutdown?: ShutdownRecord): SnapshotInput {
  return {
    nodeId: rt.config.nodeId,
    peers: rt.peers.list(),
    breakers: rt.breakers.exportAll(),
    ...(shutdown ? { shutdown } : {}),
  };
}

/** Saves a snapshot now and counts it; throws what the store throws (the caller reports it). */
export function saveSnapshot(rt: NodeRuntime, shutdown?: ShutdownRecord): { saved: SnapshotResult; tookMs: number } {
  const store = rt.store;
  if (!store) throw new Error('the state store is not open');
  const started = performance.now();
  const saved = store.saveSnapshot(snapshotOf(rt, shutdown));
  rt.metrics.snapshots.inc({ result: 'saved' });
  return { saved, tookMs: Math.round((performance.now() - started) * 10) / 10 };
}
