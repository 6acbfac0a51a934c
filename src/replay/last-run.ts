/**
 * Reads the last recorded run of a data dir, read-only (the store's own
 * read-only open: the file and its dir are never changed).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { STATE_FILE, unusableReason } from '../store/open-store.js';
import { OlderSchemaError, SqliteStateStore } from '../store/sqlite-store.js';
import type { RunRecord } from '../store/state-store.js';

/** Reads `<dataDir>/state.db`'s last run; throws an Error whose message is ready for an operator. */
export function readLastRun(dataDir: string): RunRecord {
  const file = path.resolve(dataDir, STATE_FILE);
  if (!existsSync(file)) throw new Error(`nothing to replay: ${file} does not exist`);
  let store: SqliteStateStore;
  try {
    store = SqliteStateStore.open(file, { readonly: true });
  } catch (error) {
    if (error instanceof OlderSchemaError) throw new Error(`nothing to replay: ${file} ${error.message}`);
    throw new Error(`cannot read ${file}: ${unusableReason(error) ?? (error as Error).message}`);
  }
  try {
    const run = store.lastRun();
    if (!run) throw new Error(`nothing to replay: ${file} holds no recorded run`);
    if (run.transitions.length === 0) throw new Error(`nothing to replay: run ${run.runId} in ${file} recorded no transitions`);
    return run;
  } finally {
    store.close();
  }
}
