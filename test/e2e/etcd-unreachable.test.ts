/**
 * etcd that does not answer never holds the node: at start it serves anyway
 * and keeps retrying with a capped backoff (one warning per attempt, naming
 * the next delay) until etcd is there; at shutdown the lease revoke gives up
 * after its short timeout, says so, and the node exits 0 well within budget.
 */
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { adminState, peersOf } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import type { LogLine } from '../helpers/daemon.js';
import { etcdUnavailableReason, startEtcd } from '../helpers/etcd.js';
import { freeTcpPort } from '../helpers/ports.js';

const unavailable = etcdUnavailableReason();
if (unavailable) console.warn(`SKIPPING etcd unreachable tests: ${unavailable}`);

const registered = (l: LogLine) => String(l.msg).startsWith('registered in etcd');
const failedAttempt = (l: LogLine) => String(l.msg).startsWith('etcd registration failed');

describe.skipIf(unavailable)('etcd unreachable', () => {
  const { nodes, cleanups } = testScope();

  it('at start: the node serves, warns once per attempt with the next delay, and registers once etcd is up', async () => {
    const port = await freeTcpPort(); // nothing listens here yet
    const n = await startNode({ args: ['--node-id', 'early', '--etcd', `http://127.0.0.1:${port}`, '--etcd-prefix', '/ge-unreach/'] });
    nodes.push(n);
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);
    const first = await n.waitForLog(failedAttempt);
    expect(first).toMatchObject({ level: 40, attempt: 1, retryInMs: expect.any(Number) });
    await n.waitForLog((l) => failedAttempt(l) && l.attempt === 3, 15_000);
    const attempts = n.logs.filter(failedAttempt);
    // One line per attempt, never a flood; the delays grow (capped at 10 s).
    expect(attempts.map((l) => l.attempt)).toEqual(attempts.map((_, i) => i + 1));
    const delays = attempts.map((l) => Number(l.retryInMs));
    console.log(`[etcd] retry delays while unreachable: ${delays.join(', ')} ms`);
    expect(delays.every((d) => d > 0 && d <= 10_000)).toBe(true);
    expect(delays).toEqual([...delays].sort((x, y) => x - y));
    const etcdStatus = (await adminState(n)).registry?.etcd;
    expect(etcdStatus).toMatchObject({ registered: false, connected: false });
    expect(etcdStatus?.failedAttempts).toBeGreaterThanOrEqual(3);
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);

    // etcd arrives on that port: the next attempt registers.
    const etcd = await startEtcd({ clientPort: port });
    cleanups.defer(() => etcd.stop());
    const upAt = Date.now();
    const ok = await n.waitForLog(registered, 20_000);
    console.log(`[etcd] registered ${Number(ok.time) - upAt} ms after etcd came up`);
    expect(JSON.parse((await etcd.client.get('/ge-unreach/early').string()) ?? 'null')).toMatchObject({ id: 'early', address: n.proxy });

    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(await etcd.client.get('/ge-unreach/early').string()).toBeNull();
  });

  it('never registered: SIGTERM exits 0 at once, saying there was no lease to revoke', async () => {
    const port = await freeTcpPort();
    const n = await startNode({ args: ['--etcd', `http://127.0.0.1:${port}`] });
    nodes.push(n);
    await n.waitForLog(failedAttempt);
    const t0 = performance.now();
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    console.log(`[etcd] never-registered node exited ${(performance.now() - t0).toFixed(0)} ms after SIGTERM`);
    expect(n.logs.find((l) => String(l.msg).startsWith('no etcd lease to revoke'))).toBeDefined();
    expect(n.logs.find((l) => l.msg === 'deregistered')).toMatchObject({ leaseRevoked: false });
  });

  it('at shutdown: etcd killed mid-run, SIGTERM exits 0 well within the budget and logs the failed revoke', async () => {
    const etcd = await startEtcd();
    cleanups.defer(() => etcd.stop());
    const budgetSec = 10;
    const n = await startNode({ args: ['--node-id', 'late', '--etcd', etcd.url, '--etcd-prefix', '/ge-late/', '--drain-timeout', String(budgetSec)] });
    nodes.push(n);
    await n.waitForLog(registered);
    const leaseId = (await etcd.client.get('/ge-late/late').exec()).kvs[0]!.lease;
    await etcd.kill();

    const t0 = performance.now();
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const tookMs = performance.now() - t0;
    console.log(`[etcd] with etcd dead, exit ${tookMs.toFixed(0)} ms after SIGTERM (budget ${budgetSec * 1000} ms)`);
    expect(tookMs).toBeLessThan(budgetSec * 1000);
    const failed = n.logs.find((l) => String(l.msg).startsWith('etcd lease not revoked') && l.leaseId === leaseId);
    expect(failed).toMatchObject({ level: 40, leaseId });
    expect(Number(failed!.tookMs)).toBeLessThanOrEqual(1_500);
    expect(n.logs.find((l) => l.msg === 'deregistered')).toMatchObject({ leaseRevoked: false });
  });

  it('mid-run outage: keep-alive and watch recover, and what changed meanwhile is read again', async () => {
    const etcd = await startEtcd();
    cleanups.defer(() => etcd.stop());
    const prefix = '/ge-outage/';
    const n = await startNode({ args: ['--node-id', 'steady', '--etcd', etcd.url, '--etcd-prefix', prefix] });
    nodes.push(n);
    await n.waitForLog(registered);
    const leaseId = (await etcd.client.get(`${prefix}steady`).exec()).kvs[0]!.lease;
    const record = (id: string, port: number) => JSON.stringify({ id, address: `127.0.0.1:${port}`, meshPort: 7946, startedAt: 1 });
    await etcd.client.put(`${prefix}p1`).value(record('p1', 11));
    await n.waitForLog((l) => l.peer === '127.0.0.1:11');

    const logsBefore = n.logs.length;
    await etcd.kill();
    await n.waitForLog((l) => String(l.msg).startsWith('etcd watch broken'));
    await n.waitForLog((l) => String(l.msg).startsWith('etcd keep-alive failing'));
    await new Promise((r) => setTimeout(r, 1_500));
    const outageWarnings = n.logs.slice(logsBefore).filter((l) => Number(l.level) >= 40);
    console.log(`[etcd] warnings during a 1.5 s outage: ${outageWarnings.length} (${outageWarnings.map((l) => l.msg).join(' | ')})`);
    expect(outageWarnings.length).toBeLessThanOrEqual(4);
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);

    await etcd.restart();
    // Changed while the node was not watching (or just before it watches again).
    await etcd.client.delete().key(`${prefix}p1`);
    await etcd.client.put(`${prefix}p2`).value(record('p2', 12));

    await n.waitForLog((l) => l.msg === 'etcd watch re-established', 15_000);
    await n.waitForLog((l) => l.msg === 'etcd keep-alive works again', 15_000);
    await n.waitForLog((l) => l.peer === '127.0.0.1:11' && l.reason === 'etcd key deleted', 5_000);
    await n.waitForLog((l) => l.peer === '127.0.0.1:12' && String(l.msg).includes('found'), 5_000);
    const peers = await peersOf(n);
    expect(peers.find((p) => p.address === '127.0.0.1:11')?.status).toBe('left');
    expect(peers.find((p) => p.address === '127.0.0.1:12')?.status).toBe('alive');
    // The lease outlived the short outage: same lease, same key.
    expect((await etcd.client.get(`${prefix}steady`).exec()).kvs[0]?.lease).toBe(leaseId);

    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(await etcd.client.get(`${prefix}steady`).string()).toBeNull();
  });
});
