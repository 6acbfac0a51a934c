// 3 + 4: SIGTERM to exit when idle, and failed requests during a SIGTERM
// under steady keep-alive load (with a few slow requests in flight).
import { freePort, sleep, start, stop } from '../lib/procs.mjs';
import { proxyWorks, startNode } from '../lib/graceful-edge.mjs';
import { classify, startLoad } from '../lib/load-client.mjs';
import { fmt, median, table } from '../lib/stats.mjs';
import { ENGINES } from './throughput.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ORIGIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'origin.mjs');

/** The Node origin (bench/origin.mjs), pinned; resolves with its port. */
export async function startNodeOrigin({ cpus, wrap = [] }) {
  const port = await freePort();
  let resolveReady;
  const ready = new Promise((r) => (resolveReady = r));
  const cmd = wrap.length ? wrap[0] : process.execPath;
  const args = wrap.length ? [...wrap.slice(1), process.execPath, ORIGIN, String(port)] : [ORIGIN, String(port)];
  const child = start(cmd, args, { cpus, name: 'origin', onLine: (l) => l.startsWith('listening') && resolveReady() });
  await Promise.race([ready, sleep(5000)]);
  return { child, port, url: `http://127.0.0.1:${port}`, stop: () => stop(child) };
}

export async function idleExit(cfg, log) {
  const out = {};
  for (const engine of ENGINES) {
    const times = [];
    for (let i = 0; i < cfg.exitReps; i++) {
      const node = await startNode({ args: ['--proxy-engine', engine, '--no-mdns', '--mesh-port', '0'], cpus: cfg.sutCpu, name: `ge-exit-${engine}` });
      await node.ready();
      await sleep(200);
      const t0 = performance.now();
      node.child.proc.kill('SIGTERM');
      const { code, at } = await node.child.exited;
      times.push({ ms: at - t0, code });
    }
    out[engine] = { ms: times.map((t) => t.ms), codes: times.map((t) => t.code), median: median(times.map((t) => t.ms)) };
    log(`  ${engine}: SIGTERM→exit ${out[engine].ms.map((m) => fmt(m, 0)).join(', ')} ms (median ${fmt(out[engine].median, 0)}), exit codes ${out[engine].codes.join(',')}`);
  }
  return out;
}

/**
 * Listener-close moment from the daemon's own log line (its pino `time`,
 * mapped onto this process's performance.now clock via the signal's wall
 * time), else null.
 */
function listenerClosedAt(node, sigPerf, sigWall) {
  const l = node.logs.find((x) => /listener clos|stop(ped|s)? accepting|no longer accepting/i.test(String(x.msg ?? '')));
  if (!l) return null;
  return typeof l.time === 'number' ? sigPerf + (l.time - sigWall) : l.seenAt;
}

export async function drainUnderLoad(cfg, log) {
  const origin = await startNodeOrigin({ cpus: cfg.loadCpu });
  const out = [];
  for (const engine of ENGINES) {
    for (const delay of cfg.shutdownDelays) for (let rep = 1; rep <= cfg.drainReps; rep++) {
      const node = await startNode({
        args: ['--upstream', origin.url, '--proxy-engine', engine, '--no-mdns', '--mesh-port', '0', '--drain-timeout', '15', '--shutdown-delay', String(delay)],
        cpus: cfg.sutCpu,
        name: `ge-drain-${engine}`,
      });
      await node.ready();
      const works = await proxyWorks(node);
      if (!works.ok && !cfg.force) {
        log(`  ${engine}: proxy answered ${works.status}; drain-under-load not measured`);
        node.child.proc.kill('SIGTERM');
        await node.child.exited;
        out.push({ engine, delay, skipped: `proxy answered ${works.status}` });
        continue;
      }
      const fast = startLoad(node.proxyUrl, { rate: cfg.loadRate, connections: 16, maxSeconds: 20, path: '/100b' });
      const slow = startLoad(node.proxyUrl, { rate: 4, connections: 4, maxSeconds: 20, path: '/slow?ms=1500' });
      await sleep(2000);
      const sigWall = Date.now();
      const sigAt = performance.now();
      node.child.proc.kill('SIGTERM');
      const exit = await Promise.race([node.child.exited, sleep(20_000).then(() => null)]);
      await sleep(1000);
      const records = [...(await fast.stop()), ...(await slow.stop())];
      const closed = listenerClosedAt(node, sigAt, sigWall) ?? records.filter((r) => r.error === 'ECONNREFUSED').map((r) => r.sentAt).sort((a, b) => a - b)[0] ?? Infinity;
      const before = classify(records.filter((r) => r.sentAt < sigAt), closed);
      const between = classify(records.filter((r) => r.sentAt >= sigAt && r.sentAt < closed), closed);
      const after = classify(records.filter((r) => r.sentAt >= closed), closed);
      const slowOk = records.filter((r) => r.status === 200 && r.doneAt - r.sentAt > 1000 && r.sentAt < sigAt && r.doneAt > sigAt).length;
      const row = {
        engine,
        delay,
        rep,
        exitMs: exit ? exit.at - sigAt : null,
        exitCode: exit?.code ?? null,
        listenerClosedMs: Number.isFinite(closed) ? closed - sigAt : null,
        before,
        between,
        after,
        slowCompletedAcrossSignal: slowOk,
        failedAccepted: before.failedAccepted + between.failedAccepted,
        backlogReset: before.backlogReset + between.backlogReset + after.backlogReset,
      };
      // Failure examples with times relative to the signal (ms).
      row.failureExamples = [before, between, after].flatMap((c) => c.examples ?? []).map((e) => ({ ...e, sentAt: e.sentAt - sigAt, doneAt: e.doneAt - sigAt }));
      out.push(row);
      log(`  ${engine} delay ${delay}s #${rep}: ${records.length} requests; failed accepted ${row.failedAccepted}, reset in accept queue ${row.backlogReset}${row.failureExamples.length ? ` ${JSON.stringify(row.failureExamples.map((e) => `${e.key} sent ${e.sentAt.toFixed(0)} ms after SIGTERM on a ${e.reused ? 'reused' : 'new'} socket`))}` : ''}; slow requests completed across the signal ${slowOk}; exit ${row.exitCode} after ${fmt(row.exitMs, 0)} ms`);
      if (node.child.alive()) await stop(node.child);
    }
  }
  await origin.stop();
  return out;
}

export function shutdownTables({ idle, drain }) {
  const parts = [];
  if (idle)
    parts.push(
      'SIGTERM → exit, idle node (ms):\n' +
        table(['engine', 'runs', 'median', 'exit codes'], Object.entries(idle).map(([e, r]) => [e, r.ms.map((m) => fmt(m, 0)).join(', '), fmt(r.median, 0), r.codes.join(',')])),
    );
  if (drain)
    parts.push(
      'SIGTERM under steady keep-alive load (Node client, /100b at fixed rate on 16 sockets + 4 sockets of 1.5 s requests):\n' +
        table(
          ['engine', 'shutdown-delay', 'run', 'sent before SIGTERM (ok / failed)', 'sent SIGTERM→listener close (ok / draining 503 / failed)', 'sent after close (ok / 503 / refused / failed)', 'failed accepted', 'reset in accept queue at close', 'slow done across signal', 'exit', 'SIGTERM→exit ms'],
          drain.map((r) =>
            r.skipped
              ? [r.engine, `${r.delay} s`, r.rep ?? '', r.skipped, '', '', 'n/a', '', '', '', '']
              : [
                  r.engine,
                  `${r.delay} s`,
                  r.rep,
                  `${r.before.ok} / ${r.before.failedAccepted}`,
                  `${r.between.ok} / ${r.between.draining503} / ${r.between.failedAccepted}`,
                  `${r.after.ok} / ${r.after.draining503} / ${r.after.refused} / ${r.after.failedLate}`,
                  r.failedAccepted,
                  r.backlogReset,
                  r.slowCompletedAcrossSignal,
                  r.exitCode,
                  fmt(r.exitMs, 0),
                ],
          ),
        ),
    );
  return parts.join('\n\n');
}
