/** What a snapshot of the running node holds, read from the runtime the chart owns. */
import type { NodeRuntime } from '../runtime.js';
import type { ShutdownRecord, SnapshotInput } from './state-store.js';

export function snapshotOf(rt: NodeRuntime, shutdown?: ShutdownRecord): SnapshotInput {
  return {
    nodeId: rt.config.nodeId,
    peers: rt.peers.list(),
    breakers: rt.breakers.exportAll(),
    ...(shutdown ? { shutdown } : {}),
  };
}
