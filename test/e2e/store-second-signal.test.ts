/**
 * A second SIGINT during a long drain skips what is left of it, but the
 * state is still saved: exit 0, fast, and the file holds the shutdown record.
 */
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { savedState } from '../helpers/saved-state.js';
import { until } from '../helpers/wait.js';
import { slowBody, startOrigin } from '../proxy/support/origin.js';

const { nodes, cleanups } = testScope();
const data = () => cleanups.tempDir('ge-second-');

describe('second SIGINT', () => {
  it('during a long --shutdown-delay: fast exit 0, shutdown record saved', async () => {
    const dataDir = data();
    const n = await startNode({ dataDir, args: ['--shutdown-delay', '20', '--drain-timeout', '30'] });
    nodes.push(n);
    n.kill('SIGINT');
    await n.waitForLog((l) => l.lifecycle === 'draining');
    const second = Date.now();
    n.kill('SIGINT');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    // Far below the 20 s delay it skipped (generous: a loaded machine).
    expect(Date.now() - second).toBeLessThan(10_000);
    expect(n.logs.some((l) => String(l.msg).startsWith('second signal'))).toBe(true);
    const s = await savedState(dataDir);
    expect(s.shutdownAt).toEqual(expect.any(Number));
    expect(s.shutdowns).toEqual([expect.objectContaining({ at: s.shutdownAt, signals: ['SIGINT', 'SIGINT'] })]);
  });

  it('during a drain that waits on a 20 s request: the request is cut, counted and saved', async () => {
    const dataDir = data();
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ dataDir, args: ['--upstream', origin.url, '--drain-timeout', '30'] });
    nodes.push(n);
    const probe = await fetch(`${n.proxyUrl}/fast`);
    expect(probe.status).toBe(200);
    await probe.text();
    // Its first chunk comes at once, the second and the end after 20 s.
    const slow = fetch(`${n.proxyUrl}/slow?ms=40000&chunks=2`)
      .then((r) => r.text())
      .catch((e: Error) => `aborted: ${e.message}`);
    await until('the slow request to be in flight', async () => (await adminState(n)).inFlight >= 1, { timeoutMs: 10_000, everyMs: 50 });

    n.kill('SIGINT');
    await n.waitForLog((l) => l.lifecycle === 'draining');
    await new Promise((r) => setTimeout(r, 300));
    const second = Date.now();
    n.kill('SIGINT');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - second).toBeLessThan(10_000);
    expect(await slow).not.toBe(slowBody(2));
    const s = await savedState(dataDir);
    expect(s.shutdowns).toEqual([expect.objectContaining({ at: s.shutdownAt, cut: 1, signals: ['SIGINT', 'SIGINT'] })]);
  });
});
