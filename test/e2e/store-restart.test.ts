/**
 * The node remembers: a graceful stop saves peers, breakers, the shutdown
 * record and the transitions; a restart on the same data dir brings them
 * back; a SIGKILL leaves `shutdownAt` null. Observed from outside only: the
 * daemon's logs and HTTP answers, `graceful-edge state --json`, the file.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { freeTcpPort } from '../helpers/ports.js';
import { savedState } from '../helpers/saved-state.js';
import { SqliteStateStore } from '../../src/store/sqlite-store.js';

const { nodes, cleanups } = testScope();

const data = () => cleanups.tempDir('ge-store-e2e-');

describe('state across restarts', () => {
  it('SIGTERM saves peers, shutdown record and transitions; a restart restores them', async () => {
    const dataDir = data();
    const a = `127.0.0.1:${await freeTcpPort()}`;
    const b = `127.0.0.1:${await freeTcpPort()}`;
    const n1 = await startNode({ dataDir, args: ['--node-id', 'store-e2e', '--peer', `${a}/7101`, '--peer', `${b}/7102`] });
    nodes.push(n1);
    await n1.waitForLog((l) => String(l.msg).startsWith('starting fresh'));
    n1.kill('SIGTERM');
    expect(await n1.exited).toEqual({ code: 0, signal: null });

    const saved = await savedState(dataDir);
    expect(saved.nodeId).toBe('store-e2e');
    expect(saved.savedAt).toEqual(expect.any(Number));
    expect(saved.shutdownAt).toEqual(expect.any(Number));
    expect(saved.shutdownAt!).toBeLessThanOrEqual(saved.savedAt!);
    expect(saved.peers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: a, meshPort: 7101, id: null, source: 'static' }),
        expect.objectContaining({ address: b, meshPort: 7102, id: null, source: 'static' }),
      ]),
    );
    expect(saved.peers).toHaveLength(2);
    expect(saved.shutdowns).toHaveLength(1);
    expect(saved.shutdowns[0]).toMatchObject({ at: saved.shutdownAt, drained: expect.any(Number), cut: 0, signals: ['SIGTERM'] });
    // starting, restoring, serving, leaving (deregistering + draining), …, persisting, stopped
    expect(saved.transitions).toBeGreaterThanOrEqual(6);

    // Restart with only `a` configured: `b` is known only from the file.
    const n2 = await startNode({ dataDir, args: ['--node-id', 'store-e2e', '--peer', `${a}/7101`] });
    nodes.push(n2);
    const line = await n2.waitForLog((l) => l.msg === 'last shutdown found: its state restored');
    expect(line.lastShutdownAt).toBe(saved.shutdownAt);
    const live = await adminState(n2);
    expect(live.restored).toMatchObject({ fresh: false, lastShutdownAt: saved.shutdownAt });
    const byAddress = new Map(live.peers.map((p) => [p.address, p]));
    expect(byAddress.get(a)).toMatchObject({ source: 'static', status: 'alive', meshPort: 7101 });
    // Nothing listens on `b`: its probe fails and it stays suspect (no traffic).
    expect(byAddress.get(b)).toMatchObject({ source: 'restored', status: 'suspect', meshPort: 7102 });

    // While it runs, the file says this run has not shut down (a crash now leaves it so).
    expect((await savedState(dataDir)).shutdownAt).toBeNull();
    n2.kill('SIGTERM');
    expect(await n2.exited).toEqual({ code: 0, signal: null });
    const again = await savedState(dataDir);
    expect(again.shutdowns).toHaveLength(2);
    expect(again.peers.find((p) => p.address === b)).toMatchObject({ source: 'restored', status: 'suspect' });
  });

  it('after a SIGKILL, shutdownAt is null and the next start says the last run did not shut down gracefully', async () => {
    const dataDir = data();
    const peer = `127.0.0.1:${await freeTcpPort()}`;
    const n1 = await startNode({ dataDir, args: ['--peer', peer] });
    nodes.push(n1);
    n1.kill('SIGTERM');
    expect((await n1.exited).code).toBe(0);
    const graceful = await savedState(dataDir);
    expect(graceful.shutdownAt).toEqual(expect.any(Number));

    const n2 = await startNode({ dataDir, args: ['--peer', peer, '--snapshot-interval', '0.1'] });
    nodes.push(n2);
    await n2.waitForLog((l) => l.msg === 'snapshot saved' || l.msg === 'last shutdown found: its state restored');
    await new Promise((r) => setTimeout(r, 300));
    n2.kill('SIGKILL');
    expect(await n2.exited).toEqual({ code: null, signal: 'SIGKILL' });

    const crashed = await savedState(dataDir);
    expect(crashed.shutdownAt).toBeNull();
    expect(crashed.shutdowns).toHaveLength(1); // the earlier graceful stop is still in the history
    expect(crashed.peers).toEqual([expect.objectContaining({ address: peer, source: 'static' })]);
    expect(crashed.transitions).toBeGreaterThanOrEqual(3); // starting, restoring, serving of the killed run

    const n3 = await startNode({ dataDir, args: ['--peer', peer] });
    nodes.push(n3);
    const warn = await n3.waitForLog((l) => String(l.msg).startsWith('the last run did not shut down gracefully'));
    expect(warn.level).toBe(40);
    expect(warn.lastShutdownAt).toBeNull();
    n3.kill('SIGTERM');
    expect((await n3.exited).code).toBe(0);
  });

  it('a SIGKILL before the first snapshot of a fresh dir still leaves a readable file', async () => {
    const dataDir = data();
    const n = await startNode({ dataDir });
    nodes.push(n);
    n.kill('SIGKILL');
    await n.exited;
    const s = await savedState(dataDir);
    expect(s).toMatchObject({ savedAt: null, shutdownAt: null, peers: [], circuitBreakers: [], shutdowns: [] });
    expect(s.transitions).toBeGreaterThanOrEqual(3);
  });

  it('circuit breakers come back in their saved state; an open one whose cool-down passed is half-open', async () => {
    const dataDir = data();
    const now = Date.now();
    // The saved file as an earlier node wrote it (cockatiel's toJSON() records).
    const store = SqliteStateStore.open(path.join(dataDir, 'state.db'));
    store.saveSnapshot({
      nodeId: 'breaker-node',
      peers: [],
      breakers: [
        { target: 'http://127.0.0.1:1', state: 'open', updatedAt: now, data: { ownState: { value: 1, openedAt: now, attemptNo: 1 }, breakerState: 5 } },
        {
          target: 'http://127.0.0.1:2',
          state: 'open',
          updatedAt: now - 3_600_000,
          data: { ownState: { value: 1, openedAt: now - 3_600_000, attemptNo: 1 }, breakerState: 5 },
        },
        { target: 'http://127.0.0.1:3', state: 'closed', updatedAt: now, data: { ownState: { value: 0 }, breakerState: 2 } },
      ],
      shutdown: { at: now - 1000, drained: 0, cut: 0, noticesSent: null, acked: null, signals: ['SIGTERM'] },
    });
    store.close();

    const n = await startNode({ dataDir, args: ['--node-id', 'breaker-node'] });
    nodes.push(n);
    const live = await adminState(n);
    const states = Object.fromEntries(live.circuitBreakers.map((b) => [b.target, b.state]));
    expect(states).toEqual({ 'http://127.0.0.1:1': 'open', 'http://127.0.0.1:2': 'half-open', 'http://127.0.0.1:3': 'closed' });
    n.kill('SIGTERM');
    expect((await n.exited).code).toBe(0);
    const saved = await savedState(dataDir);
    expect(saved.circuitBreakers.find((b) => b.target === 'http://127.0.0.1:1')).toMatchObject({ state: 'open' });
  });
});
