/**
 * A state file the node cannot use — random bytes, a truncated real file, a
 * file from a newer schema — is moved aside unchanged, the node starts fresh
 * with ONE clear log line naming where the file went, and it still stops
 * cleanly (exit 0) and saves a good new file.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import type { LogLine } from '../helpers/daemon.js';
import { savedState } from '../helpers/saved-state.js';
import { checkStateDb, sha256 } from '../store/db-inspect.js';

const { nodes, cleanups } = testScope();
const data = () => cleanups.tempDir('ge-store-bad-');

/** A real state.db written by the daemon itself, with enough peers to span many pages. */
async function realStateFile(dataDir: string): Promise<string> {
  const peers = Array.from({ length: 400 }, (_, i) => `127.0.2.${1 + (i % 200)}:${30_000 + i}/7946`);
  writeFileSync(path.join(dataDir, 'peers.json'), JSON.stringify({ peer: peers }));
  const n = await startNode({ dataDir, args: ['--config', path.join(dataDir, 'peers.json')] });
  nodes.push(n);
  n.kill('SIGTERM');
  expect((await n.exited).code).toBe(0);
  const file = path.join(dataDir, 'state.db');
  expect(checkStateDb(dataDir).peersOfSnapshot).toBe(400);
  expect(readdirSync(dataDir).filter((f) => f.startsWith('state.db'))).toEqual(['state.db']);
  return file;
}

const aboutStateFile = (l: LogLine) => (l.level ?? 0) >= 40 && l.msg === 'state file unusable: moved aside, starting fresh';

async function expectStartsFreshAndKeepsFile(dataDir: string, reason: RegExp): Promise<void> {
  const file = path.join(dataDir, 'state.db');
  const before = sha256(file);
  const n = await startNode({ dataDir });
  nodes.push(n);
  const warnings = n.logs.filter(aboutStateFile);
  expect(warnings).toHaveLength(1);
  const [w] = warnings as [LogLine];
  expect(w.level).toBe(40);
  expect(String(w.reason)).toMatch(reason);
  expect(path.basename(String(w.stateFile))).toBe('state.db');
  const aside = String(w.movedAside);
  expect(path.dirname(aside)).toBe(dataDir);
  expect(path.basename(aside)).toMatch(/^state\.db\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/);
  expect(existsSync(aside)).toBe(true);
  expect(sha256(aside)).toBe(before);
  const { restored } = await adminState(n);
  expect(restored?.fresh).toBe(true);
  expect(restored?.reason).toContain(aside);
  n.kill('SIGTERM');
  expect(await n.exited).toEqual({ code: 0, signal: null });
  // The fresh file is good and the bad one is still there, unchanged.
  expect(checkStateDb(dataDir).integrity).toBe('ok');
  expect(await savedState(dataDir)).toMatchObject({ shutdownAt: expect.any(Number), shutdowns: [expect.objectContaining({ cut: 0 })] });
  expect(sha256(aside)).toBe(before);
}

describe('unusable state files', () => {
  it('random bytes: moved aside, fresh start, one warn line', async () => {
    const dataDir = data();
    writeFileSync(path.join(dataDir, 'state.db'), randomBytes(48 * 1024));
    await expectStartsFreshAndKeepsFile(dataDir, /^not a SQLite database/);
  });

  it('a truncated real file: moved aside, fresh start', async () => {
    const dataDir = data();
    const file = await realStateFile(dataDir);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    await expectStartsFreshAndKeepsFile(dataDir, /^corrupt/);
  });

  it('a file from a newer schema: moved aside, fresh start', async () => {
    const dataDir = data();
    const file = await realStateFile(dataDir);
    const db = new Database(file);
    db.pragma('journal_mode = DELETE');
    db.pragma('user_version = 99');
    db.close();
    await expectStartsFreshAndKeepsFile(dataDir, /written by a newer graceful-edge \(schema version 99/);
  });

  it('the state command reports a bad file, exits non-zero and leaves it untouched', async () => {
    const dataDir = data();
    const file = path.join(dataDir, 'state.db');
    writeFileSync(file, randomBytes(8192));
    const before = sha256(file);
    const r = await runCli(['state', '--data-dir', dataDir, '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^graceful-edge state: cannot read .*state\.db: not a SQLite database/);
    expect(sha256(file)).toBe(before);
    expect(readdirSync(dataDir)).toEqual(['state.db']);
  });
});
