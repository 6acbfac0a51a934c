// 8: every core — graceful-edge --workers 2 against --workers 1 and against
// NGINX worker_processes 2 and 1 (same static nginx origin, same load), in
// interleaved rounds. On a 2-CPU machine the pinning cannot be clean: the
// proxies under test may use both CPUs while wrk and the origin stay pinned
// to CPU 1, so a 2-process proxy competes with its own load generator. The
// figures that hold are the in-round ratios and the CPU per request (all
// processes of a proxy: graceful-edge's primary and its workers, nginx's
// master and workers).
import { readFileSync } from 'node:fs';
import { freePort, sleep } from '../lib/procs.mjs';
import { startProxyNginx, startStaticOrigin } from '../lib/nginx.mjs';
import { wrk } from '../lib/wrk.mjs';
import { cpuSecondsOf, proxyWorks, startNode } from '../lib/graceful-edge.mjs';
import { fmt, median, table } from '../lib/stats.mjs';
import { loadAvg } from '../lib/machine.mjs';

/** A process and its direct children (graceful-edge's workers, nginx's workers). */
function family(pid) {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(kids ? kids.split(/\s+/).map(Number) : [])];
  } catch {
    return [pid];
  }
}

const SIZES = [
  { label: '100 B', path: '/100b' },
  { label: '64 KiB', path: '/64k' },
];

export async function workersBench(cfg, log) {
  const { loadCpu, seconds, warmup, connections, rounds } = cfg;
  const origin = await startStaticOrigin({ port: await freePort(), cpus: loadCpu });
  const upstream = `http://127.0.0.1:${origin.port}`;
  const targets = [];
  for (const workers of [1, 2]) {
    const nginx = await startProxyNginx({ port: await freePort(), upstreamPort: origin.port, cpus: null, workers });
    targets.push({ name: `nginx ×${workers}`, url: `http://127.0.0.1:${nginx.port}`, pids: () => family(nginx.child.proc.pid), stop: () => nginx.stop() });
  }
  for (const workers of [1, 2]) {
    const node = await startNode({
      args: ['--upstream', upstream, '--workers', String(workers), '--no-mdns', '--mesh-port', '0', '--snapshot-interval', '5'],
      env: { GRACEFUL_EDGE_MESH_KEY: 'bench-workers-key-0123456789' },
      cpus: null,
      name: `ge-w${workers}`,
    });
    await node.ready();
    // --workers 2: the second worker may still be starting when the first answers.
    await sleep(1500);
    const works = await proxyWorks(node);
    if (!works.ok) throw new Error(`graceful-edge --workers ${workers} does not proxy: ${works.status} ${works.body}`);
    targets.push({
      name: `graceful-edge --workers ${workers}`,
      url: node.proxyUrl,
      pids: () => family(node.pid),
      stop: async () => {
        node.child.proc.kill('SIGTERM');
        await node.child.exited;
      },
    });
  }
  const results = {};
  const sizes = SIZES.filter((s) => !cfg.sizes || cfg.sizes.includes(s.path.slice(1)));
  for (let round = 1; round <= rounds; round++) {
    for (const size of sizes) {
      for (const t of targets) {
        await wrk(t.url + size.path, { seconds: warmup, connections, cpus: loadCpu });
        const pids = t.pids();
        const cpuBefore = pids.map(cpuSecondsOf);
        const r = await wrk(t.url + size.path, { seconds, connections, cpus: loadCpu });
        const used = pids.map((pid, i) => cpuSecondsOf(pid) - cpuBefore[i]);
        const total = used.reduce((a, b) => a + b, 0);
        r.cpuUsPerReq = r.requests ? (total * 1e6) / r.requests : NaN;
        // The first pid is the root (graceful-edge's node, nginx's master): its share of the CPU.
        r.rootCpuShare = pids.length > 1 && total > 0 ? used[0] / total : NaN;
        r.processes = pids.length;
        r.loadAvg1 = loadAvg()[0];
        delete r.raw;
        ((results[size.label] ??= {})[t.name] ??= []).push(r);
        log(`  round ${round} ${size.label.padEnd(6)} ${t.name.padEnd(26)} ${fmt(r.rps, 0).padStart(8)} req/s  p99 ${fmt(r.p99, 2)} ms  ${fmt(r.cpuUsPerReq, 1)} CPU µs/req (${r.processes} processes${Number.isFinite(r.rootCpuShare) ? `, root ${fmt(r.rootCpuShare * 100, 1)} %` : ''})  (load ${r.loadAvg1})${r.non2xx || r.socketErrors ? `  (non-2xx ${r.non2xx}, socket errors ${r.socketErrors})` : ''}`);
      }
    }
  }
  for (const t of targets) await t.stop();
  await origin.stop();

  const inRound = (size, a, b, f) => {
    const ra = results[size][a];
    const rb = results[size][b];
    return median(ra.map((r, i) => f(r, rb[i])));
  };
  const summary = {};
  for (const size of sizes) {
    const s = (summary[size.label] = {});
    for (const t of targets) {
      const runs = results[size.label][t.name];
      s[t.name] = {
        rps: median(runs.map((r) => r.rps)),
        p99: median(runs.map((r) => r.p99)),
        cpuUs: median(runs.map((r) => r.cpuUsPerReq)),
        errors: runs.reduce((a, r) => a + r.non2xx + r.socketErrors, 0),
        runs: runs.map((r) => ({ rps: r.rps, p99: r.p99, cpuUs: r.cpuUsPerReq, loadAvg1: r.loadAvg1 })),
      };
    }
    const g1 = 'graceful-edge --workers 1';
    const g2 = 'graceful-edge --workers 2';
    s.ratios = {
      geScaling: inRound(size.label, g2, g1, (a, b) => a.rps / b.rps),
      nginxScaling: inRound(size.label, 'nginx ×2', 'nginx ×1', (a, b) => a.rps / b.rps),
      ge2VsNginx2: inRound(size.label, g2, 'nginx ×2', (a, b) => a.rps / b.rps),
      ge2CpuVsGe1: inRound(size.label, g2, g1, (a, b) => a.cpuUsPerReq / b.cpuUsPerReq),
    };
  }
  return { summary };
}

export function workersTables({ summary }) {
  const out = [];
  for (const [size, s] of Object.entries(summary)) {
    const { ratios, ...rows } = s;
    out.push(
      `${size} (medians of interleaved rounds):\n` +
        table(
          ['target', 'req/s', 'p99 ms', 'CPU µs/req (all processes)', 'errors'],
          Object.entries(rows).map(([name, r]) => [name, fmt(r.rps, 0), fmt(r.p99, 2), fmt(r.cpuUs, 1), r.errors]),
        ) +
        `\n  in-round ratios: graceful-edge ×2/×1 req/s ${fmt(ratios.geScaling, 2)}; nginx ×2/×1 ${fmt(ratios.nginxScaling, 2)}; graceful-edge ×2 / nginx ×2 ${fmt(ratios.ge2VsNginx2, 2)}; CPU µs/req graceful-edge ×2 / ×1 ${fmt(ratios.ge2CpuVsGe1, 2)}`,
    );
  }
  return out.join('\n\n');
}
