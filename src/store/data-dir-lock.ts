/**
 * One node per data dir. Two nodes writing snapshots into the same state.db
 * would silently overwrite each other's peers and shutdown history, so the
 * second one refuses to start. A lock left by a crashed node (its pid is
 * gone) is taken over. Read-only commands (`state`, `replay`) take no lock.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'node.lock';

/** Start-up stops (exit 2): another node holds the data dir. */
export class DataDirLockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirLockError';
  }
}

export interface DataDirLock {
  readonly path: string;
  /** The pid of a crashed holder whose lock was taken over, if any. */
  readonly tookOverFrom: number | null;
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else — still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * `takeoverFrom`: a hot-restart successor takes the lock of the live process
 * that spawned it (that one no longer removes it at exit: it is not its pid).
 */
export function lockDataDir(dir: string, takeoverFrom: number | null = null): DataDirLock {
  const file = path.join(dir, LOCK_FILE);
  let tookOverFrom: number | null = null;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new DataDirLockError(`data dir ${dir} cannot be locked (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      const holder = holderOf(file);
      if (holder !== null && holder === takeoverFrom) {
        writeFileSync(file, `${process.pid}\n`);
        tookOverFrom = holder;
        break;
      }
      if (holder !== null && holder !== process.pid && isAlive(holder)) {
        throw new DataDirLockError(`data dir ${dir} is in use by another graceful-edge node (pid ${holder}, ${file})`);
      }
      if (holder !== process.pid) tookOverFrom = holder;
      rmSync(file, { force: true });
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (holderOf(file) === process.pid) rmSync(file, { force: true });
  };
  // Also on paths that never reach the store's close (fatal errors, exit()).
  process.once('exit', release);
  return { path: file, tookOverFrom, release };
}

/**
 * A hot restart failed after the successor took the lock: the process that
 * still serves writes its pid back (the successor's exit removed or left it).
 */
export function reclaimDataDirLock(dir: string): void {
  writeFileSync(path.join(dir, LOCK_FILE), `${process.pid}\n`);
}
