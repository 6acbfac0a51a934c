/**
 * Reads the last recorded run of a data dir, read-only (the store's own
 * read-only open: the file and its dir are never changed).
 */
import { withSavedState } from '../store/read-saved.js';
import type { RunRecord } from '../store/state-store.js';

/** Reads `<dataDir>/state.db`'s last run; throws an Error whose message is ready for an operator. */
export function readLastRun(dataDir: string): RunRecord {
  return withSavedState(dataDir, 'nothing to replay', (store, file) => {
    const run = store.lastRun();
    if (!run) throw new Error(`nothing to replay: ${file} holds no recorded run`);
    if (run.transitions.length === 0) throw new Error(`nothing to replay: run ${run.runId} in ${file} recorded no transitions`);
    return run;
  });
}
