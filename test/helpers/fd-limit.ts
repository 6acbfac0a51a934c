/**
 * A running daemon's open-files limit, read from /proc and changed with
 * util-linux `prlimit --pid` (a process may lower its children's soft limit,
 * and raise it again up to the hard one): how the tests make the node run out
 * of file descriptors at a chosen moment.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface FileLimit {
  soft: number;
  /** A number, or `unlimited`. */
  hard: string;
}

export function fileLimitOf(pid: number): FileLimit {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
  return { soft: Number(soft), hard: hard! };
}

export async function setSoftFileLimit(pid: number, soft: number, hard: string): Promise<void> {
  await execFileP('prlimit', ['--pid', String(pid), `--nofile=${soft}:${hard}`]);
}

/**
 * The limit that leaves exactly `free` descriptors to open: RLIMIT_NOFILE
 * bounds fd numbers, and a new fd takes the lowest free number, so the limit
 * is the (free + 1)-th free number (only the `free` before it lie below it).
 */
export function limitLeavingFree(pid: number, free: number): number {
  const used = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
  let seen = 0;
  for (let fd = 0; ; fd++) if (!used.has(fd) && ++seen === free + 1) return fd;
}
