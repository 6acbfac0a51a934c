/** Start-up of the store: unusable files moved aside, unusable data dirs refused. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirError, ensureWritableDataDir, openStateStore } from '../../src/store/open-store.js';
import { SqliteStateStore } from '../../src/store/sqlite-store.js';
import { LATEST_VERSION } from '../../src/store/migrations.js';
import { readState } from '../../src/store/state-command.js';
import { Cleanups } from '../helpers/cleanups.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());
const dir = () => cleanups.tempDir('ge-open-');

/** A real state file with a few peers, closed cleanly. */
function realStateFile(d: string, peers = 200): string {
  const s = SqliteStateStore.open(path.join(d, 'state.db'));
  s.saveSnapshot({
    nodeId: 'n1',
    peers: Array.from({ length: peers }, (_, i) => ({
      address: `127.0.0.1:${10_000 + i}`,
      meshPort: 7946,
      id: `peer-with-a-long-id-${i}`.repeat(4),
      source: 'static' as const,
      status: 'alive' as const,
      lastSeen: i,
    })),
    breakers: [],
  });
  s.close();
  return path.join(d, 'state.db');
}

function expectMovedAside(d: string, bytes: Buffer, reason: RegExp) {
  const opened = openStateStore(d);
  try {
    expect(opened.reason).toMatch(reason);
    expect(opened.movedAside).toMatch(/state\.db\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    expect(readFileSync(opened.movedAside!).equals(bytes)).toBe(true);
    expect(opened.store.load()).toBeNull(); // fresh
    expect(opened.store.db.pragma('integrity_check', { simple: true })).toBe('ok');
  } finally {
    opened.store.close();
  }
}

describe('openStateStore', () => {
  it('creates a missing data dir and a fresh file', () => {
    const d = path.join(dir(), 'a', 'b');
    const opened = openStateStore(d);
    expect(opened.movedAside).toBeNull();
    expect(existsSync(path.join(d, 'state.db'))).toBe(true);
    opened.store.close();
    expect(readdirSync(d).filter((f) => f.startsWith('.write-probe'))).toEqual([]);
  });

  it('opens a good file as it is', () => {
    const d = dir();
    realStateFile(d);
    const opened = openStateStore(d);
    expect(opened.movedAside).toBeNull();
    expect(opened.store.load()!.peers).toHaveLength(200);
    opened.store.close();
  });

  it('moves a file of random bytes aside', () => {
    const d = dir();
    const bytes = randomBytes(64 * 1024);
    writeFileSync(path.join(d, 'state.db'), bytes);
    expectMovedAside(d, bytes, /not a SQLite database/);
  });

  it('moves a truncated real file aside', () => {
    const d = dir();
    const file = realStateFile(d);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    expectMovedAside(d, readFileSync(file), /corrupt|malformed/);
  });

  it('moves a file from a newer schema aside', () => {
    const d = dir();
    const file = realStateFile(d);
    const s = SqliteStateStore.open(file);
    s.db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    s.close();
    expectMovedAside(d, readFileSync(file), /newer graceful-edge/);
  });

  it("moves another program's database aside", () => {
    const d = dir();
    const file = realStateFile(d);
    const s = SqliteStateStore.open(file);
    s.db.pragma('application_id = 99');
    s.close();
    expectMovedAside(d, readFileSync(file), /not a graceful-edge state file/);
  });

  it('moves the -wal and -shm companions with the file', () => {
    const d = dir();
    writeFileSync(path.join(d, 'state.db'), randomBytes(4096));
    writeFileSync(path.join(d, 'state.db-wal'), 'w');
    writeFileSync(path.join(d, 'state.db-shm'), 's');
    const opened = openStateStore(d);
    opened.store.close();
    expect(readFileSync(`${opened.movedAside}-wal`, 'utf8')).toBe('w');
    expect(readFileSync(`${opened.movedAside}-shm`, 'utf8')).toBe('s');
  });

  it('moves a crashed file from a newer schema aside with its WAL unchanged', () => {
    const d = dir();
    const file = realStateFile(d);
    // A writer that never closed: its commits live in the WAL.
    const writer = SqliteStateStore.open(file);
    writer.db.pragma('wal_autocheckpoint = 0');
    writer.db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    writer.setMeta('written', 'after the last checkpoint');
    const main = readFileSync(file);
    const wal = readFileSync(`${file}-wal`);
    const opened = openStateStore(d);
    try {
      expect(opened.reason).toMatch(/newer/);
      expect(readFileSync(opened.movedAside!).equals(main)).toBe(true);
      expect(readFileSync(`${opened.movedAside}-wal`).equals(wal)).toBe(true);
    } finally {
      opened.store.close();
      writer.close();
    }
  });

  it('refuses a data dir that is a file, naming it', () => {
    const d = dir();
    const f = path.join(d, 'plain-file');
    writeFileSync(f, 'x');
    expect(() => openStateStore(f)).toThrow(DataDirError);
    expect(() => ensureWritableDataDir(f)).toThrow(`data dir ${f} is not a directory`);
    expect(() => ensureWritableDataDir(path.join(f, 'sub'))).toThrow(new RegExp(`data dir ${f}/sub cannot be created \\(ENOTDIR\\)`));
  });

  it('the state command reads but never touches a corrupt file', () => {
    const d = dir();
    const bytes = randomBytes(8192);
    writeFileSync(path.join(d, 'state.db'), bytes);
    expect(() => readState(d)).toThrow(/cannot read .*state\.db: not a SQLite database/);
    expect(readFileSync(path.join(d, 'state.db')).equals(bytes)).toBe(true);
    expect(readdirSync(d)).toEqual(['state.db']);
    mkdirSync(path.join(d, 'empty'));
    expect(() => readState(path.join(d, 'empty'))).toThrow(/no saved state: .*does not exist/);
  });
});
