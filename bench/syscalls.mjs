// System calls per request, bare undici proxy vs graceful-edge builds, under
// the same wrk load: unlike CPU time, counts do not depend on what else the
// machine runs. strace (attached to every thread) slows the proxy, so the
// requests/s it prints mean nothing; the per-request counts do.
//   node bench/syscalls.mjs [--size 64k|100b] [--seconds 4] dist [dist-x ...]
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, installExitHooks, sleep, start, stop, stopEverything, waitFor } from './lib/procs.mjs';
import { startStaticOrigin } from './lib/nginx.mjs';
import { wrk } from './lib/wrk.mjs';
import { argvOptions } from './lib/argv-options.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { argv, opt } = argvOptions();
const size = opt('size', '64k');
const seconds = Number(opt('seconds', '4'));
const dists = argv.length ? argv : ['dist'];
installExitHooks();

const origin = await startStaticOrigin({ port: await freePort(), cpus: 1 });
const barePort = await freePort();
const bare = start(process.execPath, [path.join(HERE, 'bare-proxy.mjs'), String(barePort), `http://127.0.0.1:${origin.port}`], { cpus: 0, name: 'bare' });
await waitFor(`http://127.0.0.1:${barePort}/100b`, { timeoutMs: 10_000 });
const targets = [{ name: 'bare', url: `http://127.0.0.1:${barePort}`, pid: bare.proc.pid, stop: () => stop(bare) }];
for (const dist of dists) {
  process.env.GE_DIST = dist;
  const { startNode } = await import(`./lib/graceful-edge.mjs?${dist}`);
  const node = await startNode({ args: ['--upstream', `http://127.0.0.1:${origin.port}`, '--no-mdns', '--mesh-port', '0', '--snapshot-interval', '5'], env: { GRACEFUL_EDGE_MESH_KEY: 'bench-throughput-key-0123456789' }, cpus: 0, name: dist });
  await node.ready();
  targets.push({ name: dist, url: node.proxyUrl, pid: node.pid, stop: () => stop(node.child, 15_000) });
}

const rows = {};
for (const t of targets) {
  await wrk(`${t.url}/${size}`, { seconds: 2, connections: 32, cpus: 1 });
  const out = path.join(os.tmpdir(), `ge-syscalls-${t.name}-${process.pid}.txt`);
  const tracer = spawn('strace', ['-c', '-f', '-o', out, '-p', String(t.pid)], { stdio: 'ignore' });
  await sleep(500);
  const r = await wrk(`${t.url}/${size}`, { seconds, connections: 32, cpus: 1 });
  tracer.kill('SIGINT');
  await new Promise((res) => tracer.on('exit', res));
  const counts = {};
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
    if (m) counts[m[2]] = Number(m[1]);
  }
  rows[t.name] = { requests: r.requests, counts };
}
const names = new Set(Object.values(rows).flatMap((r) => Object.keys(r.counts)));
process.stdout.write(`system calls per request, /${size}, wrk -t1 -c32 for ${seconds} s under strace -c -f\n| call | ${targets.map((t) => t.name).join(' | ')} |\n| --- |${targets.map(() => ' --- |').join('')}\n`);
const per = (t, n) => (rows[t.name].counts[n] ?? 0) / rows[t.name].requests;
for (const n of [...names].sort((a, b) => per(targets[0], b) - per(targets[0], a))) {
  if (targets.every((t) => per(t, n) < 0.01)) continue;
  process.stdout.write(`| ${n} | ${targets.map((t) => per(t, n).toFixed(2)).join(' | ')} |\n`);
}
process.stdout.write(`| (requests) | ${targets.map((t) => rows[t.name].requests).join(' | ')} |\n`);
for (const t of targets) await t.stop();
await stopEverything();
void execFile;
