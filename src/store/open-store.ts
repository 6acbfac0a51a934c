/**
 * Start-up of the store: the data dir must be a writable directory (else the
 * node refuses to start), and a `state.db` the node cannot use — corrupt,
 * truncated, not a database, another program's, from a newer schema — is
 * moved aside (never deleted) so the node starts fresh and the operator can
 * still look at it.
 */
import { closeSync, constants, copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ForeignDatabaseError, NewerSchemaError } from './migrations.js';
import { SqliteStateStore, validateStateFile } from './sqlite-store.js';
import { lockDataDir } from './data-dir-lock.js';
import type { DataDirLock } from './data-dir-lock.js';

export const STATE_FILE = 'state.db';
/** SQLite's companion files, moved together with the database. */
const COMPANIONS = ['-wal', '-shm', '-journal'] as const;

/** The node cannot use its data dir: start-up stops (exit 2). */
export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirError';
  }
}

const codeOf = (error: unknown): string => String((error as { code?: unknown }).code ?? '');

/** Creates the dir if needed and proves it writable by writing a probe file. */
export function ensureWritableDataDir(dir: string): string {
  const abs = path.resolve(dir);
  try {
    mkdirSync(abs, { recursive: true });
  } catch (error) {
    if (codeOf(error) !== 'EEXIST') {
      throw new DataDirError(`data dir ${abs} cannot be created (${codeOf(error) || (error as Error).message})`);
    }
  }
  if (!statSync(abs).isDirectory()) throw new DataDirError(`data dir ${abs} is not a directory`);
  // access(W_OK) is not enough: it says yes to root on a read-only mount's
  // files in some setups and knows nothing of immutable dirs. Writing is proof.
  const probe = path.join(abs, `.write-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
  } catch (error) {
    throw new DataDirError(`data dir ${abs} is not writable (${codeOf(error) || (error as Error).message})`);
  } finally {
    rmSync(probe, { force: true });
  }
  return abs;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * What is wrong with the file before SQLite sees it: not a regular file, or
 * not starting with SQLite's header. Garbage is then moved aside with its
 * companions exactly as they were (SQLite rewrites the -shm index even when
 * reading). An empty file is a new database to SQLite, and fine.
 */
function shapeProblem(file: string): string | null {
  const st = statSync(file);
  if (!st.isFile()) return 'not a regular file';
  if (st.size === 0) return null;
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  const fd = openSync(file, 'r');
  try {
    const n = readSync(fd, head, 0, head.length, 0);
    return n < head.length || !head.equals(SQLITE_MAGIC) ? 'not a SQLite database (no SQLite header)' : null;
  } finally {
    closeSync(fd);
  }
}

class UnusableFileError extends Error {}

/** Why a state file cannot be used, or null when the error is not about the file's content. */
export function unusableReason(error: unknown): string | null {
  if (error instanceof UnusableFileError || error instanceof NewerSchemaError || error instanceof ForeignDatabaseError) {
    return error.message;
  }
  const code = codeOf(error);
  const message = (error as Error).message;
  if (code === 'SQLITE_NOTADB') return `not a SQLite database (${message})`;
  if (code.startsWith('SQLITE_CORRUPT')) return `corrupt (${message})`;
  if (code === 'SQLITE_CANTOPEN') return `cannot be opened (${message})`;
  if (code === 'SQLITE_IOERR_SHORT_READ' || code === 'SQLITE_IOERR_READ') return `unreadable (${message})`;
  return null;
}

function asideName(file: string, now: number, kind = 'corrupt'): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let target = `${file}.${kind}-${stamp}`;
  for (let i = 1; existsSync(target); i++) target = `${file}.${kind}-${stamp}-${i}`;
  return target;
}

/**
 * Some saved rows could not be restored (unreadable, or beyond a limit) and
 * the node's first snapshot would replace them: keep a copy of the whole file
 * first, `<file>.unread-<time>`. The WAL is checkpointed into the file, then
 * the file is copied as it is (the kernel's copy: a 100 MB file takes a
 * fraction of `VACUUM INTO`'s time, and start-up waits for it). We hold the
 * data dir lock, so nobody writes in between. Returns its path.
 */
export function keepUnreadCopy(store: SqliteStateStore, now = Date.now()): string {
  const target = asideName(store.path, now, 'unread');
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  copyFileSync(store.path, target, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  return target;
}

/**
 * The file opened but its saved state cannot be loaded at all (e.g. an
 * inconsistent snapshot): it is closed, moved aside like a corrupt file
 * (never overwritten by the first snapshot) and a fresh one is opened.
 */
export function replaceUnloadable(store: SqliteStateStore, now = Date.now()): { store: SqliteStateStore; movedAside: string } {
  const file = store.path;
  store.close();
  const movedAside = moveAside(file, now);
  try {
    return { store: SqliteStateStore.open(file, { check: false }), movedAside };
  } catch (error) {
    throw new DataDirError(`state file ${file} cannot be opened: ${(error as Error).message}`);
  }
}

/** Moves `file` and its -wal/-shm/-journal to `<file>.corrupt-<time>`; returns the new path. */
export function moveAside(file: string, now = Date.now()): string {
  const target = asideName(file, now);
  renameSync(file, target);
  for (const suffix of COMPANIONS) {
    if (existsSync(file + suffix)) renameSync(file + suffix, target + suffix);
  }
  return target;
}

export interface OpenedStore {
  store: SqliteStateStore;
  /** Where an unusable state file went, or null. */
  movedAside: string | null;
  /** Why it was unusable. */
  reason: string | null;
  /** Held until the process exits. */
  lock: DataDirLock;
}

/**
 * Opens `<dataDir>/state.db` for the daemon. An existing file is judged first
 * through a read-only connection, so an unusable one is moved aside exactly as
 * it was (a read-write open would checkpoint or delete its WAL on close).
 */
export function openStateStore(dataDir: string, now = Date.now(), takeoverFrom: number | null = null): OpenedStore {
  const dir = ensureWritableDataDir(dataDir);
  // Before the file is looked at: a second node must not move aside or write
  // the first one's state.
  const lock = lockDataDir(dir, takeoverFrom);
  try {
    return { ...openLocked(dir, now), lock };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * State files must be regular files in the data dir. A symbolic link (even a
 * dangling one: `existsSync` says "no file" and SQLite would create the
 * database wherever it points) is refused, not followed: start-up stops with
 * exit 2 and one line naming it. The data dir itself may be a link.
 */
export function refuseSymlinks(file: string): void {
  for (const candidate of [file, ...COMPANIONS.map((suffix) => file + suffix)]) {
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch {
      continue; // ENOENT
    }
    if (isLink) {
      throw new DataDirError(`state file ${candidate} is a symbolic link; refusing it (state files must be regular files in the data dir)`);
    }
  }
}

function openLocked(dir: string, now: number): Omit<OpenedStore, 'lock'> {
  const file = path.join(dir, STATE_FILE);
  refuseSymlinks(file);
  let movedAside: string | null = null;
  let reason: string | null = null;
  if (existsSync(file)) {
    try {
      const problem = shapeProblem(file);
      if (problem) throw new UnusableFileError(problem);
      validateStateFile(file);
    } catch (error) {
      reason = unusableReason(error);
      if (reason === null) throw new DataDirError(`state file ${file} cannot be opened: ${(error as Error).message}`);
      try {
        movedAside = moveAside(file, now);
      } catch (moveError) {
        throw new DataDirError(`state file ${file} is ${reason} and could not be moved aside (${codeOf(moveError)})`);
      }
    }
  }
  try {
    return { store: SqliteStateStore.open(file, { check: false }), movedAside, reason };
  } catch (error) {
    throw new DataDirError(`state file ${file} cannot be opened: ${(error as Error).message}`);
  }
}
