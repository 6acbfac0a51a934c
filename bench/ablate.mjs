// Ablation harness: several graceful-edge builds (one dist dir each, e.g. a
// build with one thing switched off) against the bare undici proxy, under
// the same load, interleaved round by round. The figure is CPU µs per
// request and its in-round ratio to the bare proxy (requests/s on a shared
// machine measure the scheduler as much as the proxy).
//   node bench/ablate.mjs [--size 64k|100b] [--rounds 4] [--seconds 5] [--prof DIR] dist dist-x dist+--flag ...
// A build named `dist+--some-v8-flag+--other` runs dist/ with those node options.
// --prof DIR: every proxy (the bare one too) runs with --cpu-prof into DIR/<name>/.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, installExitHooks, start, stop, stopEverything, waitFor } from './lib/procs.mjs';
import { startStaticOrigin } from './lib/nginx.mjs';
import { wrk } from './lib/wrk.mjs';
import { cpuSecondsOf, startNode } from './lib/graceful-edge.mjs';
import { fmt, median } from './lib/stats.mjs';
import { loadAvg } from './lib/machine.mjs';
import { argvOptions } from './lib/argv-options.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { argv, opt } = argvOptions();
const size = opt('size', '64k');
const rounds = Number(opt('rounds', '4'));
const seconds = Number(opt('seconds', '5'));
const warmup = Number(opt('warmup', '2'));
const prof = opt('prof', null);
const dists = argv.length ? argv : ['dist'];
const SUT = 0;
const LOAD = 1;

installExitHooks();
process.on('uncaughtException', (e) => {
  process.stderr.write(`ablate: ${e.stack}\n`);
  void stopEverything().finally(() => process.exit(1));
});
process.on('unhandledRejection', (e) => {
  throw e;
});
const profArgs = (name) => {
  if (!prof) return [];
  const dir = path.resolve(prof, name);
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', dir];
};

const origin = await startStaticOrigin({ port: await freePort(), cpus: LOAD });
const barePort = await freePort();
const bareChild = start(process.execPath, [...profArgs('bare'), path.join(HERE, 'bare-proxy.mjs'), String(barePort), `http://127.0.0.1:${origin.port}`], { cpus: SUT, name: 'bare' });
if ((await waitFor(`http://127.0.0.1:${barePort}/100b`, { timeoutMs: 10_000 })) === null) throw new Error(bareChild.stderr());
const targets = [{ name: 'bare', url: `http://127.0.0.1:${barePort}`, pid: bareChild.proc.pid, stop: () => stop(bareChild) }];
for (const spec of dists) {
  const [dist, ...flags] = spec.split('+');
  process.env.GE_DIST = dist;
  // graceful-edge.mjs reads GE_DIST at import: pass the CLI path through a fresh import.
  const { startNode: startWith } = await import(`./lib/graceful-edge.mjs?${dist}`);
  const node = await startWith({
    args: ['--upstream', `http://127.0.0.1:${origin.port}`, '--no-mdns', '--mesh-port', '0', '--snapshot-interval', '5'],
    nodeArgs: [...flags, ...profArgs(spec.replace(/[^\w.-]+/g, '_'))],
    env: { GRACEFUL_EDGE_MESH_KEY: 'bench-throughput-key-0123456789' },
    cpus: SUT,
    name: spec,
  });
  await node.ready();
  targets.push({ name: spec, url: node.proxyUrl, pid: node.pid, stop: () => stop(node.child, 15_000) });
}
void startNode;

const results = Object.fromEntries(targets.map((t) => [t.name, []]));
process.stdout.write(`ablate: /${size}, ${rounds} rounds × (${warmup} s warm-up + ${seconds} s), wrk -t1 -c32 on CPU ${LOAD}, proxies on CPU ${SUT}; load ${loadAvg().join(' ')}\n`);
for (let round = 1; round <= rounds; round++) {
  const line = [];
  for (const t of targets) {
    await wrk(`${t.url}/${size}`, { seconds: warmup, connections: 32, cpus: LOAD });
    const before = cpuSecondsOf(t.pid);
    const r = await wrk(`${t.url}/${size}`, { seconds, connections: 32, cpus: LOAD });
    r.cpuUs = ((cpuSecondsOf(t.pid) - before) * 1e6) / r.requests;
    results[t.name].push(r);
    line.push(`${t.name} ${fmt(r.cpuUs, 1)} µs ${fmt(r.rps, 0)}/s p99 ${fmt(r.p99, 1)}`);
  }
  process.stdout.write(`round ${round} (load ${loadAvg()[0]}): ${line.join(' | ')}\n`);
}
const bare = results.bare;
process.stdout.write('\n| build | CPU µs/req (median) | per core vs bare (median of in-round ratios) | req/s | p99 ms |\n| --- | --- | --- | --- | --- |\n');
for (const t of targets) {
  const rs = results[t.name];
  const ratio = median(rs.map((r, i) => bare[i].cpuUs / r.cpuUs));
  process.stdout.write(`| ${t.name} | ${fmt(median(rs.map((r) => r.cpuUs)), 1)} | ${fmt(ratio, 2)} | ${fmt(median(rs.map((r) => r.rps)), 0)} | ${fmt(median(rs.map((r) => r.p99)), 1)} |\n`);
}
// Peak RSS of each process over the whole run (VmHWM): the memory side of a flag.
process.stdout.write('\n| build | peak RSS (VmHWM) MiB |\n| --- | --- |\n');
for (const t of targets) {
  const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${t.pid}/status`, 'utf8'));
  process.stdout.write(`| ${t.name} | ${hwm ? fmt(Number(hwm[1]) / 1024, 1) : '?'} |\n`);
}
for (const t of targets) await t.stop();
await stopEverything();
