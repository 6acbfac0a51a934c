// 1 + 2: requests/s and p99 for 100 B and 64 KiB responses — direct to the
// static nginx origin, through NGINX (1 worker, upstream keep-alive), through
// a bare 10-line undici proxy (the runtime's ceiling), through graceful-edge
// — the CPU each proxy process spent per request (the figure that holds on a
// shared machine), and the node's RSS idle and under load.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, start, stop, waitFor } from '../lib/procs.mjs';
import { startProxyNginx, startStaticOrigin } from '../lib/nginx.mjs';
import { wrk } from '../lib/wrk.mjs';
import { cpuSecondsOf, proxyWorks, startNode } from '../lib/graceful-edge.mjs';
import { fmt, max, median, table } from '../lib/stats.mjs';
import { loadAvg } from '../lib/machine.mjs';

export const ENGINES = ['undici', 'http-proxy'];
const BARE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bare-proxy.mjs');

/** The pids whose CPU a row's proxy spends: nginx's master and its worker(s). */
function withChildren(pid) {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(kids ? kids.split(/\s+/).map(Number) : [])];
  } catch {
    return [pid];
  }
}

async function startBareProxy({ port, origin, cpus }) {
  const child = start(process.execPath, [BARE, String(port), origin], { cpus, name: 'bare-undici' });
  if ((await waitFor(`http://127.0.0.1:${port}/100b`, { timeoutMs: 10_000 })) === null) throw new Error(`bare undici proxy did not come up: ${child.stderr()}`);
  return { child, port, pid: child.proc.pid, stop: () => stop(child) };
}
const SIZES = [
  { label: '100 B', path: '/100b' },
  { label: '64 KiB', path: '/64k' },
];

export async function throughput(cfg, log) {
  const { sutCpu, loadCpu, seconds, warmup, connections, rounds } = cfg;
  const origin = await startStaticOrigin({ port: await freePort(), cpus: loadCpu });
  const nginx = await startProxyNginx({ port: await freePort(), upstreamPort: origin.port, cpus: sutCpu });
  const bare = await startBareProxy({ port: await freePort(), origin: `http://127.0.0.1:${origin.port}`, cpus: sutCpu });
  const targets = [
    { name: 'direct', url: `http://127.0.0.1:${origin.port}` },
    { name: 'nginx', url: `http://127.0.0.1:${nginx.port}`, pids: () => withChildren(nginx.child.proc.pid) },
    { name: 'bare-undici', url: `http://127.0.0.1:${bare.port}`, pids: () => [bare.pid] },
  ];
  const nodes = {};
  const skipped = {};
  for (const engine of cfg.engines ?? ['undici']) {
    const node = await startNode({
      // The whole lifecycle on: mesh socket with a key, snapshots every 5 s;
      // mDNS off because on the host it would multicast beyond loopback.
      args: ['--upstream', `http://127.0.0.1:${origin.port}`, '--proxy-engine', engine, '--no-mdns', '--mesh-port', '0', '--snapshot-interval', '5'],
      env: { GRACEFUL_EDGE_MESH_KEY: 'bench-throughput-key-0123456789' },
      cpus: sutCpu,
      name: `ge-${engine}`,
    });
    await node.ready();
    const works = await proxyWorks(node);
    if (!works.ok && !cfg.force) {
      skipped[engine] = `proxy answered ${works.status} ${works.body}`;
      log(`  graceful-edge (${engine}) does not proxy yet: ${skipped[engine]} — rows skipped`);
      await node.child.proc.kill('SIGTERM');
      continue;
    }
    nodes[engine] = node;
    targets.push({ name: `graceful-edge ${engine}`, url: node.proxyUrl, node, pids: () => [node.pid] });
  }

  const rss = {};
  for (const [engine, node] of Object.entries(nodes)) rss[engine] = { idleStart: node.rss() };

  // results[size][target] = [run, run, ...]
  const results = {};
  const sizes = SIZES.filter((s) => !cfg.sizes || cfg.sizes.includes(s.path.slice(1)));
  const measured = targets.filter((t) => !cfg.targets || cfg.targets.some((name) => t.name === name || t.name === `graceful-edge ${name}` || t.name.startsWith(name)));
  for (let round = 1; round <= rounds; round++) {
    for (const size of sizes) {
      for (const t of measured) {
        await wrk(t.url + size.path, { seconds: warmup, connections, cpus: loadCpu });
        let samples = [];
        let sampler = null;
        if (t.node) {
          sampler = setInterval(() => {
            const r = t.node.rss();
            if (r) samples.push(r.rssKiB);
          }, 250);
        }
        const cpuBefore = Object.fromEntries(Object.entries(nodes).map(([e, n]) => [e, cpuSecondsOf(n.pid)]));
        const pids = t.pids?.() ?? [];
        const ownBefore = pids.reduce((a, pid) => a + cpuSecondsOf(pid), 0);
        const r = await wrk(t.url + size.path, { seconds, connections, cpus: loadCpu });
        // CPU µs per request of the proxy process (utime + stime over the run):
        // what other processes on the machine do not change, unlike req/s.
        r.cpuUsPerReq = pids.length && r.requests ? ((pids.reduce((a, pid) => a + cpuSecondsOf(pid), 0) - ownBefore) * 1e6) / r.requests : NaN;
        // A node that is not under test should be idle; if it burns CPU 0 it skews the others' rows.
        r.idleNodeCpu = {};
        for (const [e, n] of Object.entries(nodes)) {
          if (t.node === n) continue;
          const used = cpuSecondsOf(n.pid) - cpuBefore[e];
          if (used / seconds > 0.05) r.idleNodeCpu[e] = used / seconds;
        }
        if (sampler) {
          clearInterval(sampler);
          const engine = t.name.replace('graceful-edge ', '');
          rss[engine].loadMaxKiB = Math.max(rss[engine].loadMaxKiB ?? 0, max(samples));
        }
        delete r.raw;
        r.loadAvg1 = loadAvg()[0];
        ((results[size.label] ??= {})[t.name] ??= []).push(r);
        log(`  round ${round} ${size.label.padEnd(6)} ${t.name.padEnd(24)} ${fmt(r.rps, 0).padStart(8)} req/s  p99 ${fmt(r.p99, 2)} ms  ${Number.isFinite(r.cpuUsPerReq) ? `${fmt(r.cpuUsPerReq, 1)} CPU µs/req  ` : ''}(load ${r.loadAvg1})${Object.keys(r.idleNodeCpu).length ? `  [idle node busy: ${Object.entries(r.idleNodeCpu).map(([e, f]) => `${e} ${(f * 100).toFixed(0)}% CPU`).join(', ')}]` : ''}${r.non2xx || r.socketErrors ? `  (non-2xx ${r.non2xx}, socket errors ${r.socketErrors})` : ''}`);
      }
    }
  }
  await sleep(2000);
  for (const [engine, node] of Object.entries(nodes)) {
    rss[engine].idleAfterLoad = node.rss();
    rss[engine].hwmKiB = rss[engine].idleAfterLoad?.hwmKiB;
  }
  for (const node of Object.values(nodes)) {
    node.child.proc.kill('SIGTERM');
    await node.child.exited;
  }
  await bare.stop();
  await nginx.stop();
  await origin.stop();

  // Summaries: median over rounds.
  const summary = {};
  for (const size of sizes) {
    summary[size.label] = {};
    for (const t of measured) {
      const runs = results[size.label][t.name];
      // The median of interleaved rounds is the estimate (a proxy's own
      // round-to-round swings count); the best round is shown beside it.
      summary[size.label][t.name] = {
        rps: median(runs.map((r) => r.rps)),
        p99: median(runs.map((r) => r.p99)),
        p50: median(runs.map((r) => r.p50)),
        cpuUs: median(runs.map((r) => r.cpuUsPerReq)),
        rpsBest: Math.max(...runs.map((r) => r.rps)),
        p99Best: Math.min(...runs.map((r) => r.p99)),
        non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
        socketErrors: runs.reduce((a, r) => a + r.socketErrors, 0),
        runs: runs.map((r) => ({ rps: r.rps, p99: r.p99, cpuUs: r.cpuUsPerReq, loadAvg1: r.loadAvg1 })),
      };
    }
    // Ratios within each round (the rows of one round ran back to back), then the median.
    const ge = measured.find((t) => t.name === 'graceful-edge undici');
    if (ge && results[size.label]['bare-undici']) {
      const pairs = results[size.label][ge.name].map((r, i) => [r, results[size.label]['bare-undici'][i]]);
      summary[size.label][ge.name].vsBareCpu = median(pairs.map(([g, b]) => b.cpuUsPerReq / g.cpuUsPerReq));
      summary[size.label][ge.name].vsBareRps = median(pairs.map(([g, b]) => g.rps / b.rps));
    }
  }
  return { summary, rss, skipped, targets: targets.map((t) => t.name) };
}

export function throughputTables({ summary, rss, skipped }) {
  const out = [];
  for (const [size, bySize] of Object.entries(summary)) {
    const nginx = bySize.nginx ?? { rps: NaN, p99: NaN };
    const bare = bySize['bare-undici'] ?? { rps: NaN, cpuUs: NaN };
    const rows = Object.entries(bySize).map(([name, s]) => [
      name,
      fmt(s.cpuUs, 1),
      fmt(s.vsBareCpu ?? bare.cpuUs / s.cpuUs, 2),
      fmt(s.rps, 0),
      fmt(s.vsBareRps ?? s.rps / bare.rps, 2),
      fmt(s.rps / nginx.rps, 2),
      fmt(s.p50, 2),
      fmt(s.p99, 2),
      fmt(s.p99 / nginx.p99, 2),
      s.non2xx + s.socketErrors,
    ]);
    out.push(`${size} responses (medians of interleaved rounds; "vs bare" = median of per-round ratios):\n` + table(['target', 'CPU µs/req', 'per core vs bare (CPU)', 'req/s', 'req/s vs bare', 'req/s vs nginx', 'p50 ms', 'p99 ms', 'p99 vs nginx', 'errors'], rows));
  }
  const rssRows = Object.entries(rss).map(([engine, r]) => [
    engine,
    fmt(r.idleStart?.rssKiB / 1024, 1),
    fmt(r.loadMaxKiB / 1024, 1),
    fmt(r.idleAfterLoad?.rssKiB / 1024, 1),
    fmt(r.hwmKiB / 1024, 1),
  ]);
  if (rssRows.length) out.push('graceful-edge RSS (MiB, /proc/PID/status):\n' + table(['engine', 'idle after start', 'max under load', 'idle 2 s after load', 'peak (VmHWM)'], rssRows));
  for (const [engine, why] of Object.entries(skipped)) out.push(`graceful-edge ${engine}: not measured — ${why}`);
  const u = 'graceful-edge undici';
  const h = 'graceful-edge http-proxy';
  const verdicts = Object.entries(summary)
    .filter(([, b]) => b[u] && b[h])
    .map(([size, b]) => `${size}: undici ${fmt(b[u].rps / b[h].rps, 2)}x the req/s of http-proxy-3, p99 ${fmt(b[u].p99, 2)} vs ${fmt(b[h].p99, 2)} ms`);
  if (verdicts.length) out.push(`engines: ${verdicts.join('; ')}`);
  return out.join('\n\n');
}
