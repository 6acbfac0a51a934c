/** Store area: open, restore, snapshot, persist. PLACEHOLDER until the SQLite store lands. */
import { mkdirSync } from 'node:fs';
import { fromCallback, fromPromise } from 'xstate';
import type { RestoreSummary, StartupOutput } from '../../machines/events.js';
import type { PersistInput } from '../../machines/lifecycle.js';
import type { NodeRuntime } from '../runtime.js';
import type { AreaProvision } from '../lifecycle/provided.js';

export function createStoreArea(rt: NodeRuntime): AreaProvision {
  return {
    actors: {
      prepare: fromPromise<StartupOutput>(async () => {
        mkdirSync(rt.config.dataDir, { recursive: true });
        return { movedAside: null };
      }),
      restoreSnapshot: fromPromise<RestoreSummary>(async () => ({
        fresh: true,
        reason: 'no store yet',
        peers: 0,
        breakers: 0,
        lastShutdownAt: null,
        savedAt: null,
      })),
      snapshotTimer: fromCallback(() => undefined),
      persistFinal: fromPromise<void, PersistInput>(async () => undefined),
    },
  };
}
