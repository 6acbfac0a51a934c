/** `graceful-edge state [--data-dir DIR] [--json]` from outside. */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import { sha256 } from '../store/db-inspect.js';

const { nodes, cleanups } = testScope();
const data = () => cleanups.tempDir('ge-statecmd-');

describe('graceful-edge state', () => {
  it('prints the spec JSON and a readable text form, without touching the file', async () => {
    const dataDir = data();
    const n = await startNode({ dataDir, args: ['--node-id', 'cmd-node', '--peer', '127.0.0.1:9/7001'] });
    nodes.push(n);
    n.kill('SIGTERM');
    expect((await n.exited).code).toBe(0);
    const before = sha256(path.join(dataDir, 'state.db'));

    const j = await runCli(['state', '--data-dir', dataDir, '--json']);
    expect(j.code).toBe(0);
    const s = JSON.parse(j.stdout) as Record<string, unknown>;
    expect(Object.keys(s)).toEqual(['nodeId', 'savedAt', 'shutdownAt', 'peers', 'circuitBreakers', 'shutdowns', 'transitions']);
    expect(s).toMatchObject({
      nodeId: 'cmd-node',
      peers: [{ address: '127.0.0.1:9', meshPort: 7001, id: null, source: 'static' }],
      circuitBreakers: [],
      shutdowns: [{ at: s.shutdownAt, drained: 0, cut: 0 }],
    });
    expect(s.transitions).toEqual(expect.any(Number));

    const t = await runCli(['state', '--data-dir', dataDir]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('node         cmd-node');
    expect(t.stdout).toContain(`shutdown at  ${new Date(s.shutdownAt as number).toISOString()}`);
    expect(t.stdout).toMatch(/peers \(1\)\n {2}127\.0\.0\.1:9 {2}mesh 7001 {2}id - {2}static/);
    expect(t.stdout).toMatch(/shutdowns \(1\)\n.*drained 0 {2}cut 0/);

    // GRACEFUL_EDGE_DATA_DIR is the default of --data-dir.
    const e = await runCli(['state', '--json'], { env: { GRACEFUL_EDGE_DATA_DIR: dataDir } });
    expect(JSON.parse(e.stdout)).toMatchObject({ nodeId: 'cmd-node' });

    expect(sha256(path.join(dataDir, 'state.db'))).toBe(before);
    expect(readdirSync(dataDir)).toEqual(['state.db']);
  });

  it('a missing state file: clear message, exit 1, nothing created', async () => {
    const dataDir = data();
    const empty = path.join(dataDir, 'never-ran');
    mkdirSync(empty);
    const r = await runCli(['state', '--data-dir', empty, '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`graceful-edge state: no saved state: ${path.join(empty, 'state.db')} does not exist\n`);
    expect(readdirSync(empty)).toEqual([]);
    const gone = await runCli(['state', '--data-dir', path.join(dataDir, 'no-such-dir')]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/no saved state: .*no-such-dir\/state\.db does not exist/);
  });

  it('when the proxy cannot bind, the state is saved without a shutdown record (exit 2)', async () => {
    const dataDir = data();
    const blocker = cleanups.closing(net.createServer());
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = `127.0.0.1:${(blocker.address() as AddressInfo).port}`;
    const n = await startNode({ dataDir, args: ['--peer', '127.0.0.1:9', '--listen', taken], waitFor: 'spawned' });
    nodes.push(n);
    expect((await n.exited).code).toBe(2);
    const r = await runCli(['state', '--data-dir', dataDir, '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { savedAt: number; shutdownAt: null; shutdowns: unknown[]; peers: unknown[] };
    expect(s.savedAt).toEqual(expect.any(Number));
    expect(s.shutdownAt).toBeNull();
    expect(s.shutdowns).toEqual([]);
    expect(s.peers).toHaveLength(1);
  });
});
