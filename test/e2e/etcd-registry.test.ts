/**
 * The etcd registry, proven against a real etcd server (`/usr/bin/etcd`)
 * started on loopback by the test: the key under a lease while serving, gone
 * within 100 ms of SIGTERM; a crashed run's lease revoked at the next start;
 * a second node adding and removing the first from the prefix watch; foreign
 * values under the prefix refused. Unreachable etcd: test/e2e/etcd-unreachable.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import type { LogLine } from '../helpers/daemon.js';
import { etcdUnavailableReason, startEtcd } from '../helpers/etcd.js';
import type { EtcdServer } from '../helpers/etcd.js';
import { until } from '../helpers/wait.js';

const unavailable = etcdUnavailableReason();
if (unavailable) console.warn(`SKIPPING etcd registry tests: ${unavailable}`);

let prefixes = 0;
const uniquePrefix = () => `/ge-test-${process.pid}-${++prefixes}/nodes/`;
const registered = (l: LogLine) => String(l.msg).startsWith('registered in etcd');

describe.skipIf(unavailable)('etcd registry against a real etcd', () => {
  let etcd: EtcdServer;
  const { nodes } = testScope();
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  const etcdArgs = (id: string, prefix: string) => ['--node-id', id, '--etcd', etcd.url, '--etcd-prefix', prefix];
  /** Node `id` under `prefix`, once it has registered (on `dataDir` when given: a restart). */
  const registeredNode = async (id: string, prefix: string, dataDir?: string) => {
    const n = await startNode({ dataDir, args: etcdArgs(id, prefix) });
    nodes.push(n);
    await n.waitForLog(registered);
    return n;
  };
  /** The lease `key` is held under now. */
  const leaseOf = async (key: string) => (await etcd.client.get(key).exec()).kvs[0]!.lease;

  it('puts the key under a lease while serving and removes it within 100 ms of SIGTERM', async () => {
    const prefix = uniquePrefix();
    const key = `${prefix}alpha`;
    const n = await registeredNode('alpha', prefix);

    const got = await etcd.client.get(key).exec();
    const kv = got.kvs[0];
    expect(kv, 'key in etcd').toBeDefined();
    expect(JSON.parse(kv!.value.toString())).toMatchObject({ id: 'alpha', address: n.proxy, startedAt: expect.any(Number) });
    expect(kv!.lease).not.toBe('0');
    const ttl = await etcd.client.leaseClient.leaseTimeToLive({ ID: kv!.lease });
    expect(Number(ttl.TTL)).toBeGreaterThan(0);
    expect(Number(ttl.grantedTTL)).toBe(10);
    const s = await adminState(n);
    expect(s.registry?.etcd).toMatchObject({ registered: true, leaseId: kv!.lease, key, watching: true });

    const watcher = await etcd.client.watch().key(key).create();
    const deletedAt = new Promise<number>((resolve) => watcher.on('delete', () => resolve(performance.now())));
    const signalAt = performance.now();
    n.kill('SIGTERM');
    const tookMs = (await deletedAt) - signalAt;
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const signalled = n.logs.find((l) => l.signal === 'SIGTERM' && l.msg === 'signal received: shutting down')!;
    const revoked = n.logs.find((l) => l.msg === 'etcd lease revoked: key removed')!;
    const nodeMs = Number(revoked.time) - Number(signalled.time);
    console.log(`[etcd] key ${key} deleted ${tookMs.toFixed(1)} ms after kill(SIGTERM), seen by this test's watch; the node's signal line → its 'lease revoked' line: ${nodeMs} ms (target: 100 ms)`);
    // The node's own latency (both lines stamped by the daemon) is the claim;
    // the wall time seen here also pays for the signal's delivery and the
    // watch's scheduling on a loaded 2-core machine, so it gets room.
    expect(nodeMs).toBeLessThan(100);
    expect(tookMs).toBeLessThan(1_000);
    // Nothing of the etcd client (gRPC channels, keep-alive, watch timers) holds the process.
    const stoppedLine = n.logs.find((l) => l.msg === 'stopped');
    console.log(`[etcd] process exited ${(performance.now() - signalAt).toFixed(0)} ms after SIGTERM (its 'stopped' line at ${Number(stoppedLine?.tookMs)} ms)`);
    await watcher.cancel();

    expect(await etcd.client.get(key).string()).toBeNull();
    const after = await etcd.client.leaseClient.leaseTimeToLive({ ID: kv!.lease });
    expect(after.TTL).toBe('-1'); // the lease itself is gone, not just the key
    const revokedLine = n.logs.find((l) => String(l.msg).startsWith('etcd lease revoked') && l.leaseId === kv!.lease);
    expect(revokedLine).toBeDefined();
    expect(n.logs.find((l) => l.msg === 'deregistered')).toMatchObject({ leaseRevoked: true });

    // A clean stop cleared the saved lease id: the next start has nothing stale to revoke.
    const again = await registeredNode('alpha', prefix, n.dataDir);
    expect(again.logs.filter((l) => String(l.msg).includes('left by a previous run'))).toEqual([]);
    again.kill('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
  });

  it('after SIGKILL, the next start revokes the stale lease before granting a new one', async () => {
    const prefix = uniquePrefix();
    const key = `${prefix}beta`;
    const first = await registeredNode('beta', prefix);
    const oldLease = await leaseOf(key);

    first.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();
    // Crashed: nobody revoked anything, the key lives on with the lease's TTL.
    expect(await etcd.client.get(key).string()).not.toBeNull();

    const events: string[] = [];
    const watcher = await etcd.client.watch().key(key).create();
    watcher.on('delete', () => events.push('delete'));
    watcher.on('put', () => events.push('put'));

    const second = await startNode({ dataDir: first.dataDir, args: etcdArgs('beta', prefix) });
    nodes.push(second);
    const staleLine = await second.waitForLog((l) => String(l.msg).startsWith('revoked the etcd lease'));
    expect(staleLine).toMatchObject({ staleLeaseId: oldLease, outcome: 'revoked' });
    await second.waitForLog(registered);
    const revokedAfterMs = Number(staleLine.time) - killedAt;
    console.log(`[etcd] stale lease ${oldLease} revoked ${revokedAfterMs} ms after SIGKILL (its TTL would have kept the key 10000 ms)`);

    // The old lease no longer exists; the key lives under a new one.
    expect((await etcd.client.leaseClient.leaseTimeToLive({ ID: oldLease })).TTL).toBe('-1');
    const newLease = await leaseOf(key);
    expect(newLease).not.toBe(oldLease);
    await until('delete then put seen by the watch', async () => events.length >= 2, { timeoutMs: 5_000 });
    expect(events.slice(0, 2)).toEqual(['delete', 'put']);
    await watcher.cancel();

    // The revoke happened before granting: the log order says so.
    const idx = (pred: (l: LogLine) => boolean) => second.logs.findIndex(pred);
    expect(idx((l) => String(l.msg).startsWith('revoked the etcd lease'))).toBeLessThan(idx(registered));
    expect((await adminState(second)).registry?.etcd).toMatchObject({ leaseId: newLease, staleLease: { id: oldLease, outcome: 'revoked' } });

    second.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });

  it('a second node adds the first as an etcd peer and marks it left after its SIGTERM', async () => {
    const prefix = uniquePrefix();
    const a = await startNode({ args: etcdArgs('node-a', prefix) });
    nodes.push(a);
    const b = await startNode({ args: etcdArgs('node-b', prefix) });
    nodes.push(b);
    await Promise.all([a.waitForLog(registered), b.waitForLog(registered)]);

    const seenByB = await until('B to list A from etcd', async () => (await adminState(b)).peers.find((p) => p.address === a.proxy));
    expect(seenByB).toMatchObject({ address: a.proxy, id: 'node-a', source: 'etcd', status: 'alive' });
    const seenByA = await until('A to list B from etcd', async () => (await adminState(a)).peers.find((p) => p.address === b.proxy));
    expect(seenByA).toMatchObject({ id: 'node-b', source: 'etcd', status: 'alive' });
    // Never itself.
    expect((await adminState(a)).peers.filter((p) => p.address === a.proxy)).toEqual([]);

    const signalAt = performance.now();
    a.kill('SIGTERM');
    const left = await until('B to mark A left', async () => {
      const p = (await adminState(b)).peers.find((x) => x.address === a.proxy);
      return p?.status === 'left' ? p : null;
    }, { timeoutMs: 5_000, everyMs: 5 });
    console.log(`[etcd] B marked A left ${(performance.now() - signalAt).toFixed(1)} ms after A's SIGTERM (polled /state every 5 ms)`);
    expect(left).toMatchObject({ source: 'etcd', status: 'left' });
    expect(await a.exited).toEqual({ code: 0, signal: null });
    const goneLine = await b.waitForLog((l) => l.reason === 'etcd key deleted' && l.peer === a.proxy);
    const signalLine = a.logs.find((l) => l.signal === 'SIGTERM' && l.msg === 'signal received: shutting down');
    const revokedLine = a.logs.find((l) => String(l.msg).startsWith('etcd lease revoked'));
    console.log(
      `[etcd] by the nodes' own clocks: A revoked its lease ${Number(revokedLine?.time) - Number(signalLine?.time)} ms after SIGTERM, ` +
        `B logged A gone ${Number(goneLine.time) - Number(signalLine?.time)} ms after it`,
    );

    b.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses foreign values under the prefix with one clear log line and changes nothing', async () => {
    const prefix = uniquePrefix();
    const n = await registeredNode('gamma', prefix);

    await etcd.client.put(`${prefix}garbage`).value('not json at all');
    await etcd.client.put(`${prefix}no-port`).value(JSON.stringify({ id: 'x', address: '127.0.0.1', meshPort: 1, startedAt: 1 }));
    await etcd.client.put(`${prefix}impostor`).value(JSON.stringify({ id: 'gamma', address: '127.0.0.1:1', meshPort: 1, startedAt: 1 }));
    const garbage = await n.waitForLog((l) => l.key === `${prefix}garbage`);
    expect(garbage).toMatchObject({ level: 40, reason: 'value is not JSON' });
    expect(garbage.msg).toBe('ignoring an etcd key');
    await n.waitForLog((l) => l.key === `${prefix}no-port` && /address: expected HOST:PORT/.test(String(l.reason)));
    await n.waitForLog((l) => l.key === `${prefix}impostor` && /this node's id/.test(String(l.reason)));
    // The same bad value again is not logged again.
    await etcd.client.put(`${prefix}garbage`).value('not json at all');

    // A well-formed record written by hand is a peer; deleting it is a leave.
    await etcd.client.put(`${prefix}hand-made`).value(JSON.stringify({ id: 'hand-made', address: '127.0.0.1:9', meshPort: 7946, startedAt: 1 }));
    await until('the hand-made peer', async () => (await adminState(n)).peers.find((p) => p.address === '127.0.0.1:9' && p.status === 'alive'));
    const s = await adminState(n);
    expect(s.peers.map((p) => p.address)).toEqual(['127.0.0.1:9']);
    expect(s.registry?.etcd.rejectedKeys).toBe(3);
    expect(n.logs.filter((l) => l.key === `${prefix}garbage` && l.level === 40)).toHaveLength(1);

    await etcd.client.delete().key(`${prefix}hand-made`);
    await until('the hand-made peer to be left', async () => (await adminState(n)).peers.find((p) => p.address === '127.0.0.1:9' && p.status === 'left'));

    // Its own key deleted by someone else is put back under the same lease.
    const lease = await leaseOf(`${prefix}gamma`);
    await etcd.client.delete().key(`${prefix}gamma`);
    const back = await until('own key put back', async () => (await etcd.client.get(`${prefix}gamma`).exec()).kvs[0], { timeoutMs: 5_000 });
    expect(back.lease).toBe(lease);

    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });

  it('a lease revoked by someone else is noticed at once and the node registers again under a new lease', async () => {
    const prefix = uniquePrefix();
    const key = `${prefix}delta`;
    const n = await registeredNode('delta', prefix);
    const oldLease = await leaseOf(key);

    await etcd.client.leaseClient.leaseRevoke({ ID: oldLease });
    await n.waitForLog((l) => l.msg === 'etcd lease lost: registering again' && l.leaseId === oldLease, 10_000);
    await n.waitForLog((l) => registered(l) && l.leaseId !== oldLease, 10_000);
    const kv = await until('the key back under a new lease', async () => (await etcd.client.get(key).exec()).kvs[0], { timeoutMs: 5_000 });
    expect(kv.lease).not.toBe(oldLease);
    expect((await adminState(n)).registry?.etcd).toMatchObject({ registered: true, leaseId: kv.lease });
    // This run's own lost lease is not reported as a crashed run's.
    expect((await adminState(n)).registry?.etcd).toMatchObject({ staleLease: null });

    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(await etcd.client.get(key).string()).toBeNull();
  });

  it('a proxy that cannot bind stops the node promptly (exit 2); the registrar never starts and leaves nothing behind', async () => {
    const prefix = uniquePrefix();
    const busy = await startNode({ args: ['--node-id', 'holder'] });
    nodes.push(busy);
    const t0 = performance.now();
    const n = await startNode({ waitFor: 'spawned', args: [...etcdArgs('epsilon', prefix), '--listen', busy.proxy] });
    nodes.push(n);
    expect(await n.exited).toEqual({ code: 2, signal: null });
    console.log(`[etcd] node whose proxy could not bind exited ${(performance.now() - t0).toFixed(0)} ms after spawn`);
    // The registrar is invoked only once the proxy is bound (online.binding → serving): it never started.
    expect(n.logs.some((l) => String(l.msg).startsWith('registering in etcd'))).toBe(false);
    expect(n.logs.some((l) => l.lifecycle === 'serving')).toBe(false);
    expect((await etcd.client.getAll().prefix(prefix).keys()).length).toBe(0);
  });
});
