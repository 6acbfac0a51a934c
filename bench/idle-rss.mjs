// Idle RSS of one or more builds, each started on its defaults with no
// upstream, read from /proc/PID/status a fixed time after it serves. On the
// host it runs with --no-mdns (mDNS would multicast off the machine); with
// --mdns (root and `ip`), truly on the defaults, inside a fresh network
// namespace with only `lo` (bench/lib/netns.mjs), timed from the `serving`
// log line. Builds are started one after the other within a round, rounds
// repeat, so a noisy minute hits every build. Prints medians and ranges.
//   node bench/idle-rss.mjs [--rounds 3] [--after 20] [--mdns] dist [dist-base ...]
import path from 'node:path';
import { installExitHooks, sleep, start, stop, stopEverything } from './lib/procs.mjs';
import { createNetns } from './lib/netns.mjs';
import { ROOT, rssOf, tempDataDir } from './lib/graceful-edge.mjs';
import { argvOptions } from './lib/argv-options.mjs';
import { fmt, median } from './lib/stats.mjs';
import { loadAvg } from './lib/machine.mjs';

const { argv, opt, flag } = argvOptions();
const rounds = Number(opt('rounds', '3'));
const afterS = Number(opt('after', '20'));
const mdns = flag('mdns');
const dists = argv.length ? argv : ['dist'];
const ns = mdns ? createNetns() : null;

/** On the defaults in the namespace: resolves with the child once it logs `serving`. */
async function startInNamespace(dist) {
  let serving;
  const served = new Promise((r) => (serving = r));
  const child = start(
    'ip',
    ['netns', 'exec', ns.name, process.execPath, path.join(ROOT, dist, 'cli.js'), 'run', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--mesh-port', '0', '--data-dir', tempDataDir('idle')],
    {
      name: dist,
      onLine: (line) => {
        if (line.includes('"lifecycle":"serving"')) serving();
      },
    },
  );
  const timeout = sleep(30_000).then(() => {
    throw new Error(`${dist} did not serve in 30 s: ${child.stderr()}`);
  });
  await Promise.race([served, timeout]);
  // `ip netns exec` execs the node: the pid is the node's.
  return { child, rss: () => rssOf(child.proc.pid) };
}

installExitHooks();
const rss = Object.fromEntries(dists.map((d) => [d, []]));
process.stdout.write(`idle-rss: ${dists.join(', ')}; ${rounds} rounds, VmRSS ${afterS} s after ready, ${mdns ? 'defaults (mDNS on) in a private network namespace' : '--no-mdns'}; load ${loadAvg().join(' ')}\n`);
for (let round = 1; round <= rounds; round++) {
  for (const dist of dists) {
    let node;
    if (ns) node = await startInNamespace(dist);
    else {
      process.env.GE_DIST = dist;
      // graceful-edge.mjs reads GE_DIST at import: a fresh import per build.
      const { startNode } = await import(`./lib/graceful-edge.mjs?${dist}`);
      node = await startNode({ args: ['--no-mdns', '--mesh-port', '0'], name: dist });
      await node.ready();
    }
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
