/** Pure and single-file parts of the state-file hardening (issue 11, items 10–14). */
import Database from 'better-sqlite3';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDataDir, processStartTime } from '../../src/store/data-dir-lock.js';
import { DataDirError, openStateStore } from '../../src/store/open-store.js';
import { clampFutureBreakers } from '../../src/store/restore.js';
import { MAX_RESTORED_PEERS } from '../../src/store/restore-limits.js';
import { SqliteStateStore } from '../../src/store/sqlite-store.js';
import { Cleanups } from '../helpers/cleanups.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

function storeWith(peers: number): { dir: string; file: string } {
  const dir = cleanups.tempDir('ge-harden-');
  const file = path.join(dir, 'state.db');
  const s = SqliteStateStore.open(file);
  s.saveSnapshot({
    nodeId: 'n1',
    peers: Array.from({ length: peers }, (_, i) => ({
      address: `10.${Math.floor(i / 65_000)}.${Math.floor(i / 250) % 250}.${i % 250}:8080`,
      meshPort: 7946,
      id: `p${i}`,
      source: 'mdns' as const,
      status: 'alive' as const,
      lastSeen: 1_000 + i,
    })),
    breakers: [],
    shutdown: { at: 5, drained: 1, cut: 0, noticesSent: null, acked: null, signals: ['SIGTERM'] },
  });
  s.close();
  return { dir, file };
}

describe('clampFutureBreakers', () => {
  it('moves an open time in the future to now and leaves the rest alone', () => {
    const now = 1_000_000;
    const future = { target: 'a', state: 'open' as const, data: { ownState: { value: 1, openedAt: now + 1e9, attemptNo: 1 }, breakerState: 0 }, updatedAt: now + 5 };
    const past = { target: 'b', state: 'open' as const, data: { ownState: { value: 1, openedAt: now - 5, attemptNo: 1 }, breakerState: 0 }, updatedAt: now - 5 };
    const garbage = { target: 'c', state: 'closed' as const, data: 'x', updatedAt: 1 };
    const { records, clamped } = clampFutureBreakers([future, past, garbage], now);
    expect(clamped).toEqual(['a']);
    expect((records[0]!.data as { ownState: { openedAt: number } }).ownState.openedAt).toBe(now);
    expect(records[0]!.updatedAt).toBe(now);
    expect(records[1]).toBe(past);
    expect(records[2]).toBe(garbage);
  });
});

describe('load() with rows it cannot use', () => {
  it('skips and names them, restores the rest', () => {
    const { file } = storeWith(3);
    const db = new Database(file);
    db.prepare("UPDATE shutdowns SET signals = '{'").run();
    db.prepare("UPDATE peers SET id = ? WHERE id = 'p1'").run('y'.repeat(1000));
    db.prepare("UPDATE peers SET address = x'00ff' WHERE id = 'p2'").run();
    db.close();
    const s = SqliteStateStore.open(file);
    cleanups.closing(s);
    const saved = s.load()!;
    expect(saved.peers.map((p) => p.id)).toEqual(['p0']);
    expect(saved.shutdowns).toEqual([]);
    expect(saved.skipped?.count).toBe(3);
    expect(saved.skipped?.rows.map((r) => r.reason).sort()).toEqual(['address is not text', 'id longer than 256 characters (1000)', 'signals are not JSON']);
    expect(s.dropUnreadableShutdowns()).toBe(1);
    expect(s.load()!.skipped?.count).toBe(2);
  });

  it(`restores at most ${MAX_RESTORED_PEERS} peers, the most recently seen`, () => {
    const { file } = storeWith(MAX_RESTORED_PEERS + 500);
    const s = SqliteStateStore.open(file);
    cleanups.closing(s);
    const t0 = performance.now();
    const saved = s.load()!;
    const loadMs = performance.now() - t0;
    expect(saved.peers).toHaveLength(MAX_RESTORED_PEERS);
    expect(Math.min(...saved.peers.map((p) => p.lastSeen!))).toBe(1_000 + 500);
    expect(saved.skipped).toEqual({ count: 500, rows: [expect.objectContaining({ table: 'peers', key: '500 rows' })] });
    // A full snapshot of what was restored stays cheap (printed for docs/operations.md).
    const t1 = performance.now();
    s.saveSnapshot({ nodeId: 'n1', peers: saved.peers, breakers: [] });
    const saveMs = performance.now() - t1;
    // The next ones write only what changed.
    const t2 = performance.now();
    const changed = saved.peers.map((p, i) => (i < 10 ? { ...p, status: 'suspect' as const } : p));
    s.saveSnapshot({ nodeId: 'n1', peers: changed.slice(1), breakers: [] });
    const againMs = performance.now() - t2;
    console.log(
      `load ${MAX_RESTORED_PEERS + 500} rows: ${loadMs.toFixed(1)} ms; snapshot of ${MAX_RESTORED_PEERS} peers: first ${saveMs.toFixed(1)} ms, next (10 changed, 1 gone) ${againMs.toFixed(1)} ms`,
    );
    expect(saveMs).toBeLessThan(2_000);
    const after = s.load()!;
    expect(after.peers).toHaveLength(MAX_RESTORED_PEERS - 1);
    expect(after.peers.filter((p) => p.status === 'suspect')).toHaveLength(9);
    expect(after.skipped).toBeUndefined();
  });

  it('an incremental snapshot after a failed one writes everything again', () => {
    const { file } = storeWith(3);
    const s = SqliteStateStore.open(file);
    cleanups.closing(s);
    const peers = s.load()!.peers;
    s.saveSnapshot({ nodeId: 'n1', peers, breakers: [] });
    // Someone else's change the cache does not know about, then a failure.
    s.db.prepare("UPDATE peers SET status = 'left'").run();
    expect(() => s.saveSnapshot({ nodeId: 'n1', peers: [...peers, { ...peers[0]!, meshPort: Number.NaN }], breakers: [] })).toThrow();
    s.saveSnapshot({ nodeId: 'n1', peers, breakers: [] });
    expect(s.load()!.peers.map((p) => p.status)).toEqual(['alive', 'alive', 'alive']);
  });
});

describe('symlinks and locks', () => {
  it('a dangling state.db link is refused and nothing is created where it points', () => {
    const dir = cleanups.tempDir('ge-harden-');
    const target = path.join(cleanups.tempDir('ge-elsewhere-'), 'x.db');
    symlinkSync(target, path.join(dir, 'state.db'));
    expect(() => openStateStore(dir)).toThrow(DataDirError);
    expect(() => openStateStore(dir)).toThrow(/is a symbolic link; refusing it/);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(path.join(dir, 'node.lock'))).toBe(false);
  });

  it('reads its own start time and writes it in the lock', () => {
    const start = processStartTime(process.pid);
    expect(start).toMatch(/^\d+$/);
    const dir = cleanups.tempDir('ge-harden-');
    const lock = lockDataDir(dir);
    cleanups.defer(() => lock.release());
    expect(lock.tookOverFrom).toBeNull();
  });

  it('a lock naming this pid with another start time, held by "another" process: taken over', () => {
    const dir = cleanups.tempDir('ge-harden-');
    // pid 1 is alive; start time 1 is certainly not its.
    writeFileSync(path.join(dir, 'node.lock'), '1\n1\n');
    const lock = lockDataDir(dir);
    cleanups.defer(() => lock.release());
    expect(lock).toMatchObject({ tookOverFrom: 1, pidReused: true });
  });
});
