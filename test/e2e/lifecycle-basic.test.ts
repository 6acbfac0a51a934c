/** The daemon from outside: starts, serves, answers, exits 0 on SIGTERM. */
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';

const { nodes } = testScope();

describe('daemon basics', () => {
  it('with no target answers 503 with a JSON body, is ready, and exits 0 on SIGTERM', async () => {
    const n = await startNode();
    nodes.push(n);
    const r = await fetch(`${n.proxyUrl}/anything`);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ error: expect.stringContaining('no target') });
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${n.adminUrl}/healthz`)).status).toBe(200);
    expect(await adminState(n)).toMatchObject({ lifecycle: 'serving', inFlight: 0, peers: [], circuitBreakers: [] });
    // The bound addresses, as the listeners reported them to the chart (ADMIN/PROXY/MESH.LISTENING).
    expect(await adminState(n)).toMatchObject({ listen: { proxy: n.proxy, admin: n.admin, mesh: expect.any(Number) } });
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const entered = n.logs.filter((l) => l.lifecycle).map((l) => l.lifecycle);
    expect(entered).toEqual(['starting', 'restoring', 'serving', 'deregistering', 'draining', 'persisting', 'stopped']);
  });

  it('a bad flag exits 2 naming the option', async () => {
    const { runCli } = await import('../helpers/daemon.js');
    const r = await runCli(['run', '--drain-timeout', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--drain-timeout/);
  });
});
