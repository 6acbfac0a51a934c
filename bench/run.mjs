#!/usr/bin/env node
// `npm run bench`: every figure of docs/performance.md from one run.
//
//   node bench/run.mjs [--only throughput,exit,drain,mesh,restore,tls,workers] [--quick]
//                      [--seconds 6] [--warmup 2] [--rounds 4] [--connections 32]
//                      [--sizes 100b,64k] [--targets direct,nginx,bare,undici,http-proxy]
//                      [--engines undici,http-proxy] (graceful-edge engines; default undici)
//                      [--force] [--json FILE]
//
// Uses the built daemon ($GE_DIST/cli.js, default dist/cli.js). Traffic goes
// only to 127.0.0.1 (the mesh section's mDNS case runs inside a fresh network
// namespace with only `lo` up, deleted afterwards). Every load is bounded in
// time and count; everything started is stopped at the end.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CLI, ROOT } from './lib/graceful-edge.mjs';
import { loadAvg, machineInfo, tools } from './lib/machine.mjs';
import { installExitHooks, setTaskset, stopEverything } from './lib/procs.mjs';
import { throughput, throughputTables } from './sections/throughput.mjs';
import { drainUnderLoad, idleExit, shutdownTables } from './sections/shutdown.mjs';
import { mesh, meshTables } from './sections/mesh.mjs';
import { restore, restoreTables } from './sections/restore.mjs';
import { tlsBench, tlsTables } from './sections/tls.mjs';
import { workersBench, workersTables } from './sections/workers.mjs';

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string', default: 'throughput,exit,drain,mesh,restore,tls,workers' },
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '32' },
    force: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    targets: { type: 'string' },
    engines: { type: 'string' },
    json: { type: 'string' },
  },
});
const only = new Set(opt.only.split(',').map((s) => s.trim()));
const t = tools();
const log = (line) => process.stdout.write(`${line}\n`);

if (!existsSync(CLI)) {
  log(`bench: ${CLI} not found — run \`npm run build\` first (GE_DIST=${process.env.GE_DIST ?? 'dist'}).`);
  process.exit(2);
}
setTaskset(t.taskset);

// Two CPUs: the proxy under test gets CPU 0; wrk and the origin share CPU 1
// (also in the direct row, so every row pays the same for them).
const ncpu = (await import('node:os')).cpus().length;
const pin = t.taskset && ncpu >= 2;
const cfg = {
  sutCpu: pin ? 0 : null,
  loadCpu: pin ? 1 : null,
  seconds: Number(opt.seconds ?? (opt.quick ? 3 : 5)),
  warmup: Number(opt.warmup ?? (opt.quick ? 1 : 2)),
  rounds: Number(opt.rounds ?? (opt.quick ? 1 : 3)),
  connections: Number(opt.connections),
  exitReps: opt.quick ? 3 : 7,
  meshReps: opt.quick ? 1 : 3,
  restoreReps: opt.quick ? 1 : 3,
  loadRate: 400,
  shutdownDelays: opt.quick ? [0] : [0, 1],
  drainReps: opt.quick ? 1 : 3,
  restoreSizes: opt.quick ? [10, 1000] : [10, 1000, 10000],
  force: opt.force,
  // e.g. --sizes 64k --targets undici,http-proxy for a focused engine comparison.
  sizes: opt.sizes ? opt.sizes.split(',') : null,
  targets: opt.targets ? opt.targets.split(',') : null,
  engines: opt.engines ? opt.engines.split(',') : null,
};

installExitHooks();
const info = machineInfo(ROOT);
const results = { info, cfg, sections: {} };
log(`graceful-edge bench — ${info.date}`);
log(`machine: ${info.nproc} CPUs (${info.cpu}${info.hypervisor ? `, ${info.hypervisor} VM` : ''}), ${info.memGiB} GiB, Linux ${info.kernel}`);
log(`versions: node ${info.node}, graceful-edge ${info.graceful_edge} @ ${info.gitHead}, undici ${info.undici}, http-proxy-3 ${info.httpProxy3}, nginx ${info.nginx}, ${info.wrk}`);
log(`daemon: ${path.relative(ROOT, CLI)}; load average at start ${info.loadAvgAtStart.join(' ')}`);
log(
  pin
    ? `set-up: proxy under test pinned to CPU 0 (taskset); wrk (1 thread, ${cfg.connections} keep-alive connections) and the origin pinned to CPU 1; ${cfg.warmup} s warm-up + ${cfg.seconds} s per run, ${cfg.rounds} interleaved rounds; medians are the estimate (ratios use them), the best round is shown too`
    : `set-up: no CPU pinning (taskset missing or < 2 CPUs); wrk 1 thread, ${cfg.connections} connections`,
);
log('');

const sectionGuard = async (name, fn) => {
  try {
    results.sections[name] = await fn();
  } catch (error) {
    results.sections[name] = { error: error.stack ?? String(error) };
    log(`  ${name} failed: ${error.stack ?? error}`);
  }
};

try {
  if (only.has('throughput')) {
    log('## 1-2. Throughput, latency and RSS');
    if (!t.nginx || !t.wrk) {
      log(`  not measured: ${!t.wrk ? 'wrk (/usr/bin/wrk) is missing — apt-get install wrk' : ''}${!t.nginx && !t.wrk ? '; ' : ''}${!t.nginx ? 'nginx (/usr/sbin/nginx) is missing — apt-get install nginx' : ''}`);
      results.sections.throughput = { skipped: 'nginx or wrk missing' };
    } else {
      await sectionGuard('throughput', () => throughput(cfg, log));
      if (!results.sections.throughput.error) log('\n' + throughputTables(results.sections.throughput) + '\n');
    }
  }
  if (only.has('exit')) {
    log('## 3. SIGTERM → exit, idle');
    await sectionGuard('idleExit', () => idleExit(cfg, log));
  }
  if (only.has('drain')) {
    log('## 4. SIGTERM under steady load');
    await sectionGuard('drain', () => drainUnderLoad(cfg, log));
  }
  if (only.has('exit') || only.has('drain')) {
    const idle = results.sections.idleExit?.error ? null : results.sections.idleExit;
    const drain = results.sections.drain?.error ? null : results.sections.drain;
    log('\n' + shutdownTables({ idle, drain }) + '\n');
  }
  if (only.has('mesh')) {
    log('## 5. Mesh: SIGTERM/SIGKILL on B → A stops routing to B');
    await sectionGuard('mesh', () => mesh(cfg, log, t));
    if (!results.sections.mesh.error) log('\n' + meshTables(results.sections.mesh) + '\n');
  }
  if (only.has('restore')) {
    log('## 6. Restart with N saved peers and breakers');
    await sectionGuard('restore', () => restore(cfg, log));
    if (!results.sections.restore.error) log('\n' + restoreTables(results.sections.restore) + '\n');
  }
  if (only.has('tls')) {
    log('## 7. HTTPS and HTTP/2 vs NGINX (same certificate)');
    await sectionGuard('tls', () => tlsBench(cfg, log));
    if (!results.sections.tls.error) log('\n' + tlsTables(results.sections.tls) + '\n');
  }
  if (only.has('workers')) {
    log('## 8. Every core: --workers 2 vs --workers 1 vs NGINX worker_processes 2 and 1');
    if (!t.nginx || !t.wrk) {
      log('  not measured: nginx or wrk missing');
      results.sections.workers = { skipped: 'nginx or wrk missing' };
    } else {
      log(`  set-up: the proxies are not pinned (they may use both CPUs); wrk and the origin stay on CPU ${cfg.loadCpu ?? '(unpinned)'}: on 2 CPUs a 2-process proxy competes with its load generator`);
      await sectionGuard('workers', () => workersBench(cfg, log));
      if (!results.sections.workers.error) log('\n' + workersTables(results.sections.workers) + '\n');
    }
  }
} finally {
  await stopEverything();
}

results.loadAvgAtEnd = loadAvg();
log(`load average at end ${results.loadAvgAtEnd.join(' ')} (at start ${info.loadAvgAtStart.join(' ')}; on 2 CPUs anything above ~0.5 from others means noisy figures)`);
const file = opt.json ?? path.join(ROOT, 'bench', 'results', `${info.date.replace(/[:.]/g, '-')}.json`);
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(results, null, 2));
log(`raw results: ${path.relative(process.cwd(), file)}`);
