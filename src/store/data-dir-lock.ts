/**
 * One node per data dir. Two nodes writing snapshots into the same state.db
 * would silently overwrite each other's peers and shutdown history, so the
 * second one refuses to start. A lock left by a crashed node (its pid is
 * gone) is taken over. Read-only commands (`state`, `replay`) take no lock.
 *
 * The lock holds two lines: the pid and that process's start time (field 22
 * of `/proc/PID/stat`, clock ticks since boot). Pids are reused: after a
 * crash and a reboot or a busy day, the recorded pid may belong to an
 * unrelated live process. A different start time proves it is not the
 * holder, so the lock is stale and taken over (with a warning).
 */
import { lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  /** True when that pid was alive but another process (pid reused). */
  readonly pidReused: boolean;
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

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or null off Linux / gone. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[22 - 3];
    return start && /^\d+$/.test(start) ? start : null;
  } catch {
    return null;
  }
}

function commandLineOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

interface Holder {
  pid: number;
  /** Null in a lock written by an older build (pid only). */
  startTime: string | null;
}

function holderOf(file: string): Holder | null {
  try {
    const [pidLine, startLine] = readFileSync(file, 'utf8').split('\n');
    const pid = Number.parseInt((pidLine ?? '').trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    const start = (startLine ?? '').trim();
    return { pid, startTime: /^\d+$/.test(start) ? start : null };
  } catch {
    return null;
  }
}

/**
 * Whether the recorded holder is still running: its pid is alive and, when
 * the lock recorded a start time and /proc can tell, it is the same process.
 */
function holderRunning(holder: Holder): { running: boolean; reused: boolean } {
  if (!isAlive(holder.pid)) return { running: false, reused: false };
  if (holder.startTime === null) {
    // A lock of an older build (pid only): the best evidence is the command
    // line; a live pid that is not a node/graceful-edge process is a reused one.
    const cmd = commandLineOf(holder.pid);
    return cmd === null || /node|graceful-edge/.test(cmd) ? { running: true, reused: false } : { running: false, reused: true };
  }
  const now = processStartTime(holder.pid);
  if (now !== null && now !== holder.startTime) return { running: false, reused: true };
  return { running: true, reused: false };
}

/** Refuses a lock path that is a symbolic link: it could point anywhere. */
function refuseSymlink(file: string): void {
  try {
    if (lstatSync(file).isSymbolicLink()) {
      throw new DataDirLockError(`lock file ${file} is a symbolic link; refusing it (state files must be regular files in the data dir)`);
    }
  } catch (error) {
    if (error instanceof DataDirLockError) throw error;
    // ENOENT: nothing there yet, fine.
  }
}

/**
 * `takeoverFrom`: a hot-restart successor takes the lock of the live process
 * that spawned it (that one no longer removes it at exit: it is not its pid).
 */
export function lockDataDir(dir: string, takeoverFrom: number | null = null): DataDirLock {
  const file = path.join(dir, LOCK_FILE);
  let tookOverFrom: number | null = null;
  let pidReused = false;
  refuseSymlink(file);
  const content = `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, content, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new DataDirLockError(`data dir ${dir} cannot be locked (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      const holder = holderOf(file);
      if (holder !== null && holder.pid === takeoverFrom) {
        writeFileSync(file, content);
        tookOverFrom = holder.pid;
        break;
      }
      if (holder !== null && holder.pid !== process.pid) {
        const { running, reused } = holderRunning(holder);
        if (running) {
          throw new DataDirLockError(`data dir ${dir} is in use by another graceful-edge node (pid ${holder.pid}, ${file})`);
        }
        pidReused = reused;
      }
      if (holder?.pid !== process.pid) tookOverFrom = holder?.pid ?? null;
      rmSync(file, { force: true });
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (holderOf(file)?.pid === process.pid) rmSync(file, { force: true });
  };
  // Also on paths that never reach the store's close (fatal errors, exit()).
  process.once('exit', release);
  return { path: file, tookOverFrom, pidReused, release };
}

/**
 * A hot restart failed after the successor took the lock: the process that
 * still serves writes its pid back (the successor's exit removed or left it).
 */
export function reclaimDataDirLock(dir: string): void {
  writeFileSync(path.join(dir, LOCK_FILE), `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`);
}
