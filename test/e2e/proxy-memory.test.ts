/**
 * Memory from outside (issue 8 goal 3): a node on its defaults keeps its
 * idle RSS (VmRSS in /proc/PID/status) under a bound, and does not load what
 * the run does not use. What is loaded is observed with the runtime's own
 * module tracing (NODE_DEBUG=module,esm: every CommonJS package Node resolves
 * and every ES module it loads is named on stderr), with a positive control
 * for each package so the observation is known to see it when it is loaded.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';
import type { Netns } from '../helpers/netns.js';
import { deadUrl } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { startOrigin } from '../proxy/support/origin.js';

const { nodes } = testScope();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * With margin for a shared machine (docs/performance.md, "Memory": 59–61 MiB
 * measured on Node 20 1.5 s after serving, ~55 once V8's memory reducer has
 * run). It catches the optimising compiler running at start again (+10 MiB),
 * zod's classic API loaded from node_modules (+5–13), etcd3 + gRPC (+25) or
 * the whole undici package. Node 24's binary and heap start larger (93 MiB
 * idle against 79–82 on Node 20 before these changes); this tree was not
 * measured there (docs/performance.md says why), so its bound is the old
 * figure less what is runtime-independent here (zod, lazy packages), plus margin.
 */
const IDLE_RSS_BOUND_MIB = Number(process.versions.node.split('.')[0]) >= 22 ? 95 : 67;

function rssMiB(n: NodeProcess): number {
  const status = readFileSync(`/proc/${n.proc.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

/** Packages under node_modules that Node's module tracing saw this process load (CommonJS and ES modules). */
function loadedPackages(n: NodeProcess): Set<string> {
  const names = new Set<string>();
  for (const m of n.stderr().matchAll(/node_modules\/((?:@[^/\s'"]+\/)?[^/\s'"]+)/g)) names.add(m[1]!);
  return names;
}

const traced = { NODE_DEBUG: 'module,esm' };

/**
 * Loaded only when used: etcd3 and gRPC with --etcd, bonjour-service with
 * mDNS, http-proxy-3 on the first WebSocket upgrade (or the http-proxy
 * engine's first request), @statelyai/inspect and ws with --inspector-url.
 * zod is bundled (tree-shaken), so never loaded from node_modules.
 */
const NOT_AT_START = ['etcd3', '@grpc/grpc-js', 'bonjour-service', 'http-proxy-3', '@statelyai/inspect', 'ws', 'zod'];

describe('memory and lazy loading', () => {
  it('--no-mdns, no --etcd: idle RSS under the bound; etcd3, gRPC, bonjour-service, http-proxy-3, the inspector and zod never loaded', async () => {
    const n = await startNode({ env: traced });
    nodes.push(n);
    await sleep(1_500);
    const rss = rssMiB(n);
    const loaded = loadedPackages(n);
    // The tracing works: packages the node does use are named.
    expect(loaded).toContain('undici');
    expect(loaded).toContain('better-sqlite3');
    for (const lazy of NOT_AT_START) expect(loaded, lazy).not.toContain(lazy);
    // And only undici's HTTP/1.1 client, not its fetch/WebSocket/cache stack.
    expect(n.stderr()).not.toMatch(/undici\/lib\/web\/fetch/);
    console.log(`idle RSS, --no-mdns, traced: ${rss.toFixed(1)} MiB`);

    const plain = await startNode({});
    nodes.push(plain);
    await sleep(1_500);
    const plainRss = rssMiB(plain);
    console.log(`idle RSS, --no-mdns: ${plainRss.toFixed(1)} MiB`);
    expect(plainRss).toBeLessThan(IDLE_RSS_BOUND_MIB);
  });

  it('positive control: with --etcd the node does load etcd3 and its gRPC stack', async () => {
    const n = await startNode({ env: traced, args: ['--etcd', await deadUrl()], waitFor: 'spawned' });
    nodes.push(n);
    await n.waitForLog((l) => l.component === 'etcd', 15_000);
    // The first etcd line can come while the client's modules still load.
    await until('etcd3 and gRPC to be loaded', async () => {
      const loaded = loadedPackages(n);
      return loaded.has('etcd3') && loaded.has('@grpc/grpc-js');
    }, { timeoutMs: 15_000 });
  });

  it('positive control: with --inspector-url the node does load @statelyai/inspect and ws', async () => {
    const n = await startNode({ env: traced, args: ['--inspector-url', `ws://${(await deadUrl()).replace(/^http:\/\//, '')}`] });
    nodes.push(n);
    await until('@statelyai/inspect and ws to be loaded', async () => {
      const loaded = loadedPackages(n);
      return loaded.has('@statelyai/inspect') && loaded.has('ws');
    }, { timeoutMs: 15_000 });
  });

  it('the optimising compiler, held back while starting, optimises the request path once serving', async () => {
    const origin = await startOrigin();
    try {
      // V8's --trace-opt names every function it optimises, on stdout.
      const wrap = ['sh', '-c', 'n=$1; shift; exec "$n" --trace-opt "$@"', 'sh'];
      const n = await startNode({ wrap, args: ['--upstream', origin.url] });
      nodes.push(n);
      const optimised = () => n.logs.filter((l) => l.raw && /completed optimizing/.test(String(l.msg))).length;
      const atStart = optimised();
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      const get = () =>
        new Promise<number>((resolve, reject) =>
          http.get(`${n.proxyUrl}/hot`, { agent }, (res) => (res.resume(), res.on('end', () => resolve(res.statusCode ?? 0)))).on('error', reject),
        );
      // Bounded: at most 4,000 requests, 4 at a time, or 20 s.
      const until20s = Date.now() + 20_000;
      let sent = 0;
      while (optimised() <= atStart + 10 && sent < 4_000 && Date.now() < until20s) {
        const batch = await Promise.all([get(), get(), get(), get()]);
        expect(batch).toEqual([200, 200, 200, 200]);
        sent += 4;
      }
      agent.destroy();
      console.log(`functions optimised: ${atStart} when serving, ${optimised()} after ${sent} requests`);
      expect(optimised()).toBeGreaterThan(atStart + 10);
    } finally {
      await origin.close();
    }
  });

  it('on a node that gets no proxy client, the optimising compiler is let go about 10 s after it serves', async (ctx) => {
    if (Number(process.versions.node.split('.')[0]) >= 22) {
      // Seen on Node 24.22: start-up and admin code run in Maglev, which the
      // deferral does not hold back, and admin traffic alone reached no
      // TurboFan compile within 25 s, released or not: nothing to observe.
      console.log(`skipped on Node ${process.versions.node}: admin traffic alone never reaches TurboFan here (Maglev serves it), so the timed release cannot be seen from outside; the first-client release is tested above`);
      ctx.skip();
    }
    const wrap = ['sh', '-c', 'n=$1; shift; exec "$n" --trace-opt "$@"', 'sh'];
    const n = await startNode({ wrap });
    nodes.push(n);
    await n.waitForLog((l) => l.lifecycle === 'serving');
    const servingAt = Date.now();
    const optimised = () => n.logs.filter((l) => l.raw && /completed optimizing/.test(String(l.msg))).length;
    // Admin traffic only (never the proxy listener, whose first connection
    // would let the compiler go), 8 at a time: hot enough for TurboFan soon
    // after its release on both runtimes (Node 24 first compiles with Maglev,
    // which the deferral does not hold back, so it needs more).
    const getState = async () => (await fetch(`${n.adminUrl}/state`)).arrayBuffer();
    let countAt8s = -1;
    let firstAfterMs = -1;
    while (Date.now() - servingAt < 25_000) {
      await Promise.all(Array.from({ length: 8 }, getState));
      const since = Date.now() - servingAt;
      if (countAt8s < 0 && since >= 8_000) countAt8s = optimised();
      if (optimised() > 0) {
        firstAfterMs = since;
        break;
      }
      await sleep(5);
    }
    console.log(`first optimised function ${firstAfterMs} ms after serving (${countAt8s} at 8 s)`);
    expect(countAt8s).toBe(0);
    expect(firstAfterMs).toBeGreaterThanOrEqual(8_000);
  });

  describe('on the defaults (mDNS on), inside a private network namespace with only lo', () => {
    let ns: Netns | null = null;
    afterAll(async () => {
      for (const n of nodes.splice(0)) if (n.proc.exitCode === null) n.kill('SIGTERM');
      await ns?.remove();
    });

    it('idle RSS under the bound; bonjour-service loaded (in use), etcd3 not', async () => {
      const why = await netnsUnavailable();
      if (why) throw new Error(`cannot run the defaults without sending multicast off the host: ${why}`);
      ns = await createNetns('ge-mem');
      // The helper passes --no-mdns first; the later --mdns (the default) wins.
      const n = await startNode({ wrap: ns.wrap, env: traced, args: ['--mdns'] });
      nodes.push(n);
      await n.waitForLog((l) => l.component === 'mdns' && /announc/i.test(String(l.msg)), 15_000);
      const loaded = loadedPackages(n);
      expect(loaded).toContain('bonjour-service');
      for (const lazy of NOT_AT_START.filter((p) => p !== 'bonjour-service')) expect(loaded, lazy).not.toContain(lazy);

      const plain = await startNode({ wrap: ns.wrap, args: ['--mdns'] });
      nodes.push(plain);
      await sleep(1_500);
      const rss = rssMiB(plain);
      console.log(`idle RSS, defaults (mDNS on): ${rss.toFixed(1)} MiB`);
      expect(rss).toBeLessThan(IDLE_RSS_BOUND_MIB);
    });
  });
});
