/** The state store against a real temp SQLite file. */
import Database from 'better-sqlite3';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerInfo } from '../../machines/events.js';
import type { BreakerRecord } from '../../src/proxy/breaker-registry.js';
import { SqliteStateStore } from '../../src/store/sqlite-store.js';
import { readState } from '../../src/store/state-command.js';
import { Cleanups } from '../helpers/cleanups.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());
function open(dir = cleanups.tempDir('ge-store-')): SqliteStateStore {
  return cleanups.closing(SqliteStateStore.open(path.join(dir, 'state.db')));
}

const peer = (i: number, over: Partial<PeerInfo> = {}): PeerInfo => ({
  address: `10.0.${Math.floor(i / 250)}.${i % 250}:8080`,
  meshPort: 7946,
  id: `node-${i}`,
  source: 'mdns',
  status: 'alive',
  lastSeen: 1_700_000_000_000 + i,
  ...over,
});
const breaker = (i: number, state: BreakerRecord['state'] = 'closed'): BreakerRecord => ({
  target: `http://origin-${i}.test:80`,
  state,
  data: { kind: 'consecutive', failures: i % 5, openedAt: state === 'open' ? 1_700_000_000_000 : null },
  updatedAt: 1_700_000_000_000 + i,
});
const input = { nodeId: 'n1', drainTimeoutMs: 30_000, shutdownDelayMs: 0 };

describe('SqliteStateStore', () => {
  it('opens in WAL mode with synchronous NORMAL', () => {
    const s = open();
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('synchronous', { simple: true })).toBe(1);
  });

  it('has nothing to load before the first snapshot', () => {
    expect(open().load()).toBeNull();
  });

  it('saves and loads peers, breakers and node id; a snapshot replaces the previous one', () => {
    const s = open();
    s.saveSnapshot({ nodeId: 'n1', peers: [peer(1), peer(2), peer(3)], breakers: [breaker(1, 'open')], savedAt: 1000 });
    const r = s.saveSnapshot({ nodeId: 'n1', peers: [peer(2, { status: 'left' }), peer(4)], breakers: [], savedAt: 2000 });
    expect(r).toMatchObject({ generation: 2, peers: 2, breakers: 0, savedAt: 2000 });
    const loaded = s.load()!;
    expect(loaded.nodeId).toBe('n1');
    expect(loaded.savedAt).toBe(2000);
    expect(loaded.shutdownAt).toBeNull();
    expect(loaded.peers).toEqual([peer(2, { status: 'left' }), peer(4)].sort((a, b) => a.address.localeCompare(b.address)));
    expect(loaded.breakers).toEqual([]);
    expect(s.getMeta('node_id')).toBe('n1');
  });

  it('keeps breaker library state as JSON', () => {
    const s = open();
    s.saveSnapshot({ nodeId: 'n1', peers: [], breakers: [breaker(7, 'open'), breaker(8, 'half-open')] });
    expect(s.load()!.breakers).toEqual([breaker(7, 'open'), breaker(8, 'half-open')]);
  });

  it('a shutdown record sets shutdownAt; the next run clears it; a snapshot without one reads null', () => {
    const s = open();
    const run1 = s.beginRun(input, 100);
    s.saveSnapshot({
      nodeId: 'n1',
      peers: [peer(1)],
      breakers: [],
      shutdown: { at: 5000, drained: 3, cut: 1, noticesSent: 2, acked: 2, signals: ['SIGTERM', 'SIGINT'] },
    });
    let loaded = s.load()!;
    expect(loaded.shutdownAt).toBe(5000);
    expect(loaded.shutdowns).toEqual([{ at: 5000, drained: 3, cut: 1, noticesSent: 2, acked: 2, signals: ['SIGTERM', 'SIGINT'] }]);
    expect(s.db.prepare('SELECT shutdown_at FROM runs WHERE run_id = ?').get(run1)).toEqual({ shutdown_at: 5000 });

    const run2 = s.beginRun(input, 200);
    expect(run2).toBeGreaterThan(run1);
    loaded = s.load()!;
    expect(loaded.shutdownAt).toBeNull(); // a SIGKILL now leaves it so
    expect(loaded.peers).toHaveLength(1); // the snapshot itself is still there
    expect(loaded.shutdowns).toHaveLength(1);

    s.saveSnapshot({ nodeId: 'n1', peers: [peer(1)], breakers: [] });
    expect(s.load()!.shutdownAt).toBeNull();
  });

  it('records transitions per run, in order, and returns the last run', () => {
    const s = open();
    const r1 = s.beginRun(input, 100);
    s.recordTransition(r1, { at: 101, event: { type: 'xstate.init' }, from: '', to: 'starting' });
    const r2 = s.beginRun({ ...input, nodeId: 'n2' }, 200);
    const events = ['xstate.init', 'xstate.done.actor.prepare', 'xstate.done.actor.restore', 'SHUTDOWN'];
    events.forEach((type, i) => s.recordTransition(r2, { at: 201 + i, event: { type, n: i }, from: `s${i}`, to: `s${i + 1}` }));
    const last = s.lastRun()!;
    expect(last.runId).toBe(r2);
    expect(last.startedAt).toBe(200);
    expect(last.input.nodeId).toBe('n2');
    expect(last.transitions.map((t) => t.event.type)).toEqual(events);
    expect(last.transitions[3]).toEqual({ at: 204, event: { type: 'SHUTDOWN', n: 3 }, from: 's3', to: 's4' });
    s.saveSnapshot({ nodeId: 'n2', peers: [], breakers: [] });
    expect(s.load()!.transitions).toBe(4);
  });

  it('continues the sequence of a run after reopening', () => {
    const dir = cleanups.tempDir('ge-store-');
    const a = open(dir);
    const run = a.beginRun(input, 1);
    a.recordTransition(run, { at: 2, event: { type: 'A' }, from: '', to: 'x' });
    a.close();
    const b = open(dir);
    b.recordTransition(run, { at: 3, event: { type: 'B' }, from: 'x', to: 'y' });
    expect(b.lastRun()!.transitions.map((t) => t.event.type)).toEqual(['A', 'B']);
  });

  it('prunes old runs with their transitions', () => {
    const s = open();
    for (let i = 0; i < 60; i++) s.recordTransition(s.beginRun(input, i), { at: i, event: { type: 'E' }, from: '', to: 'x' });
    expect(s.db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 50 });
    expect(s.db.prepare('SELECT count(*) AS n FROM transitions').get()).toEqual({ n: 50 });
  });

  it('stores meta values and deletes them with null', () => {
    const s = open();
    expect(s.getMeta('etcd_lease_id')).toBeNull();
    s.setMeta('etcd_lease_id', '7587');
    expect(s.getMeta('etcd_lease_id')).toBe('7587');
    s.setMeta('etcd_lease_id', null);
    expect(s.getMeta('etcd_lease_id')).toBeNull();
  });

  it('a snapshot that fails half-way leaves the previous snapshot whole', () => {
    const s = open();
    s.saveSnapshot({ nodeId: 'n1', peers: [peer(1), peer(2)], breakers: [breaker(1)], savedAt: 1000 });
    const bad = { ...peer(9), meshPort: null as unknown as number }; // NOT NULL violation after peer(3) was written
    expect(() => s.saveSnapshot({ nodeId: 'n1', peers: [peer(3), bad], breakers: [], savedAt: 2000 })).toThrow(/NOT NULL/);
    const loaded = s.load()!;
    expect(loaded.savedAt).toBe(1000);
    expect(loaded.peers.map((p) => p.id)).toEqual(['node-1', 'node-2']);
    expect(loaded.breakers).toHaveLength(1);
  });

  it('load refuses a snapshot whose rows do not all belong to it', () => {
    const s = open();
    s.saveSnapshot({ nodeId: 'n1', peers: [peer(1), peer(2)], breakers: [] });
    s.db.prepare('UPDATE peers SET generation = generation + 1 WHERE address = ?').run(peer(2).address);
    expect(() => s.load()).toThrow(/inconsistent/);
  });

  it('saves and loads 10,000 peers and 10,000 breakers quickly', () => {
    const s = open();
    const peers = Array.from({ length: 10_000 }, (_, i) => peer(i));
    const breakers = Array.from({ length: 10_000 }, (_, i) => breaker(i, i % 3 === 0 ? 'open' : 'closed'));
    const times: number[] = [];
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      s.saveSnapshot({ nodeId: 'n1', peers, breakers });
      times.push(performance.now() - t0);
    }
    const t1 = performance.now();
    const loaded = s.load()!;
    const loadMs = performance.now() - t1;
    console.log(`10k peers + 10k breakers: save ${times.map((t) => t.toFixed(1)).join(' / ')} ms, load ${loadMs.toFixed(1)} ms`);
    expect(loaded.peers).toHaveLength(10_000);
    expect(loaded.breakers).toHaveLength(10_000);
    // A generous bound proving "quickly", not a benchmark.
    expect(Math.max(...times)).toBeLessThan(5_000);
  });

  it('a closed store leaves state.db alone, which the state command reads without creating files', () => {
    const dir = cleanups.tempDir('ge-store-');
    const s = SqliteStateStore.open(path.join(dir, 'state.db'));
    s.saveSnapshot({ nodeId: 'n1', peers: [peer(1)], breakers: [] });
    s.close();
    expect(readdirSync(dir)).toEqual(['state.db']);
    const before = readFileSync(path.join(dir, 'state.db'));
    expect(readState(dir).peers).toHaveLength(1);
    expect(readdirSync(dir)).toEqual(['state.db']);
    expect(readFileSync(path.join(dir, 'state.db')).equals(before)).toBe(true);
    const again = cleanups.closing(SqliteStateStore.open(path.join(dir, 'state.db')));
    expect(again.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('can be read read-only while a writer has it open (the state command)', () => {
    const dir = cleanups.tempDir('ge-store-');
    const w = open(dir);
    w.beginRun(input, 1);
    w.saveSnapshot({ nodeId: 'live', peers: [peer(1)], breakers: [], savedAt: 42 });
    const before = readFileSync(path.join(dir, 'state.db'));
    const seen = readState(dir);
    expect(seen).toMatchObject({ nodeId: 'live', savedAt: 42, shutdownAt: null, transitions: 0 });
    expect(seen.peers[0]).toMatchObject({ address: peer(1).address, meshPort: 7946, id: 'node-1', source: 'mdns' });
    expect(readFileSync(path.join(dir, 'state.db')).equals(before)).toBe(true);
    const ro = new Database(path.join(dir, 'state.db'), { readonly: true });
    expect(ro.pragma('integrity_check', { simple: true })).toBe('ok');
    ro.close();
  });
});
