/**
 * Circuit breakers from outside: a dead upstream opens its breaker (visible
 * in /state and /metrics, traffic refused fast), and the open breaker is
 * still open after a restart with the same data dir.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { breakersOf, metricsText } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { deadUrl } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { startOrigin } from '../proxy/support/origin.js';
import { SqliteStateStore } from '../../src/store/sqlite-store.js';

const { nodes, cleanups } = testScope();

describe.each(['undici', 'http-proxy'] as const)('circuit breakers (engine %s)', (engine) => {
  it('a dead upstream opens its breaker, which stays open across a restart', async () => {
    const dead = await deadUrl();
    const dataDir = cleanups.tempDir();
    const args = ['--upstream', dead, '--proxy-engine', engine];
    const n = await startNode({ args, dataDir });
    nodes.push(n);

    // 5 consecutive refused connections open it.
    for (let i = 0; i < 5; i++) expect((await fetch(`${n.proxyUrl}/try/${i}`)).status).toBe(502);
    const openedAt = Date.now();
    // One line when it opens, with the target and the cool-down.
    await n.waitForLog((l) => String(l.msg).startsWith('circuit breaker opened'));
    expect(n.logs.filter((l) => String(l.msg).startsWith('circuit breaker'))).toEqual([
      expect.objectContaining({ level: 40, msg: 'circuit breaker opened: the target is refused until its cool-down passes', target: dead, state: 'open', halfOpenAfterMs: 10_000 }),
    ]);
    expect(await breakersOf(n)).toEqual([{ target: dead, state: 'open' }]);
    const refused = await fetch(`${n.proxyUrl}/after-open`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: expect.stringMatching(/circuit breaker is open/) });
    const metrics = await metricsText(n);
    expect(metrics).toContain(`graceful_edge_circuit_breaker_open{target="${dead}"} 1`);

    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });

    const again = await startNode({ args, dataDir });
    nodes.push(again);
    // Well within the 10 s cool-down: still open, before any traffic.
    expect(await breakersOf(again)).toEqual([{ target: dead, state: 'open' }]);
    expect((await fetch(`${again.proxyUrl}/after-restart`)).status).toBe(503);
    if (engine !== 'undici') return; // the rest is the registry's, not the engine's

    // Down past the cool-down: it comes back half-open, lets one trial through,
    // and the failed trial opens it again.
    again.kill('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
    await new Promise((r) => setTimeout(r, Math.max(0, openedAt + 10_500 - Date.now())));
    const later = await startNode({ args, dataDir });
    nodes.push(later);
    expect(await breakersOf(later)).toEqual([{ target: dead, state: 'half-open' }]);
    expect((await fetch(`${later.proxyUrl}/trial`)).status).toBe(502);
    expect(await breakersOf(later)).toEqual([{ target: dead, state: 'open' }]);
    // The trial and its failure, each said once.
    await later.waitForLog((l) => String(l.msg).startsWith('circuit breaker opened'));
    expect(later.logs.filter((l) => String(l.msg).startsWith('circuit breaker')).map((l) => l.state)).toEqual(['half-open', 'open']);
  });
});

describe('circuit breakers: a saved record the registry cannot use', () => {
  it('is named in one warning and the breaker starts closed', async () => {
    const dead = await deadUrl();
    const dataDir = cleanups.tempDir();
    const n = await startNode({ args: ['--upstream', dead], dataDir });
    nodes.push(n);
    for (let i = 0; i < 5; i++) await fetch(`${n.proxyUrl}/try/${i}`);
    expect(await breakersOf(n)).toEqual([{ target: dead, state: 'open' }]);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });

    const db = new Database(path.join(dataDir, 'state.db'));
    const changed = db.prepare('UPDATE breakers SET data = ? WHERE target = ?').run('{"ownState":{"value":7},"breakerState":0}', dead);
    db.close();
    expect(changed.changes).toBe(1);

    const again = await startNode({ args: ['--upstream', dead], dataDir });
    nodes.push(again);
    const warning = await again.waitForLog((l) => l.target === dead && /not restored/.test(String(l.msg)));
    expect(warning.level).toBe(40);
    expect(await breakersOf(again)).toEqual([]);
    // Closed again: traffic is tried (and refused) instead of being turned away.
    expect((await fetch(`${again.proxyUrl}/x`)).status).toBe(502);
  });
});

/** A data dir whose saved snapshot holds `target`'s breaker open since an hour: past its cool-down. */
function savedOpenLongAgo(dataDir: string, target: string): void {
  const longAgo = Date.now() - 3_600_000;
  const store = SqliteStateStore.open(path.join(dataDir, 'state.db'));
  store.saveSnapshot({
    nodeId: 'back-node',
    peers: [],
    breakers: [{ target, state: 'open', updatedAt: longAgo, data: { ownState: { value: 1, openedAt: longAgo, attemptNo: 1 }, breakerState: 5 } }],
  });
  store.close();
}

describe('circuit breakers: a target that is back', () => {
  it('one trial request closes its breaker; the node says half-open, then closed', async () => {
    const origin = cleanups.closing(await startOrigin());
    const dataDir = cleanups.tempDir();
    savedOpenLongAgo(dataDir, origin.url);
    const n = await startNode({ args: ['--upstream', origin.url, '--node-id', 'back-node'], dataDir });
    nodes.push(n);
    expect(await breakersOf(n)).toEqual([{ target: origin.url, state: 'half-open' }]);
    const r = await fetch(`${n.proxyUrl}/trial`);
    expect(r.status).toBe(200);
    await r.text();
    expect(await breakersOf(n)).toEqual([{ target: origin.url, state: 'closed' }]);
    await n.waitForLog((l) => String(l.msg).startsWith('circuit breaker closed'));
    expect(n.logs.filter((l) => String(l.msg).startsWith('circuit breaker')).map((l) => [l.msg, l.target])).toEqual([
      ['circuit breaker half-open: one trial request goes to the target', origin.url],
      ['circuit breaker closed: the target answers again', origin.url],
    ]);
  });

  it('with --workers 2, the worker whose trial closed it passes that on: the other takes "closed" and logs it', async () => {
    const origin = cleanups.closing(await startOrigin());
    const dataDir = cleanups.tempDir();
    savedOpenLongAgo(dataDir, origin.url);
    const n = await startNode({ args: ['--workers', '2', '--upstream', origin.url, '--node-id', 'back-node'], dataDir, startTimeoutMs: 60_000 });
    nodes.push(n);
    const r = await fetch(`${n.proxyUrl}/trial`);
    expect(r.status).toBe(200);
    await r.text();
    const closed = await n.waitForLog((l) => String(l.msg).startsWith('circuit breaker closed'));
    const taken = await n.waitForLog((l) => l.msg === 'circuit breaker state taken from another worker');
    expect(taken).toMatchObject({ target: origin.url, state: 'closed' });
    expect(taken.pid).not.toBe(closed.pid);
    await until('the merged breaker closed in /state', async () => {
      const b = await breakersOf(n);
      return b.length === 1 && b[0]!.state === 'closed';
    });
  });
});
