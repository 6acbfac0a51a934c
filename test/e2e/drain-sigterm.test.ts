/**
 * SIGTERM with a slow request in flight and a kept-alive client: the slow one
 * completes in full, readiness fails, the listener refuses new connections, a
 * late request on the open connection gets the draining 503 (or reaches a
 * live peer), and the node exits 0 as soon as the work is done.
 */
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import { freeUdpPort } from '../helpers/ports.js';
import { startOrigin, slowBody } from '../proxy/support/origin.js';
import { RawConnection, tryConnect } from '../proxy/support/raw-http.js';
import { slowGet } from '../proxy/support/slow-client.js';

const { nodes, cleanups } = testScope();

describe.each(['undici', 'http-proxy'] as const)('SIGTERM drain (engine %s)', (engine) => {
  it('completes the slow request, refuses new connections and answers a late request with the draining 503', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({
      args: ['--upstream', origin.url, '--shutdown-delay', '0', '--drain-timeout', '15', '--proxy-engine', engine],
    });
    nodes.push(n);

    const keep = cleanups.closing(await RawConnection.open(n.proxy));
    const warm = await keep.request('GET', '/warm');
    expect(warm.status).toBe(200);
    expect(warm.headers.connection).not.toBe('close');

    const slow = slowGet(`${n.proxyUrl}/slow?ms=3000&chunks=10`);
    await slow.started;
    const t0 = Date.now();
    n.kill('SIGTERM');
    await n.waitForLog((l) => l.phase === 'waiting');

    const [late, ready, fresh] = await Promise.all([
      keep.request('GET', '/late'),
      fetch(`${n.adminUrl}/readyz`),
      tryConnect(n.proxy),
    ]);
    expect(late.status).toBe(503);
    expect(late.headers.connection).toBe('close');
    expect(late.headers['retry-after']).toBeDefined();
    expect(late.headers['x-graceful-edge-draining']).toBe('1');
    expect(JSON.parse(late.body)).toMatchObject({ error: expect.any(String) });
    expect(ready.status).toBe(503);
    expect(fresh).toBe('ECONNREFUSED');
    await keep.closed;

    const s = await slow.done;
    expect(s.error).toBeNull();
    expect(s.status).toBe(200);
    expect(s.body).toBe(slowBody(10));

    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(13_500);
    const drained = n.logs.find((l) => l.phase === 'drained');
    expect(drained?.drained).toBeGreaterThanOrEqual(2);
    expect(n.logs.some((l) => l.phase === 'cutting')).toBe(false);
    expect(origin.seen.map((r) => r.url)).not.toContain('/late');

    // The saved shutdown record, as `state --json` prints it.
    const st = await runCli(['state', '--data-dir', n.dataDir, '--json']);
    expect(st.code, st.stderr).toBe(0);
    const saved = JSON.parse(st.stdout) as { shutdownAt: number | null; shutdowns: Array<{ drained: number; cut: number }> };
    expect(saved.shutdownAt).not.toBeNull();
    expect(saved.shutdowns.at(-1)).toMatchObject({ drained: drained?.drained, cut: 0 });
  });

  it('forwards a late request to a live peer instead', async () => {
    const origin = cleanups.closing(await startOrigin());
    const bMesh = await freeUdpPort();
    const b = await startNode({ args: ['--node-id', 'peer-b', '--upstream', origin.url, '--mesh-port', String(bMesh), '--proxy-engine', engine] });
    nodes.push(b);
    const a = await startNode({
      args: ['--node-id', 'node-a', '--upstream', origin.url, '--peer', `${b.proxy}/${bMesh}`, '--shutdown-delay', '0', '--drain-timeout', '15', '--proxy-engine', engine],
    });
    nodes.push(a);

    const keep = cleanups.closing(await RawConnection.open(a.proxy));
    expect((await keep.request('GET', '/warm')).status).toBe(200);
    const slow = slowGet(`${a.proxyUrl}/slow?ms=2000&chunks=5`);
    await slow.started;
    a.kill('SIGTERM');
    await a.waitForLog((l) => l.phase === 'waiting');

    const late = await keep.request('POST', '/late', { 'content-type': 'text/plain' }, 'late body');
    expect(late.status).toBe(200);
    expect(late.headers.connection).toBe('close');
    expect(JSON.parse(late.body)).toMatchObject({ url: '/late', method: 'POST', body: 'late body' });
    const atOrigin = origin.seen.filter((r) => r.url === '/late');
    expect(atOrigin).toHaveLength(1);
    // It went through the peer, which marked nothing further and sent it to its upstream.
    expect(atOrigin[0]!.headers['x-graceful-edge-hop']).toBe('node-a');

    const s = await slow.done;
    expect(s.status).toBe(200);
    expect(s.body).toBe(slowBody(5));
    expect(await a.exited).toEqual({ code: 0, signal: null });
    b.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });
  });

  it('during --shutdown-delay still serves, every answer with Connection: close', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--shutdown-delay', '2', '--drain-timeout', '10', '--proxy-engine', engine] });
    nodes.push(n);
    const keep = cleanups.closing(await RawConnection.open(n.proxy));
    expect((await keep.request('GET', '/before')).headers.connection).not.toBe('close');
    n.kill('SIGTERM');
    await n.waitForLog((l) => l.phase === 'delaying');
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(503);
    const during = await keep.request('GET', '/during-delay');
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    await keep.closed;
    // New connections are still accepted until the delay is over.
    const fresh = cleanups.closing(await RawConnection.open(n.proxy));
    const r = await fresh.request('GET', '/fresh-during-delay');
    expect(r.status).toBe(200);
    expect(r.headers.connection).toBe('close');
    expect(n.logs.some((l) => l.phase === 'waiting')).toBe(false);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const stop = n.logs.find((l) => l.phase === 'waiting');
    expect(Number(stop?.sinceShutdownMs)).toBeGreaterThanOrEqual(1_900);
  });
});
