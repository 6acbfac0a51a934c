// 1 + 2: requests/s and p99 for 100 B and 64 KiB responses — direct to the
// origin, through NGINX, through graceful-edge with each engine — and the
// node's RSS idle and under load.
import { freePort, sleep } from '../lib/procs.mjs';
import { startProxyNginx, startStaticOrigin } from '../lib/nginx.mjs';
import { wrk } from '../lib/wrk.mjs';
import { cpuSecondsOf, proxyWorks, startNode } from '../lib/graceful-edge.mjs';
import { fmt, max, median, table } from '../lib/stats.mjs';
import { loadAvg } from '../lib/machine.mjs';

export const ENGINES = ['undici', 'http-proxy'];
const SIZES = [
  { label: '100 B', path: '/100b' },
  { label: '64 KiB', path: '/64k' },
];

export async function throughput(cfg, log) {
  const { sutCpu, loadCpu, seconds, warmup, connections, rounds } = cfg;
  const origin = await startStaticOrigin({ port: await freePort(), cpus: loadCpu });
  const nginx = await startProxyNginx({ port: await freePort(), upstreamPort: origin.port, cpus: sutCpu });
  const targets = [
    { name: 'direct', url: `http://127.0.0.1:${origin.port}` },
    { name: 'nginx', url: `http://127.0.0.1:${nginx.port}` },
  ];
  const nodes = {};
  const skipped = {};
  for (const engine of ENGINES) {
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
    targets.push({ name: `graceful-edge ${engine}`, url: node.proxyUrl, node });
  }

  const rss = {};
  for (const [engine, node] of Object.entries(nodes)) rss[engine] = { idleStart: node.rss() };

  // results[size][target] = [run, run, ...]
  const results = {};
  const sizes = SIZES.filter((s) => !cfg.sizes || cfg.sizes.includes(s.path.slice(1)));
  const measured = targets.filter((t) => !cfg.targets || cfg.targets.some((name) => t.name.endsWith(name)));
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
        const r = await wrk(t.url + size.path, { seconds, connections, cpus: loadCpu });
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
        log(`  round ${round} ${size.label.padEnd(6)} ${t.name.padEnd(24)} ${fmt(r.rps, 0).padStart(8)} req/s  p99 ${fmt(r.p99, 2)} ms  (load ${r.loadAvg1})${Object.keys(r.idleNodeCpu).length ? `  [idle node busy: ${Object.entries(r.idleNodeCpu).map(([e, f]) => `${e} ${(f * 100).toFixed(0)}% CPU`).join(', ')}]` : ''}${r.non2xx || r.socketErrors ? `  (non-2xx ${r.non2xx}, socket errors ${r.socketErrors})` : ''}`);
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
        rpsBest: Math.max(...runs.map((r) => r.rps)),
        p99Best: Math.min(...runs.map((r) => r.p99)),
        non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
        socketErrors: runs.reduce((a, r) => a + r.socketErrors, 0),
        runs: runs.map((r) => ({ rps: r.rps, p99: r.p99, loadAvg1: r.loadAvg1 })),
      };
    }
  }
  return { summary, rss, skipped, targets: targets.map((t) => t.name) };
}

export function throughputTables({ summary, rss, skipped }) {
  const out = [];
  for (const [size, bySize] of Object.entries(summary)) {
    const direct = bySize.direct ?? { rps: NaN, p99: NaN };
    const nginx = bySize.nginx ?? { rps: NaN, p99: NaN };
    const rows = Object.entries(bySize).map(([name, s]) => [
      name,
      fmt(s.rps, 0),
      fmt(s.rpsBest, 0),
      s.runs.map((r) => fmt(r.rps, 0)).join(' / '),
      fmt(s.p50, 2),
      fmt(s.p99, 2),
      fmt(s.p99Best, 2),
      fmt(s.rps / direct.rps, 2),
      fmt(s.rps / nginx.rps, 2),
      fmt(s.p99 / nginx.p99, 2),
      s.non2xx + s.socketErrors,
    ]);
    out.push(`${size} responses:\n` + table(['target', 'req/s (median)', 'req/s (best)', 'req/s per round', 'p50 ms', 'p99 ms (median)', 'p99 ms (best)', 'req/s vs direct', 'req/s vs nginx', 'p99 vs nginx', 'errors'], rows));
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
