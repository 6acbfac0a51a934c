/**
 * Three real nodes A, B, C and an origin on loopback, static peers and a
 * shared key. Load goes through A, which routes to B and C. SIGTERM on B:
 * its signed leave notice takes it out of A's routing at once (measured) and
 * no client request fails. SIGKILL on B: only A's breakers can take it out;
 * the test prints what that costs.
 */
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { breakersOf, metric, peerStatus } from '../helpers/admin.js';
import { until } from '../helpers/wait.js';
import { MESH_KEY } from '../mesh/support.js';
import { delayedBody, startOrigin } from '../proxy/support/origin.js';

const { nodes, cleanups } = testScope();

/** A few ms of work per request, so requests are in flight at B when the signal comes. */
const WORK = '/delay?ms=5';

async function origin(): Promise<string> {
  return cleanups.closing(await startOrigin()).url;
}

interface Spec {
  id: string;
  proxy: string;
  mesh: number;
}

async function mesh(originUrl: string) {
  const specs: Spec[] = [];
  for (const id of ['node-a', 'node-b', 'node-c']) specs.push({ id, proxy: `127.0.0.1:${await freeTcpPort()}`, mesh: await freeUdpPort() });
  const started = await Promise.all(
    specs.map((s) =>
      startNode({
        args: [
          '--node-id', s.id,
          '--listen', s.proxy,
          '--mesh-port', String(s.mesh),
          '--drain-timeout', '10',
          // A sends only to peers; B and C forward to the origin.
          ...(s.id === 'node-a' ? [] : ['--upstream', originUrl]),
          ...specs.filter((o) => o !== s).flatMap((o) => ['--peer', `${o.proxy}/${o.mesh}`]),
        ],
        env: { GRACEFUL_EDGE_MESH_KEY: MESH_KEY },
      }),
    ),
  );
  nodes.push(...started);
  const [a, b, c] = started as [NodeProcess, NodeProcess, NodeProcess];
  return { a, b, c, specs };
}

interface Load {
  stop(): Promise<{ ok: number; failed: number; failures: string[] }>;
  ok(): number;
}

/** Bounded load: 4 workers, at most 20 s and 20 000 requests. */
function load(url: string): Load {
  let stopped = false;
  let ok = 0;
  const failures: string[] = [];
  const deadline = Date.now() + 20_000;
  const worker = async () => {
    while (!stopped && Date.now() < deadline && ok + failures.length < 20_000) {
      try {
        const r = await fetch(`${url}${WORK}`);
        const body = await r.text();
        if (r.status === 200) ok++;
        else failures.push(`${r.status} ${body.slice(0, 120)}`);
      } catch (error) {
        failures.push(`error ${(error as Error).message} ${String((error as { cause?: unknown }).cause ?? '')}`);
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    ok: () => ok,
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
      return { ok, failed: failures.length, failures };
    },
  };
}

/** Whether A forwards to its peers yet (the proxy's routing lands separately). */
async function routesThroughPeers(a: NodeProcess): Promise<string | null> {
  const r = await fetch(`${a.proxyUrl}${WORK}`);
  const body = await r.text();
  return r.status === 200 && body === delayedBody(5) ? null : `A answered ${r.status} ${body.slice(0, 100)}`;
}

describe('three nodes, leave notices under load', () => {
  it('SIGTERM on B: A drops B within 100 ms, B logs acks from A and C, no client request fails', async () => {
    const { a, b, c, specs } = await mesh(await origin());
    const [, bSpec] = specs as [Spec, Spec, Spec];
    const noRouting = await routesThroughPeers(a);
    if (noRouting) throw new Error(`A does not route to its peers: ${noRouting}`);

    const traffic = load(a.proxyUrl);
    await until('some load through A', async () => traffic.ok() > 200, { timeoutMs: 10_000 });
    const viaB = await metric(b.adminUrl, 'graceful_edge_requests_total', { outcome: 'ok' });
    const viaC = await metric(c.adminUrl, 'graceful_edge_requests_total', { outcome: 'ok' });
    console.log(`[mesh] before SIGTERM: ${traffic.ok()} requests through A; B forwarded ${viaB}, C forwarded ${viaC}`);
    expect(viaB).toBeGreaterThan(0);
    expect(viaC).toBeGreaterThan(0);

    // Watch A's /state as closely as the admin listener answers.
    const t0 = performance.now();
    b.kill('SIGTERM');
    let polls = 0;
    await until("B 'left' in A's /state", async () => (polls++, (await peerStatus(a.adminUrl, bSpec.proxy)) === 'left'), { timeoutMs: 5_000, everyMs: 5 });
    const dropMs = performance.now() - t0;
    const bSignal = await b.waitForLog((l) => l.signal === 'SIGTERM' && l.msg === 'signal received: shutting down');
    const aLeft = await a.waitForLog((l) => l.peer === bSpec.proxy && l.msg === 'peer left' && l.reason === 'leave notice');
    const logMs = Number(aLeft.time) - Number(bSignal.time);
    console.log(`[mesh] A's /state showed B left ${dropMs.toFixed(1)} ms after kill(SIGTERM) (${polls} polls); B's signal log → A's "peer left" log: ${logMs} ms`);
    expect(dropMs).toBeLessThan(100);
    expect(await peerStatus(c.adminUrl, bSpec.proxy)).toBe('left');

    expect(await b.exited).toEqual({ code: 0, signal: null });
    const acks = b.logs.filter((l) => l.mesh === 'ack' && l.msg === 'leave notice acked').map((l) => String(l.peerId));
    console.log(`[mesh] B's log: leave notice acked by ${acks.join(', ')}; ${b.logs.find((l) => l.mesh === 'leave')?.msg}`);
    expect(acks).toEqual(expect.arrayContaining(['node-a', 'node-c']));

    // Keep the load on a while after B is gone: C takes it all.
    const okAtExit = traffic.ok();
    await until('load after B left', async () => traffic.ok() > okAtExit + 200, { timeoutMs: 10_000 });
    const result = await traffic.stop();
    console.log(`[mesh] SIGTERM case: ${result.ok} ok, ${result.failed} failed${result.failed ? `: ${result.failures.slice(0, 5).join(' | ')}` : ''}`);
    expect(result.failed).toBe(0);

    const state = await runCli(['state', '--json', '--data-dir', b.dataDir]);
    expect(state.code, state.stderr).toBe(0);
    const saved = JSON.parse(state.stdout) as { shutdowns: Array<{ noticesSent?: number | null; acked?: number | null }> };
    const last = saved.shutdowns.at(-1);
    console.log(`[mesh] B's shutdown record: ${JSON.stringify(last)}`);
    expect(last).toMatchObject({ noticesSent: 2, acked: 2 });
  });

  it('SIGKILL on B: no notice, only A\'s breakers take B out — the contrast', async () => {
    const { a, b, specs } = await mesh(await origin());
    const [, bSpec] = specs as [Spec, Spec, Spec];
    const noRouting = await routesThroughPeers(a);
    if (noRouting) throw new Error(`A does not route to its peers: ${noRouting}`);
    const traffic = load(a.proxyUrl);
    await until('some load through A', async () => traffic.ok() > 200, { timeoutMs: 10_000 });
    const retriedBefore = await metric(a.adminUrl, 'graceful_edge_requests_total', { outcome: 'retried' });
    const t0 = performance.now();
    b.kill('SIGKILL');
    await b.exited;
    // B stays 'alive' in A's table (nobody told A); the breaker for B must open.
    const breakerOpen = async () => {
      return (await breakersOf(a)).some((cb) => cb.target.includes(bSpec.proxy) && cb.state !== 'closed');
    };
    let breakerMs: number | null = null;
    try {
      await until("A's breaker for B to open", breakerOpen, { timeoutMs: 10_000, everyMs: 2 });
      breakerMs = performance.now() - t0;
    } catch {
      breakerMs = null;
    }
    const okAtOpen = traffic.ok();
    await until('load after the breaker opened', async () => traffic.ok() > okAtOpen + 200, { timeoutMs: 10_000 });
    const result = await traffic.stop();
    const retried = (await metric(a.adminUrl, 'graceful_edge_requests_total', { outcome: 'retried' })) - retriedBefore;
    console.log(
      `[mesh] SIGKILL case: B still '${await peerStatus(a.adminUrl, bSpec.proxy)}' in A's table; breaker opened ${breakerMs === null ? 'never (within 10 s)' : `${breakerMs.toFixed(0)} ms`} after the kill; ` +
        `${result.ok} ok, ${result.failed} failed, ${retried} retried on another target${result.failed ? `: ${result.failures.slice(0, 3).join(' | ')}` : ''}`,
    );
    expect(result.ok).toBeGreaterThan(0);
  });
});
