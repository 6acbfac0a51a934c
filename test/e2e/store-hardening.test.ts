/**
 * Issue 11, items 10–14: state files are input. A breaker "opened in the
 * future" is clamped; unreadable rows are skipped and reported while the rest
 * restores (and a copy keeps them); a file whose state cannot be loaded at
 * all is moved aside, never overwritten; restored data is bounded; a
 * symlinked state file is refused; a lock naming a reused pid is stale.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminState, breakersOf } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import { deadUrl } from '../helpers/ports.js';
import { savedState } from '../helpers/saved-state.js';
import { until } from '../helpers/wait.js';
import { sha256 } from '../store/db-inspect.js';

const { nodes, cleanups } = testScope();
const data = () => cleanups.tempDir('ge-harden-');

/** A node that ran once with two static peers and stopped gracefully. */
async function stateWithPeers(dataDir: string, extra: string[] = []): Promise<void> {
  const n = await startNode({ dataDir, args: ['--peer', '127.0.3.1:18080/17946', '--peer', '127.0.3.2:18080/17946', ...extra] });
  nodes.push(n);
  n.kill('SIGTERM');
  expect(await n.exited).toEqual({ code: 0, signal: null });
}

function edit(dataDir: string, sql: string, ...params: unknown[]): number {
  const db = new Database(path.join(dataDir, 'state.db'));
  try {
    return db.prepare(sql).run(...params).changes;
  } finally {
    db.close();
  }
}

describe('a breaker opened in the future (item 10)', () => {
  it('is clamped to now: open for its own half-open delay (10 s), then half-open; one warning', async () => {
    const dead = await deadUrl();
    const dataDir = data();
    const n = await startNode({ dataDir, args: ['--upstream', dead] });
    nodes.push(n);
    for (let i = 0; i < 5; i++) await (await fetch(`${n.proxyUrl}/try/${i}`)).text();
    expect(await breakersOf(n)).toEqual([{ target: dead, state: 'open' }]);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const db = new Database(path.join(dataDir, 'state.db'));
    const row = db.prepare('SELECT data FROM breakers WHERE target = ?').get(dead) as { data: string };
    const state = JSON.parse(row.data) as { ownState: { openedAt: number } };
    state.ownState.openedAt = Date.now() + 365 * 24 * 3600 * 1000;
    db.prepare('UPDATE breakers SET data = ? WHERE target = ?').run(JSON.stringify(state), dead);
    db.close();

    const started = Date.now();
    const again = await startNode({ dataDir, args: ['--upstream', dead] });
    nodes.push(again);
    const warnings = again.logs.filter((l) => String(l.msg).includes('opened in the future'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, breakers: 1, targets: [dead] });
    expect(await breakersOf(again)).toEqual([{ target: dead, state: 'open' }]);
    // Before the fix it stayed open for a year; now half-open after ~10 s.
    await until('the clamped breaker to be half-open', async () => (await breakersOf(again))[0]?.state === 'half-open', {
      timeoutMs: 20_000,
      everyMs: 250,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
  }, 40_000);
});

describe('rows that cannot be read (item 11)', () => {
  it('one bad shutdowns.signals row and one bad peer: skipped and reported, the rest restores, the file keeps them', async () => {
    const dataDir = data();
    await stateWithPeers(dataDir);
    expect(edit(dataDir, "UPDATE shutdowns SET signals = 'not json'")).toBe(1);
    expect(edit(dataDir, "UPDATE peers SET mesh_port = 'x' WHERE address = '127.0.3.2:18080'")).toBe(1);

    // The state command reads the rest, names what it could not, exits 0.
    const r = await runCli(['state', '--data-dir', dataDir, '--json']);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as { peers: Array<{ address: string }>; shutdowns: unknown[] };
    expect(printed.peers.map((p) => p.address)).toEqual(['127.0.3.1:18080']);
    expect(printed.shutdowns).toEqual([]);
    expect(r.stderr).toContain('2 saved row(s) not read');
    expect(r.stderr).toContain('shutdowns seq 1: signals are not JSON');
    expect(r.stderr).toContain('peers 127.0.3.2:18080: mesh port is not a port number');

    const n = await startNode({ dataDir });
    nodes.push(n);
    const warn = n.logs.find((l) => String(l.msg).includes('not restored (unreadable or beyond a limit)'));
    expect(warn).toMatchObject({ level: 40, skipped: 2 });
    const copy = String(warn!.copy);
    expect(path.basename(copy)).toMatch(/^state\.db\.unread-/);
    expect(n.logs.some((l) => String(l.msg).includes('starting fresh'))).toBe(false);
    const { restored } = await adminState(n);
    expect(restored).toMatchObject({ fresh: false, peers: 1 });
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });

    // The copy still holds the rows that could not be read.
    const db = new Database(copy, { readonly: true });
    expect((db.prepare('SELECT signals FROM shutdowns').get() as { signals: string }).signals).toBe('not json');
    expect(db.prepare("SELECT mesh_port FROM peers WHERE address = '127.0.3.2:18080'").get()).toEqual({ mesh_port: 'x' });
    db.close();
    // And later starts are not "fresh" either: the new file is whole.
    const s = await savedState(dataDir);
    expect(s.shutdowns).toHaveLength(1);
    const next = await startNode({ dataDir });
    nodes.push(next);
    expect(next.logs.filter((l) => /not restored|starting fresh|state file/.test(String(l.msg))).map((l) => l.msg)).toEqual([]);
    expect((await adminState(next)).restored?.fresh).toBe(false);
  });

  it('a snapshot that cannot be loaded at all is moved aside unchanged, not overwritten', async () => {
    const dataDir = data();
    await stateWithPeers(dataDir);
    expect(edit(dataDir, 'UPDATE snapshot SET peer_count = 99')).toBe(1);
    const n = await startNode({ dataDir });
    nodes.push(n);
    const warn = n.logs.find((l) => String(l.msg).startsWith('state file unusable') && String(l.reason).includes('its saved state cannot be loaded'));
    expect(warn).toMatchObject({ level: 40 });
    const aside = String(warn!.movedAside);
    expect(path.basename(aside)).toMatch(/^state\.db\.corrupt-/);
    expect((await adminState(n)).restored).toMatchObject({ fresh: true });
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const db = new Database(aside, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM peers').get() as { n: number }).n).toBe(2);
    db.close();
  });
});

describe('bounds on restored data (item 12)', () => {
  it('a 10 MB peer id is not restored and never logged whole', async () => {
    const dataDir = data();
    await stateWithPeers(dataDir);
    expect(edit(dataDir, "UPDATE peers SET id = ? WHERE address = '127.0.3.1:18080'", 'x'.repeat(10 * 1024 * 1024))).toBe(1);
    const n = await startNode({ dataDir });
    nodes.push(n);
    const longest = Math.max(...n.logs.map((l) => JSON.stringify(l).length));
    expect(longest).toBeLessThan(16 * 1024);
    const warn = n.logs.find((l) => String(l.msg).includes('not restored'));
    expect(JSON.stringify(warn)).toContain('id longer than 256 characters (10485760)');
    const s = await adminState(n);
    expect(s.restored?.peers).toBe(1);
    expect(JSON.stringify(s).length).toBeLessThan(16 * 1024);
  });

  it('20,000 saved peers: 10,000 restored (the most recently seen), /state pages them', async () => {
    const dataDir = data();
    await stateWithPeers(dataDir);
    const db = new Database(path.join(dataDir, 'state.db'));
    const { generation } = db.prepare('SELECT generation FROM snapshot').get() as { generation: number };
    const insert = db.prepare(
      "INSERT INTO peers (address, mesh_port, id, source, status, last_seen, generation) VALUES (?, 7946, NULL, 'restored', 'alive', ?, ?)",
    );
    const now = Date.now();
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) insert.run(`127.1.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`, now - i * 1000, generation);
    })();
    db.prepare('UPDATE snapshot SET peer_count = (SELECT count(*) FROM peers)').run();
    db.close();

    const n = await startNode({ dataDir });
    nodes.push(n);
    const warn = n.logs.find((l) => String(l.msg).includes('not restored'));
    expect(warn).toMatchObject({ skipped: 10_002 });
    const first = (await (await fetch(`${n.adminUrl}/state`)).json()) as { peers: unknown[]; peersPage: { total: number; offset: number; limit: number } };
    expect(first.peersPage).toEqual({ total: 10_000, offset: 0, limit: 1000 });
    expect(first.peers).toHaveLength(1000);
    const page = (await (await fetch(`${n.adminUrl}/state?limit=1000&offset=9500`)).json()) as typeof first;
    expect(page.peersPage).toEqual({ total: 10_000, offset: 9500, limit: 1000 });
    expect(page.peers).toHaveLength(500);
    expect((await fetch(`${n.adminUrl}/state?limit=-1`)).status).toBe(400);
    // The most recently seen were kept.
    const all = (await (await fetch(`${n.adminUrl}/state?limit=10000`)).json()) as { peers: Array<{ address: string }> };
    expect(all.peers.map((p) => p.address)).toContain('127.1.0.1:8080');
    expect(all.peers.map((p) => p.address)).not.toContain('127.1.79.250:8080');
    // A snapshot of 10,000 peers stays cheap.
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const saved = n.logs.find((l) => String(l.msg).startsWith('state saved'));
    expect(Number(saved?.tookMs)).toBeLessThan(2_000);
  }, 60_000);
});

describe('state files are never symbolic links (item 13)', () => {
  it('a dangling state.db symlink: exit 2 with one clear line, nothing created where it points', async () => {
    const dataDir = data();
    const elsewhere = path.join(cleanups.tempDir('ge-elsewhere-'), 'evil.db');
    symlinkSync(elsewhere, path.join(dataDir, 'state.db'));
    const n = await startNode({ dataDir, waitFor: 'spawned' });
    nodes.push(n);
    expect((await n.exited).code).toBe(2);
    const fatal = n.logs.find((l) => l.level === 60);
    expect(fatal?.msg).toBe('cannot start');
    expect(String(fatal?.error)).toMatch(/state\.db is a symbolic link; refusing it/);
    expect(existsSync(elsewhere)).toBe(false);
    expect(existsSync(path.join(dataDir, 'node.lock'))).toBe(false);
  });

  it('a symlinked WAL is refused too', async () => {
    const dataDir = data();
    await stateWithPeers(dataDir);
    const before = sha256(path.join(dataDir, 'state.db'));
    symlinkSync('/tmp/ge-nowhere-wal', path.join(dataDir, 'state.db-wal'));
    const n = await startNode({ dataDir, waitFor: 'spawned' });
    nodes.push(n);
    expect((await n.exited).code).toBe(2);
    expect(String(n.logs.find((l) => l.level === 60 && l.msg === 'cannot start')?.error)).toMatch(/state\.db-wal is a symbolic link/);
    expect(sha256(path.join(dataDir, 'state.db'))).toBe(before);
  });
});

describe('a lock naming a reused pid (item 14)', () => {
  const sleeper = () => {
    const p = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.defer(() => p.kill('SIGKILL'));
    return p.pid!;
  };
  const startTimeOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  };

  it('records pid and start time', async () => {
    const n = await startNode();
    nodes.push(n);
    const [pid, start] = readFileSync(path.join(n.dataDir, 'node.lock'), 'utf8').split('\n');
    expect(Number(pid)).toBe(n.proc.pid);
    expect(start).toBe(startTimeOf(n.proc.pid!));
  });

  it('a live unrelated pid with another start time: stale, taken over with a warning', async () => {
    const dataDir = data();
    const pid = sleeper();
    writeFileSync(path.join(dataDir, 'node.lock'), `${pid}\n1\n`);
    const n = await startNode({ dataDir });
    nodes.push(n);
    const warn = n.logs.find((l) => String(l.msg).startsWith('data dir lock taken over'));
    expect(warn).toMatchObject({ level: 40, previousPid: pid, pidReused: true });
    expect(readFileSync(path.join(dataDir, 'node.lock'), 'utf8').split('\n')[0]).toBe(String(n.proc.pid));
  });

  it('an old pid-only lock naming a live process that is not a node: stale too', async () => {
    const dataDir = data();
    const pid = sleeper();
    writeFileSync(path.join(dataDir, 'node.lock'), `${pid}\n`);
    const n = await startNode({ dataDir });
    nodes.push(n);
    expect(n.logs.find((l) => String(l.msg).startsWith('data dir lock taken over'))).toMatchObject({ previousPid: pid, pidReused: true });
  });

  it('the same pid and start time is a live holder: exit 2', async () => {
    const dataDir = data();
    const pid = sleeper();
    writeFileSync(path.join(dataDir, 'node.lock'), `${pid}\n${startTimeOf(pid)}\n`);
    const n = await startNode({ dataDir, waitFor: 'spawned' });
    nodes.push(n);
    expect((await n.exited).code).toBe(2);
    expect(n.logs.find((l) => l.level === 60)).toMatchObject({ msg: 'cannot start', error: expect.stringContaining(`in use by another graceful-edge node (pid ${pid}`) });
    expect(readdirSync(dataDir)).toEqual(['node.lock']);
  });
});
