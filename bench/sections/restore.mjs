// 6: a restarted node restores N = 10, 1,000, 10,000 saved peers and breakers
// and serves. The state file is written through the store's own module
// (bench/seed-state.ts, bundled here with esbuild), copied fresh for every run.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { ROOT, startNode, tempDataDir } from '../lib/graceful-edge.mjs';
import { sleep } from '../lib/procs.mjs';
import { fmt, median, table } from '../lib/stats.mjs';

async function bundleSeeder() {
  // Inside the dist dir so its bare imports (better-sqlite3, cockatiel) resolve from ROOT/node_modules.
  const out = path.join(ROOT, process.env.GE_DIST ?? 'dist', 'bench-seed-state.mjs');
  await build({ entryPoints: [path.join(ROOT, 'bench', 'seed-state.ts')], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
  return out;
}

const lineTime = (l) => (typeof l?.time === 'number' ? l.time : null);

export async function restore(cfg, log) {
  if (!existsSync(path.join(ROOT, 'src', 'store', 'sqlite-store.ts'))) return { skipped: 'src/store/sqlite-store.ts does not exist yet' };
  const seeder = await bundleSeeder();
  const out = [];
  for (const n of [0, ...cfg.restoreSizes]) {
    const seedDir = tempDataDir(`seed-${n}`);
    const seedFile = path.join(seedDir, 'state.db');
    let seeded = null;
    if (n > 0) seeded = JSON.parse(execFileSync(process.execPath, [seeder, seedFile, String(n)], { encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop());
    const runs = [];
    for (let i = 0; i < cfg.restoreReps; i++) {
      const dataDir = tempDataDir(`restore-${n}`);
      if (n > 0) {
        // The WAL was checkpointed by close(); the .db alone is the whole state.
        copyFileSync(seedFile, path.join(dataDir, 'state.db'));
      }
      const node = await startNode({ args: ['--no-mdns', '--mesh-port', '0', '--snapshot-interval', '3600'], dataDir, cpus: cfg.sutCpu, name: `ge-restore-${n}` });
      const readyMs = await node.ready(60_000);
      const restoring = node.logs.find((l) => l.lifecycle === 'restoring');
      const serving = node.logs.find((l) => l.lifecycle === 'serving');
      const servingToReadyMs = lineTime(serving) !== null ? readyMs - (lineTime(serving) - node.spawnedWall) : null;
      const st = await node.state(10_000);
      const rss = node.rss();
      await sleep(300);
      const t0 = performance.now();
      node.child.proc.kill('SIGTERM');
      const exit = await Promise.race([node.child.exited, sleep(30_000).then(() => null)]);
      runs.push({
        readyMs,
        spawnToRestoringMs: lineTime(restoring) !== null ? lineTime(restoring) - node.spawnedWall : null,
        restoringToServingMs: lineTime(restoring) !== null && lineTime(serving) !== null ? lineTime(serving) - lineTime(restoring) : null,
        servingToReadyMs,
        peers: st?.peers?.length ?? null,
        breakers: st?.circuitBreakers?.length ?? null,
        openBreakers: st?.circuitBreakers?.filter((b) => b.state === 'open').length ?? null,
        restored: st?.restored ?? null,
        rssMiB: rss ? rss.rssKiB / 1024 : null,
        exitMs: exit ? exit.at - t0 : null,
        exitCode: exit?.code ?? null,
        dbBytes: n > 0 ? statSync(seedFile).size : 0,
      });
      if (node.child.alive()) node.child.proc.kill('SIGKILL');
    }
    const row = {
      n,
      seeded,
      runs,
      readyMs: median(runs.map((r) => r.readyMs)),
      restoringToServingMs: median(runs.map((r) => r.restoringToServingMs)),
      spawnToRestoringMs: median(runs.map((r) => r.spawnToRestoringMs)),
      servingToReadyMs: median(runs.map((r) => r.servingToReadyMs)),
      exitMs: median(runs.map((r) => r.exitMs)),
    };
    out.push(row);
    const r0 = runs[0];
    log(`  N=${n}: spawn→/readyz ${runs.map((r) => fmt(r.readyMs, 0)).join(', ')} ms; restoring→serving ${runs.map((r) => fmt(r.restoringToServingMs, 0)).join(', ')} ms; /state: ${r0.peers} peers, ${r0.breakers} breakers (${r0.openBreakers} open); RSS ${fmt(r0.rssMiB, 1)} MiB; SIGTERM→exit ${runs.map((r) => fmt(r.exitMs, 0)).join(', ')} ms`);
  }
  return { rows: out };
}

export function restoreTables({ rows, skipped }) {
  if (skipped) return `not measured: ${skipped}`;
  return (
    'Restart with N saved peers + N breakers (medians; state.db written through src/store, copied fresh per run):\n' +
    table(
      ['N', 'state.db', 'spawn → /readyz 200 ms', 'spawn → restoring ms', 'restoring → serving ms (log)', '"serving" logged → /readyz 200 seen ms', 'peers / breakers / open in /state', 'RSS MiB', 'SIGTERM → exit ms (final snapshot of N)'],
      rows.map((r) => [
        r.n.toLocaleString('en-US'),
        r.runs[0].dbBytes ? `${fmt(r.runs[0].dbBytes / 1024, 0)} KiB` : 'none (fresh)',
        fmt(r.readyMs, 0),
        fmt(r.spawnToRestoringMs, 0),
        fmt(r.restoringToServingMs, 0),
        fmt(r.servingToReadyMs, 0),
        `${r.runs[0].peers} / ${r.runs[0].breakers} / ${r.runs[0].openBreakers}`,
        fmt(r.runs[0].rssMiB, 1),
        fmt(r.exitMs, 0),
      ]),
    )
  );
}
