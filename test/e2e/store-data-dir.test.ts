/**
 * A data dir the node cannot write stops start-up with exit 2 and one clear
 * message naming the dir and the reason; what was in it stays intact.
 * Read-only is made for real, as root would meet it: a read-only tmpfs mount
 * and an immutable (chattr +i) directory. Both are always undone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { savedState } from '../helpers/saved-state.js';
import { sha256 } from '../store/db-inspect.js';

const { nodes, cleanups } = testScope();

const isRoot = process.getuid?.() === 0;
const canMount = isRoot && spawnSync('mount', ['--version']).status === 0;
const canChattr = isRoot && spawnSync('chattr', ['--help']).error === undefined;
if (!canMount) console.warn('skipping the read-only mount test: needs root and mount(8)');
if (!canChattr) console.warn('skipping the immutable dir test: needs root and chattr(1)');

/** Runs a node once so the dir holds a real state file; returns its hash. */
async function withSavedState(dataDir: string): Promise<string> {
  const n = await startNode({ dataDir, args: ['--peer', '127.0.0.1:9/7946'] });
  nodes.push(n);
  n.kill('SIGTERM');
  expect((await n.exited).code).toBe(0);
  return sha256(path.join(dataDir, 'state.db'));
}

async function expectRefused(dataDir: string, reason: RegExp) {
  const n = await startNode({ dataDir, waitFor: 'spawned' });
  nodes.push(n);
  expect(await n.exited).toEqual({ code: 2, signal: null });
  const fatal = n.logs.filter((l) => l.level === 60);
  expect(fatal).toHaveLength(1);
  expect(fatal[0]!.msg).toBe('cannot start');
  expect(String(fatal[0]!.error)).toMatch(reason);
  expect(n.logs.some((l) => l.lifecycle === 'serving')).toBe(false);
  return n;
}

describe('unusable data dir', () => {
  it.skipIf(!canMount)('read-only mount: exit 2 naming the dir (EROFS); prior data intact', async () => {
    const mnt = cleanups.tempDir('ge-ro-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
    cleanups.defer(() => execFileSync('umount', [mnt]));
    const dataDir = path.join(mnt, 'data');
    const before = await withSavedState(dataDir);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    cleanups.defer(() => execFileSync('mount', ['-o', 'remount,rw', mnt]));

    await expectRefused(dataDir, new RegExp(`^data dir ${dataDir} is not writable \\(EROFS\\)$`));
    expect(sha256(path.join(dataDir, 'state.db'))).toBe(before);
    expect(readdirSync(dataDir)).toEqual(['state.db']);
    // The operator can still read what the node remembers.
    expect(await savedState(dataDir)).toMatchObject({ peers: [expect.objectContaining({ address: '127.0.0.1:9' })] });
  });

  it.skipIf(!canChattr)('immutable dir (chattr +i): exit 2 naming the dir (EPERM); prior data intact', async () => {
    const dataDir = cleanups.tempDir('ge-immutable-');
    const before = await withSavedState(dataDir);
    execFileSync('chattr', ['+i', dataDir]);
    cleanups.defer(() => execFileSync('chattr', ['-i', dataDir]));
    await expectRefused(dataDir, new RegExp(`^data dir ${dataDir} is not writable \\(EPERM\\)$`));
    expect(sha256(path.join(dataDir, 'state.db'))).toBe(before);
  });

  it('a data dir that is a file, or lies under one: exit 2 naming it', async () => {
    const dir = cleanups.tempDir('ge-notdir-');
    const file = path.join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    await expectRefused(file, new RegExp(`data dir ${file} is not a directory`));
    await expectRefused(path.join(file, 'sub'), new RegExp(`data dir ${file}/sub cannot be created \\(ENOTDIR\\)`));
  });

  it('a state.db that is a directory is moved aside, not fatal', async () => {
    const dataDir = cleanups.tempDir('ge-dirdb-');
    mkdirSync(path.join(dataDir, 'state.db'));
    writeFileSync(path.join(dataDir, 'state.db', 'keep.txt'), 'keep');
    const n = await startNode({ dataDir });
    nodes.push(n);
    const w = n.logs.find((l) => /moved aside/.test(String(l.msg)));
    expect(w).toMatchObject({ msg: 'state file unusable: moved aside, starting fresh', reason: 'not a regular file' });
    expect(path.basename(String(w?.stateFile))).toBe('state.db');
    expect(readdirSync(String(w!.movedAside))).toEqual(['keep.txt']);
    n.kill('SIGTERM');
    expect((await n.exited).code).toBe(0);
  });
});
