/** One node per data dir: a second node on the same dir exits 2; a crashed holder's lock is taken over. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, stopAll, tempDir } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';

const nodes: NodeProcess[] = [];
afterEach(() => stopAll(nodes));

describe('data dir lock', () => {
  it('a second node on the same data dir exits 2 naming the holder and leaves the first untouched', async () => {
    const dir = tempDir('ge-lock-');
    const first = await startNode({ dataDir: dir });
    nodes.push(first);
    const lockFile = path.join(dir, 'node.lock');
    expect(readFileSync(lockFile, 'utf8').split('\n')[0]).toBe(String(first.proc.pid));

    const second = await startNode({ dataDir: dir, waitFor: 'spawned' });
    nodes.push(second);
    expect((await second.exited).code).toBe(2);
    const fatal = second.logs.find((l) => l.level === 60);
    expect(fatal).toMatchObject({ msg: 'cannot start', error: expect.stringContaining(`in use by another graceful-edge node (pid ${first.proc.pid}`) });

    // The first node still serves and still holds the lock; it shuts down cleanly.
    expect((await fetch(`${first.adminUrl}/readyz`)).status).toBe(200);
    expect(readFileSync(lockFile, 'utf8').split('\n')[0]).toBe(String(first.proc.pid));
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  });

  it("a crashed node's lock is taken over with one warning", async () => {
    const dir = tempDir('ge-lock-');
    const crashed = await startNode({ dataDir: dir });
    nodes.push(crashed);
    crashed.kill('SIGKILL');
    await crashed.exited;
    expect(existsSync(path.join(dir, 'node.lock'))).toBe(true);

    const next = await startNode({ dataDir: dir });
    nodes.push(next);
    const warn = await next.waitForLog((l) => String(l.msg).startsWith('data dir lock taken over'));
    expect(warn).toMatchObject({ level: 40, previousPid: crashed.proc.pid });
    next.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  });
});
