/**
 * Read-only access to a data dir's state file for commands that must never
 * change it (`state`, `replay`) — not even a corrupt file, which only a
 * starting node moves aside. Errors carry a message ready for an operator.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { STATE_FILE, unusableReason } from './open-store.js';
import { OlderSchemaError, SqliteStateStore } from './sqlite-store.js';

/**
 * Opens `<dataDir>/state.db` read-only, runs `read`, closes it.
 * `nothing` prefixes the message when there is no file to read
 * (e.g. "no saved state", "nothing to replay").
 */
export function withSavedState<T>(dataDir: string, nothing: string, read: (store: SqliteStateStore, file: string) => T): T {
  const file = path.resolve(dataDir, STATE_FILE);
  if (!existsSync(file)) throw new Error(`${nothing}: ${file} does not exist`);
  let store: SqliteStateStore;
  try {
    store = SqliteStateStore.open(file, { readonly: true });
  } catch (error) {
    if (error instanceof OlderSchemaError) throw new Error(`${nothing}: ${file} ${error.message}`);
    throw new Error(`cannot read ${file}: ${unusableReason(error) ?? (error as Error).message}`);
  }
  try {
    return read(store, file);
  } finally {
    store.close();
  }
}
