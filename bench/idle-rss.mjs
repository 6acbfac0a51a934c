// Idle RSS of one or more builds, each started on its defaults (plus
// --no-mdns: on the host, mDNS would multicast off the machine) with no
// upstream, read from /proc/PID/status a fixed time after /readyz answered.
// Builds are started one after the other within a round, rounds repeat, so a
// noisy minute hits every build. Prints a table of medians and ranges.
//   node bench/idle-rss.mjs [--rounds 3] [--after 20] dist [dist-base ...]
import { installExitHooks, sleep, stop, stopEverything } from './lib/procs.mjs';
import { argvOptions } from './lib/argv-options.mjs';
import { fmt, median } from './lib/stats.mjs';
import { loadAvg } from './lib/machine.mjs';

const { argv, opt } = argvOptions();
const rounds = Number(opt('rounds', '3'));
const afterS = Number(opt('after', '20'));
const dists = argv.length ? argv : ['dist'];

installExitHooks();
const rss = Object.fromEntries(dists.map((d) => [d, []]));
process.stdout.write(`idle-rss: ${dists.join(', ')}; ${rounds} rounds, VmRSS ${afterS} s after ready; load ${loadAvg().join(' ')}\n`);
for (let round = 1; round <= rounds; round++) {
  for (const dist of dists) {
    process.env.GE_DIST = dist;
    // graceful-edge.mjs reads GE_DIST at import: a fresh import per build.
    const { startNode } = await import(`./lib/graceful-edge.mjs?${dist}`);
    const node = await startNode({ args: ['--no-mdns', '--mesh-port', '0'], name: dist });
    await node.ready();
    await sleep(afterS * 1000);
    const mib = node.rss().rssKiB / 1024;
    rss[dist].push(mib);
    process.stdout.write(`  round ${round} ${dist}: ${fmt(mib, 1)} MiB (load ${loadAvg()[0]})\n`);
    await stop(node.child, 15_000);
  }
}
process.stdout.write('\n| build | idle RSS MiB (median) | range |\n| --- | --- | --- |\n');
for (const dist of dists) {
  const v = rss[dist];
  process.stdout.write(`| ${dist} | ${fmt(median(v), 1)} | ${fmt(Math.min(...v), 1)}–${fmt(Math.max(...v), 1)} |\n`);
}
await stopEverything();
