/**
 * `graceful-edge restart [--data-dir DIR]`: sends SIGHUP to the node that
 * holds the data dir's lock. Exit 0 when signalled, 1 when no node runs there.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LOCK_FILE } from '../store/data-dir-lock.js';

export function restartCommand(dataDir: string, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`), err: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  const file = path.join(path.resolve(dataDir), LOCK_FILE);
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  } catch (error) {
    err(`graceful-edge restart: no node holds ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    return 1;
  }
  if (!Number.isInteger(pid) || pid <= 0) {
    err(`graceful-edge restart: ${file} holds no pid`);
    return 1;
  }
  try {
    process.kill(pid, 'SIGHUP');
  } catch (error) {
    err(`graceful-edge restart: cannot signal pid ${pid} from ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    return 1;
  }
  out(`sent SIGHUP to pid ${pid}: hot restart requested (the node's log says how it went)`);
  return 0;
}
