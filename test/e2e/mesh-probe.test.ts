/**
 * A peer remembered from the last run comes back as `suspect` and gets no
 * traffic until it proves it serves: a signed mesh ping answered by a pong
 * (or, without a key, a TCP connect to its proxy).
 */
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { metricsText, peerStatus, peersOf } from '../helpers/admin.js';
import { until } from '../helpers/wait.js';
import { MESH_KEY } from '../mesh/support.js';

const { nodes, cleanups } = testScope();

async function restoredSuspect(env: NodeJS.ProcessEnv) {
  const bProxy = `127.0.0.1:${await freeTcpPort()}`;
  const bMesh = await freeUdpPort();
  const dataDir = cleanups.tempDir();
  // First run: A knows B as a static peer (B is not running) and saves it at shutdown.
  const first = await startNode({ dataDir, args: ['--node-id', 'node-a', '--drain-timeout', '1', '--peer', `${bProxy}/${bMesh}`], env });
  nodes.push(first);
  first.kill('SIGTERM');
  expect((await first.exited).code).toBe(0);
  // Second run: no --peer; B can only come from the saved state.
  const a = await startNode({ dataDir, args: ['--node-id', 'node-a', '--drain-timeout', '1'], env });
  nodes.push(a);
  const peer = (await peersOf(a.adminUrl)).find((p) => p.address === bProxy);
  return { a, bProxy, bMesh, peer };
}

describe('restored peers are probed before they get traffic', () => {
  it('with a key: suspect until a signed ping is answered, then alive', async () => {
    const env = { GRACEFUL_EDGE_MESH_KEY: MESH_KEY };
    const { a, bProxy, bMesh, peer } = await restoredSuspect(env);
    // The store restores remembered peers; a missing one is a regression, not a reason to skip.
    if (!peer) throw new Error('the restarted node did not restore its peer from state.db');
    expect(peer).toMatchObject({ source: 'restored', status: 'suspect' });
    // Several probe rounds go unanswered: it stays suspect and gets no traffic.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await peerStatus(a, bProxy)).toBe('suspect');
    const r = await fetch(`${a.proxyUrl}/x`);
    expect(r.status).toBe(503);
    await r.text();

    const started = Date.now();
    const b = await startNode({ args: ['--node-id', 'node-b', '--listen', bProxy, '--mesh-port', String(bMesh)], env });
    nodes.push(b);
    await until('B alive after a probe', async () => (await peerStatus(a, bProxy)) === 'alive', { timeoutMs: 5_000 });
    const line = await a.waitForLog((l) => l.peer === bProxy && l.msg === 'probe succeeded: peer alive' && l.probe === 'mesh ping');
    console.log(`[mesh] restored suspect → alive ${Date.now() - started} ms after B started: ${line.msg}`);
    expect((await peersOf(a.adminUrl)).find((p) => p.address === bProxy)?.id).toBe('node-b');
    // B answered a ping: it counted one accepted ping.
    const text = await metricsText(b);
    expect(text).toMatch(/graceful_edge_mesh_notices_total\{kind="ping",verdict="accepted"\} [1-9]/);
  });

  it('without a key: a TCP connect to the proxy is the probe', async () => {
    const env = { GRACEFUL_EDGE_MESH_KEY: '' };
    const { a, bProxy, bMesh, peer } = await restoredSuspect(env);
    // The store restores remembered peers; a missing one is a regression, not a reason to skip.
    if (!peer) throw new Error('the restarted node did not restore its peer from state.db');
    expect(peer.status).toBe('suspect');
    await new Promise((r) => setTimeout(r, 600));
    expect(await peerStatus(a, bProxy)).toBe('suspect');
    const b = await startNode({ args: ['--node-id', 'node-b', '--listen', bProxy, '--mesh-port', String(bMesh)], env });
    nodes.push(b);
    await until('B alive after a TCP probe', async () => (await peerStatus(a, bProxy)) === 'alive', { timeoutMs: 5_000 });
    await a.waitForLog((l) => l.peer === bProxy && l.msg === 'probe succeeded: peer alive' && l.probe === 'tcp connect');
  });

  it('a peer that left gracefully and restarts gets traffic again once it answers a probe; while draining it does not', async () => {
    // Each step waits for what it needs to see, with deadlines far above the
    // time it takes; nothing depends on how fast the host is.
    const env = { GRACEFUL_EDGE_MESH_KEY: MESH_KEY };
    const [aProxy, bProxy] = [`127.0.0.1:${await freeTcpPort()}`, `127.0.0.1:${await freeTcpPort()}`];
    const [aMesh, bMesh] = [await freeUdpPort(), await freeUdpPort()];
    const a = await startNode({ args: ['--node-id', 'node-a', '--listen', aProxy, '--mesh-port', String(aMesh), '--peer', `${bProxy}/${bMesh}`], env });
    nodes.push(a);
    const bArgs = ['--node-id', 'node-b', '--listen', bProxy, '--mesh-port', String(bMesh), '--peer', `${aProxy}/${aMesh}`];
    // B drains for longer than this test waits (shutdown delay): its mesh
    // socket is open but it must not answer pings. A second signal ends it.
    const b1 = await startNode({ args: [...bArgs, '--shutdown-delay', '60', '--drain-timeout', '90'], env });
    nodes.push(b1);
    await until('B known at A by its id', async () => (await peersOf(a.adminUrl)).find((p) => p.address === bProxy)?.id === 'node-b', { timeoutMs: 30_000 });
    b1.kill('SIGTERM');
    await until('B left', async () => (await peerStatus(a, bProxy)) === 'left', { timeoutMs: 20_000 });
    // A probes the draining B; B refuses to look alive, and A keeps it left.
    await until('A pinged the draining B', async () => /graceful_edge_mesh_notices_total\{kind="ping",verdict="not_serving"\} [1-9]/.test(await metricsText(b1)), {
      timeoutMs: 30_000,
    });
    expect(await peerStatus(a, bProxy)).toBe('left');
    expect(b1.proc.exitCode).toBeNull();
    b1.kill('SIGTERM');
    expect((await b1.exited).code).toBe(0);

    const b2 = await startNode({ args: bArgs, env, dataDir: b1.dataDir });
    nodes.push(b2);
    const t0 = Date.now();
    // B's first ping tells A it is back; A's own probe, answered, gives it traffic again.
    const back = await a.waitForLog((l) => l.peer === bProxy && l.msg === 'probe succeeded: peer alive', 30_000);
    console.log(`[mesh] restarted B routable again at A ${Date.now() - t0} ms after it served`);
    expect(back).toMatchObject({ probe: 'mesh ping', was: 'left' });
    await until('B alive again', async () => (await peerStatus(a, bProxy)) === 'alive', { timeoutMs: 10_000 });
    const text = await metricsText(b2);
    expect(text).toMatch(/graceful_edge_mesh_notices_total\{kind="ping",verdict="accepted"\} [1-9]/);
  }, 180_000);
});
