/**
 * Routing from outside: a refused upstream and a draining peer are retried
 * once on another target (bodies included), proxy errors answer 502/504 with
 * JSON, and a request another node forwarded never goes to a peer again.
 */
import { describe, expect, it } from 'vitest';
import { metricBy } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { deadUrl, freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { startOrigin } from '../proxy/support/origin.js';
import type { Origin } from '../proxy/support/origin.js';
import { startDrainingPeer } from '../proxy/support/fake-peer.js';

const { nodes, cleanups } = testScope();

const origin = async (): Promise<Origin> => cleanups.closing(await startOrigin());
const drainingPeer = async () => cleanups.closing(await startDrainingPeer());

async function post(url: string, body: string) {
  const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

const outcomes = (n: NodeProcess) => metricBy(n, 'graceful_edge_requests_total', 'outcome');

describe.each(['undici', 'http-proxy'] as const)('routing (engine %s)', (engine) => {
  it('retries a refused upstream once on another target, POST body included', async () => {
    const o = await origin();
    const dead = await deadUrl();
    const n = await startNode({ args: ['--upstream', dead, '--upstream', o.url, '--proxy-engine', engine] });
    nodes.push(n);
    for (let i = 0; i < 4; i++) {
      const r = await post(`${n.proxyUrl}/submit/${i}`, `payload-${i}`);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ method: 'POST', url: `/submit/${i}`, body: `payload-${i}` });
    }
    // Each request reached the origin exactly once.
    expect(o.seen.map((s) => s.url).sort()).toEqual(['/submit/0', '/submit/1', '/submit/2', '/submit/3']);
    expect((await outcomes(n)).retried).toBeGreaterThanOrEqual(1);
  });

  it('retries a peer that answered its draining 503 on another target', async () => {
    const o = await origin();
    const peer = await drainingPeer();
    const n = await startNode({ args: ['--node-id', 'node-r', '--upstream', o.url, '--peer', peer.address, '--proxy-engine', engine] });
    nodes.push(n);
    for (let i = 0; i < 4; i++) {
      const r = await post(`${n.proxyUrl}/order/${i}`, `item-${i}`);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ url: `/order/${i}`, body: `item-${i}` });
    }
    expect(peer.seen.length).toBeGreaterThanOrEqual(1);
    expect(peer.seen[0]!.headers['x-graceful-edge-hop']).toBe('node-r');
    expect(peer.seen[0]!.body).toMatch(/^item-/);
    expect(o.seen).toHaveLength(4);
  });

  it('does not retry when more than the replay copy (64 KiB) was already sent: 502 JSON', async () => {
    const o = await origin();
    const peer = await drainingPeer();
    const n = await startNode({ args: ['--upstream', o.url, '--peer', peer.address, '--proxy-engine', engine] });
    nodes.push(n);
    const big = 'x'.repeat(200 * 1024);
    const results = [await post(`${n.proxyUrl}/big`, big), await post(`${n.proxyUrl}/big`, big)];
    expect(results.map((r) => r.status).sort()).toEqual([200, 502]);
    const bad = results.find((r) => r.status === 502)!;
    expect(String(bad.json.error)).toMatch(/too large to retry/);
    expect(o.seen).toHaveLength(1);
  });

  it('answers 502 and 504 with a short JSON body and keeps serving', async () => {
    const o = await origin();
    const n = await startNode({ args: ['--upstream', o.url, '--target-timeout', '1', '--proxy-engine', engine] });
    nodes.push(n);
    const reset = await fetch(`${n.proxyUrl}/reset`);
    expect(reset.status).toBe(502);
    expect(reset.headers.get('content-type')).toMatch(/json/);
    expect(await reset.json()).toMatchObject({ error: expect.stringMatching(/bad gateway/) });
    const hang = await fetch(`${n.proxyUrl}/hang`);
    expect(hang.status).toBe(504);
    expect(await hang.json()).toMatchObject({ error: 'target timed out' });
    expect((await fetch(`${n.proxyUrl}/still-fine`)).status).toBe(200);
    const counted = await outcomes(n);
    expect(counted).toMatchObject({ bad_gateway: 1, timeout: 1, ok: 1 });

    const refused = await startNode({ args: ['--upstream', await deadUrl(), '--proxy-engine', engine] });
    nodes.push(refused);
    const r = await fetch(`${refused.proxyUrl}/x`);
    expect(r.status).toBe(502);
    expect(await r.json()).toMatchObject({ error: 'bad gateway: ECONNREFUSED' });
    expect(n.proc.exitCode).toBeNull();
  });

  it('never forwards a request that carries x-graceful-edge-hop to a peer', async () => {
    const o = await origin();
    const [portA, meshA, meshB] = [await freeTcpPort(), await freeUdpPort(), await freeUdpPort()];
    // B knows A and has the upstream; A knows B and has none.
    const b = await startNode({
      args: ['--node-id', 'node-b', '--upstream', o.url, '--mesh-port', String(meshB), '--peer', `127.0.0.1:${portA}/${meshA}`, '--proxy-engine', engine],
    });
    nodes.push(b);
    const a = await startNode({
      args: ['--node-id', 'node-a', '--listen', `127.0.0.1:${portA}`, '--mesh-port', String(meshA), '--peer', `${b.proxy}/${meshB}`, '--proxy-engine', engine],
    });
    nodes.push(a);

    // Through A to B: B must send it to its upstream, never back to A.
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${a.proxyUrl}/via-peer/${i}`);
      expect(r.status).toBe(200);
    }
    expect(o.seen).toHaveLength(4);
    for (const s of o.seen) expect(s.headers['x-graceful-edge-hop']).toBe('node-a');

    // Already forwarded once: A has no upstream, so it refuses instead of using B.
    const hop = await fetch(`${a.proxyUrl}/hopped`, { headers: { 'x-graceful-edge-hop': 'node-z' } });
    expect(hop.status).toBe(503);
    expect(await hop.json()).toMatchObject({ error: expect.stringMatching(/no upstream/) });
    expect(o.seen).toHaveLength(4);
    expect((await outcomes(a)).hop_refused).toBe(1);
  });
});
