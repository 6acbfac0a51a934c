/**
 * Memory from outside (issue 8 goal 3): a node on its defaults keeps its
 * idle RSS (VmRSS in /proc/PID/status) under a bound, and does not load what
 * the run does not use. What is loaded is observed with the runtime's own
 * module tracing (NODE_DEBUG=module: every CommonJS package Node resolves is
 * named on stderr), with a positive control for each package so the
 * observation is known to see it when it is loaded.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';
import type { Netns } from '../helpers/netns.js';
import { deadUrl } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

const { nodes } = testScope();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Generous on purpose (the machine is shared, Node's own baseline is ~40
 * MiB): it catches a start-up that loads etcd3 + gRPC (+25 MiB) or the whole
 * undici package again. docs/performance.md has the measured figures.
 */
// Node 24's own binary and heap start ~10 MiB larger than Node 20's (93 MiB
// idle measured there against 79–82 on Node 20), so the bound follows the runtime.
const IDLE_RSS_BOUND_MIB = Number(process.versions.node.split('.')[0]) >= 22 ? 105 : 90;

function rssMiB(n: NodeProcess): number {
  const status = readFileSync(`/proc/${n.proc.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

/** Packages under node_modules that Node's module tracing saw this process load. */
function loadedPackages(n: NodeProcess): Set<string> {
  const names = new Set<string>();
  for (const m of n.stderr().matchAll(/node_modules\/((?:@[^/\s'"]+\/)?[^/\s'"]+)/g)) names.add(m[1]!);
  return names;
}

const traced = { NODE_DEBUG: 'module' };

describe('memory and lazy loading', () => {
  it('--no-mdns, no --etcd: idle RSS under the bound; etcd3, gRPC and bonjour-service never loaded', async () => {
    const n = await startNode({ env: traced });
    nodes.push(n);
    await sleep(1_500);
    const rss = rssMiB(n);
    const loaded = loadedPackages(n);
    // The tracing works: packages the node does use are named.
    expect(loaded).toContain('undici');
    expect(loaded).toContain('better-sqlite3');
    for (const lazy of ['etcd3', '@grpc/grpc-js', 'bonjour-service']) expect(loaded, lazy).not.toContain(lazy);
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
      expect(loaded).not.toContain('etcd3');
      expect(loaded).not.toContain('@grpc/grpc-js');

      const plain = await startNode({ wrap: ns.wrap, args: ['--mdns'] });
      nodes.push(plain);
      await sleep(1_500);
      const rss = rssMiB(plain);
      console.log(`idle RSS, defaults (mDNS on): ${rss.toFixed(1)} MiB`);
      expect(rss).toBeLessThan(IDLE_RSS_BOUND_MIB);
    });
  });
});
