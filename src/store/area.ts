/**
 * Store area: the chart's `prepare` (data dir + open `state.db`),
 * `restoreSnapshot`, `snapshotTimer` and `persistFinal` actors. What prepare
 * read is its output, which the chart hands to restore as input; restore
 * returns what comes back and the chart applies it.
 */
import { fromPromise } from 'xstate';
import { errorMessage } from '../../machines/error-message.js';
import type { RestoreInput, RestoreOutput, StartupOutput } from '../../machines/events.js';
import type { PersistInput } from '../../machines/lifecycle.js';
import type { Shared } from '../runtime.js';
import type { RestartState } from '../restart/restart-state.js';
import type { AreaProvision } from '../areas/provision.js';
import { keepUnreadCopy, openStateStore, replaceUnloadable } from './open-store.js';
import { restoreFrom } from './restore.js';
import { LEASE_META_KEY } from '../registry/registry-status.js';
import { StoreRun, type SnapshotSource } from './store-run.js';
import { createSnapshotTimer } from './snapshot-timer.js';
import type { SavedState, ShutdownRecord } from './state-store.js';

/** The shutdown record of a graceful stop; null when there was no signal (e.g. the proxy could not bind). */
export function shutdownRecordOf(input: PersistInput): ShutdownRecord | null {
  if (input.shutdownAt === null) return null;
  return {
    at: input.shutdownAt,
    // No drain outcome: the proxy never reported one (it could not bind, or did not answer the cut).
    drained: input.drain?.drained ?? 0,
    cut: input.drain?.cut ?? 0,
    noticesSent: input.deregister ? input.deregister.noticesSent : null,
    acked: input.deregister ? input.deregister.acked : null,
    signals: input.signals,
  };
}

/**
 * `snapshot` reads the peers and breakers through their owners' read-only
 * views; the returned `run` is the open store as others may use it.
 */
export function createStoreArea(rt: Shared, restart: RestartState, snapshot: SnapshotSource): AreaProvision & { run: StoreRun } {
  const run = new StoreRun(rt.metrics, snapshot);
  const prepare = fromPromise<StartupOutput>(async () => {
    const takeoverFrom = restart.takeover?.fromPid ?? null;
    const opened = openStateStore(rt.config.dataDir, Date.now(), takeoverFrom);
    if (opened.lock.tookOverFrom !== null && opened.lock.tookOverFrom === takeoverFrom) {
      rt.logger.info({ lock: opened.lock.path, previousPid: takeoverFrom }, 'hot restart: data dir lock taken over from the previous process');
    } else if (opened.lock.tookOverFrom !== null) {
      rt.logger.warn(
        { lock: opened.lock.path, previousPid: opened.lock.tookOverFrom, pidReused: opened.lock.pidReused },
        opened.lock.pidReused
          ? 'data dir lock taken over: its pid now belongs to another process (start time differs)'
          : 'data dir lock taken over from a process no longer running',
      );
    }
    let freshReason: string | null = null;
    let store = opened.store;
    let movedAside = opened.movedAside;
    if (opened.movedAside) {
      freshReason = `state file was ${opened.reason}; moved aside to ${opened.movedAside}`;
      rt.logger.warn(
        { movedAside: opened.movedAside, reason: opened.reason, stateFile: store.path },
        'state file unusable: moved aside, starting fresh',
      );
    }
    let saved: SavedState | null = null;
    try {
      saved = store.load();
    } catch (error) {
      // Opens, but its saved state cannot be used at all: never let the first
      // snapshot overwrite it — move it aside like a corrupt file.
      const reason = `its saved state cannot be loaded (${(error as Error).message})`;
      const replaced = replaceUnloadable(store);
      store = replaced.store;
      movedAside = replaced.movedAside;
      freshReason = `state file ${reason}; moved aside to ${replaced.movedAside}`;
      rt.logger.warn(
        { movedAside: replaced.movedAside, reason, stateFile: store.path },
        'state file unusable: moved aside, starting fresh',
      );
    }
    if (saved?.skipped) {
      // What could not be read stays readable: a copy before the first snapshot replaces those rows.
      const copy = keepUnreadCopy(store);
      store.dropUnreadableShutdowns();
      rt.logger.warn(
        { skipped: saved.skipped.count, rows: saved.skipped.rows, copy, stateFile: store.path },
        'saved rows not restored (unreadable or beyond a limit); the file as it was is kept',
      );
    }
    run.opened(store);
    let etcdLeaseId: string | null = null;
    try {
      etcdLeaseId = rt.config.etcd.length > 0 ? store.getMeta(LEASE_META_KEY) : null;
    } catch (error) {
      rt.logger.warn({ component: 'etcd', error: errorMessage(error) }, 'cannot read the last etcd lease id');
    }
    // What the file held before this run touched it (a new run clears its shutdownAt).
    return { movedAside, etcdLeaseId, payload: { saved, freshReason } };
  });

  // The chart turns a rejection into "start fresh and say why".
  const restoreSnapshot = fromPromise<RestoreOutput, RestoreInput>(async ({ input }) =>
    // A hot-restart successor restores what its predecessor saved a moment
    // ago, peer statuses included: peers alive then are not probed again.
    restoreFrom(
      { logger: rt.logger, dataDir: rt.config.dataDir, selfAddress: rt.config.listen },
      input.saved,
      input.freshReason,
      Date.now(),
      restart.takeover != null,
    ),
  );

  const persistFinal = fromPromise<void, PersistInput>(async ({ input }) => {
    const shutdown = shutdownRecordOf(input);
    const { saved, tookMs } = run.save(shutdown ?? undefined);
    rt.logger.info(
      { ...saved, shutdown, tookMs, ...(input.successor ? { successorPid: input.successor.pid } : {}) },
      input.successor
        ? 'state saved; handed over to the successor (hot restart, not a shutdown)'
        : shutdown
        ? 'state saved with the shutdown record'
        : 'state saved (no graceful shutdown to record)',
    );
  });

  return {
    actors: {
      prepare,
      restoreSnapshot,
      snapshotTimer: createSnapshotTimer(rt, run),
      persistFinal,
    },
    run,
  };
}
