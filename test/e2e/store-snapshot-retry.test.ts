/**
 * A periodic snapshot that fails is reported (one error line per attempt,
 * counted in /metrics) and retried with a growing delay; once the file is
 * writable again, saving resumes and the node still stops cleanly. The
 * failure is real: another process holds the database's write lock.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminState, metricsText } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';

const { nodes, cleanups } = testScope();

describe('periodic snapshot failures', () => {
  it('are reported, retried with backoff, and recover', async () => {
    const dataDir = cleanups.tempDir('ge-retry-');
    const n = await startNode({ dataDir, args: ['--snapshot-interval', '0.1', '--peer', '127.0.0.1:9', '--log-level', 'debug'] });
    nodes.push(n);
    await n.waitForLog((l) => l.msg === 'snapshot saved');

    const locker = new Database(path.join(dataDir, 'state.db'));
    cleanups.defer(() => locker.open && locker.close());
    locker.exec('BEGIN IMMEDIATE'); // holds the one write lock of a WAL database
    const third = await n.waitForLog((l) => l.msg === 'snapshot failed' && l.attempt === 3, 20_000);
    expect(third.level).toBe(50);
    expect(String(third.error)).toMatch(/locked|busy/i);
    const failures = n.logs.filter((l) => l.msg === 'snapshot failed');
    expect(failures.map((l) => l.attempt)).toEqual([1, 2, 3]);
    // Retries back off (250 ms, then 500 ms, each plus the lock wait): timers never fire early.
    const [t1, t2, t3] = failures.map((l) => Number(l.time));
    expect(t2! - t1!).toBeGreaterThanOrEqual(240);
    expect(t3! - t2!).toBeGreaterThanOrEqual(490);
    const metrics = await metricsText(n);
    expect(metrics).toMatch(/graceful_edge_snapshots_total\{result="failed"\} [3-9]/);
    expect((await adminState(n)).snapshots?.failed).toBeGreaterThanOrEqual(3);

    locker.exec('COMMIT');
    locker.close();
    const again = await n.waitForLog((l) => l.msg === 'snapshot saved again after failures', 20_000);
    expect(again.attempts).toBeGreaterThanOrEqual(4);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });
});
