/** Pure parts of hot restart: the takeover marker, the lock handover, the restart command, the runs table. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockError, lockDataDir, reclaimDataDirLock } from '../../src/store/data-dir-lock.js';
import { SqliteStateStore } from '../../src/store/sqlite-store.js';
import { parseTakeover, TakeoverError } from '../../src/restart/takeover.js';
import { restartCommand } from '../../src/restart/restart-command.js';
import { RestartState } from '../../src/restart/restart-state.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'ge-restart-unit-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('takeover marker', () => {
  it('is absent on a cold start, parsed when set, refused when malformed', () => {
    expect(parseTakeover(undefined)).toBeNull();
    expect(parseTakeover('{"fromPid":12,"previousRunId":3,"restarts":2}')).toEqual({ fromPid: 12, previousRunId: 3, restarts: 2 });
    expect(parseTakeover('{"fromPid":12,"restarts":1}')).toEqual({ fromPid: 12, previousRunId: null, restarts: 1 });
    expect(() => parseTakeover('{"restarts":1}')).toThrow(TakeoverError);
  });

  it('counts restarts from the takeover; release runs every hook once and keeps going past a failing one', () => {
    expect(new RestartState().restarts).toBe(0);
    const r = new RestartState({ fromPid: 1, previousRunId: 1, restarts: 4 });
    expect(r.restarts).toBe(4);
    const calls: string[] = [];
    r.onRelease(() => calls.push('a'));
    r.onRelease(() => {
      throw new Error('boom');
    });
    const off = r.onRelease(() => calls.push('c'));
    off();
    const errors: unknown[] = [];
    r.release((e) => errors.push(e));
    expect(calls).toEqual(['a']);
    expect(errors).toHaveLength(1);
    expect(r.released).toBe(true);
  });
});

describe('data dir lock handover', () => {
  it('a successor takes the lock of the live pid that spawned it; any other live holder still refuses', () => {
    const d = tmp();
    const file = path.join(d, 'node.lock');
    // The test runner's parent is alive and is not this process.
    writeFileSync(file, `${process.ppid}\n`);
    expect(() => lockDataDir(d)).toThrow(DataDirLockError);
    const lock = lockDataDir(d, process.ppid);
    expect(lock.tookOverFrom).toBe(process.ppid);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(String(process.pid));
    lock.release();
  });

  it('a failed restart takes the lock back', () => {
    const d = tmp();
    writeFileSync(path.join(d, 'node.lock'), '999999\n');
    reclaimDataDirLock(d);
    expect(readFileSync(path.join(d, 'node.lock'), 'utf8').split('\n')[0]).toBe(String(process.pid));
  });
});

describe('graceful-edge restart', () => {
  it('exits 1 with one line when no node holds the data dir, or the holder is gone', () => {
    const d = tmp();
    const err: string[] = [];
    expect(restartCommand(d, () => undefined, (l) => err.push(l))).toBe(1);
    expect(err[0]).toMatch(/no node holds .*node\.lock \(ENOENT\)/);
    writeFileSync(path.join(d, 'node.lock'), '2147483646\n');
    expect(restartCommand(d, () => undefined, (l) => err.push(l))).toBe(1);
    expect(err[1]).toMatch(/cannot signal pid 2147483646 .*\(ESRCH\)/);
  });
});

describe('runs table', () => {
  it('records the run a hot restart took over from', () => {
    const d = tmp();
    const store = SqliteStateStore.open(path.join(d, 'state.db'));
    const input = { nodeId: 'n', drainTimeoutMs: 1000, shutdownDelayMs: 0 };
    const first = store.beginRun(input, 1);
    const second = store.beginRun(input, 2, { previousRunId: first, kind: 'hot-restart' });
    expect(store.currentRunId).toBe(second);
    const rows = store.db.prepare('SELECT run_id, previous_run_id, takeover FROM runs ORDER BY run_id').all();
    expect(rows).toEqual([
      { run_id: first, previous_run_id: null, takeover: null },
      { run_id: second, previous_run_id: first, takeover: 'hot-restart' },
    ]);
    store.close();
  });
});
