// The first seconds of a freshly started node under load, per build: CPU µs
// per request in each of the first N one-second wrk runs after /readyz (the
// optimising compiler is held back until the first client: does it cost?).
// Builds alternate start by start.
//   node bench/first-seconds.mjs [--starts 3] [--windows 4] [--size 100b] dist dist-x
import path from 'node:path';
import { freePort, installExitHooks, stop, stopEverything } from './lib/procs.mjs';
import { startStaticOrigin } from './lib/nginx.mjs';
import { wrk } from './lib/wrk.mjs';
import { cpuSecondsOf } from './lib/graceful-edge.mjs';
import { fmt, median } from './lib/stats.mjs';
import { loadAvg } from './lib/machine.mjs';
import { argvOptions } from './lib/argv-options.mjs';

const { argv, opt } = argvOptions();
const starts = Number(opt('starts', '3'));
const windows = Number(opt('windows', '4'));
const size = opt('size', '100b');
const dists = argv.length ? argv : ['dist'];
installExitHooks();
const origin = await startStaticOrigin({ port: await freePort(), cpus: 1 });
const res = Object.fromEntries(dists.map((d) => [d, []]));
process.stdout.write(`first ${windows} s of load after /readyz, /${size}, wrk -t1 -c32 (CPU 1), node on CPU 0; load ${loadAvg().join(' ')}\n`);
for (let s = 1; s <= starts; s++) {
  for (const dist of dists) {
    process.env.GE_DIST = dist;
    const { startNode } = await import(`./lib/graceful-edge.mjs?${dist}`);
    const node = await startNode({ args: ['--upstream', `http://127.0.0.1:${origin.port}`, '--no-mdns', '--mesh-port', '0', '--snapshot-interval', '5'], cpus: 0, name: dist });
    await node.ready();
    const row = [];
    for (let w = 0; w < windows; w++) {
      const before = cpuSecondsOf(node.pid);
      const r = await wrk(`${node.proxyUrl}/${size}`, { seconds: 1, connections: 32, cpus: 1 });
      row.push(((cpuSecondsOf(node.pid) - before) * 1e6) / r.requests);
    }
    res[dist].push(row);
    process.stdout.write(`start ${s} ${dist}: ${row.map((x) => fmt(x, 0)).join(' / ')} CPU µs/req (load ${loadAvg()[0]})\n`);
    await stop(node.child, 15_000);
  }
}
for (const d of dists) process.stdout.write(`${d} medians by second: ${Array.from({ length: windows }, (_, w) => fmt(median(res[d].map((r) => r[w])), 0)).join(' / ')}\n`);
await stopEverything();
