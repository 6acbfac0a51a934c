/** Configuration as an operator meets it: the real CLI, exit codes, one clear line. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startNode } from '../helpers/daemon.js';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';

const scope = testScope();

describe('configuration from outside', () => {
  it.each([
    [['run', '--drain-timeout', 'soon'], '--drain-timeout'],
    [['run', '--listen', 'localhost'], '--listen'],
    [['run', '--restart-timeout', '0.5'], '--restart-timeout'],
    [['run', '--admin', '0.0.0.0:0'], '--admin-token'],
    [['run', '--no-such-flag'], 'unknown option'],
  ])('%j exits 2 with one line naming %s', async (args, option) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(option);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it.each([
    [{ GRACEFUL_EDGE_SNAPSHOT_INTERVAL: '-1' }, '--snapshot-interval'],
    [{ GRACEFUL_EDGE_RESTART_TIMEOUT: 'soon' }, '--restart-timeout'],
  ])('a bad env value %j exits 2 naming %s', async (env, option) => {
    const r = await runCli(['run'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(option);
  });

  it('a config file is used, env overrides it, a flag overrides both', async () => {
    const dir = scope.cleanups.tempDir('ge-config-');
    const file = path.join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ nodeId: 'from-file', drainTimeout: 9, upstream: ['http://127.0.0.1:1'] }));
    const n = await startNode({
      args: ['--config', file, '--node-id', 'from-flag'],
      env: { GRACEFUL_EDGE_DRAIN_TIMEOUT: '4' },
    });
    scope.nodes.push(n);
    const state = await adminState(n);
    expect(state.nodeId).toBe('from-flag');
    const json = (await (await fetch(`${n.adminUrl}/state`)).json()) as { upstreams: string[] };
    expect(json.upstreams).toEqual(['http://127.0.0.1:1']);
    n.kill('SIGTERM');
    await n.waitForLog((l) => l.lifecycle === 'draining');
    const draining = n.logs.find((l) => l.lifecycle === 'draining');
    expect(draining?.budgetMs).toBe(4_000);
    expect((await n.exited).code).toBe(0);
  });
});
