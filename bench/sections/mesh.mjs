// 5: time from SIGTERM on B to A no longer routing to B — signed leave
// notice vs. mDNS goodbye vs. drain-only vs. breaker-only after SIGKILL —
// and the failed requests under steady load in each case.
// The cases run in bench/mesh-child.mjs; with root and `ip`, inside one fresh
// network namespace with only `lo` up (multicast stays in it), deleted after.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { start } from '../lib/procs.mjs';
import { createNetns } from '../lib/netns.mjs';
import { fmt, table } from '../lib/stats.mjs';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'mesh-child.mjs');

export async function mesh(cfg, log, tools) {
  const reps = cfg.meshReps ?? 3;
  let cases = 'notice,mdns,sigterm-plain,sigkill';
  let ns = null;
  let note = null;
  if (tools.root && tools.ip) {
    try {
      ns = createNetns();
    } catch (error) {
      note = `no network namespace (${error.message.split('\n')[0]}): mDNS not measured, other cases on the host's loopback`;
    }
  } else note = 'not root or no `ip`: mDNS not measured (needs a private network namespace), other cases on the host loopback';
  if (!ns) cases = 'notice,sigterm-plain,sigkill';
  if (note) log(`  ${note}`);
  if (ns) log(`  running the mesh cases inside network namespace ${ns.name} (only lo up)`);
  const cmd = ns ? ['ip', 'netns', 'exec', ns.name, process.execPath] : [process.execPath];
  let result = null;
  const child = start(cmd[0], [...cmd.slice(1), CHILD, '--cases', cases, '--reps', String(reps)], {
    name: 'mesh-child',
    onLine: (line) => {
      if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7));
      else log(line);
    },
  });
  const timer = setTimeout(() => child.proc.kill('SIGTERM'), 8 * 60_000);
  const exit = await child.exited;
  clearTimeout(timer);
  if (ns) ns.remove();
  if (!result) throw new Error(`mesh child exited ${exit.code ?? exit.signal} without a result:\n${child.stderr()}`);
  return { cases: result, namespace: ns?.name ?? null, note };
}

export function meshTables({ cases, note }) {
  const rows = Object.values(cases).map((c) => {
    const ok = c.runs.filter((r) => !r.skipped);
    if (!ok.length) return [c.label, 'not measured', c.runs[0]?.skipped ?? '', '', '', '', '', '', ''];
    return [
      c.label,
      fmt(c.medianRemovedMs, 1),
      ok.map((r) => (r.removedMs === null ? '>' + 10_000 : fmt(r.removedMs, 0))).join(', '),
      [...new Set(ok.map((r) => r.why))].join('; '),
      ok.map((r) => `${r.load.failedAccepted}/${r.load.sentAroundSignal}`).join(', '),
      ok.map((r) => fmt(r.load.p99Ms, 1)).join(', '),
      [...new Set(ok.flatMap((r) => Object.keys(r.load.errors)))].join(', ') || '-',
      ok.map((r) => Object.entries(r.counterDeltas ?? {}).filter(([k]) => k.includes('retried')).reduce((a, [, v]) => a + v, 0)).join(', '),
      ok.map((r) => (r.bExit?.ms != null ? fmt(r.bExit.ms, 0) : 'n/a')).join(', '),
    ];
  });
  return (
    'A stops routing to B (A\'s /state polled every ~3 ms; failed = non-2xx or connection errors seen by a keep-alive client of A, of the requests sent from 1 s before to ≥ 2 s after the signal):\n' +
    table(['case', 'median ms', 'runs ms', 'how A noticed', 'failed / sent per run', 'client p99 ms per run', 'failures', 'retried by A (metrics) per run', 'B signal → exit ms'], rows) +
    (note ? `\n${note}` : '')
  );
}
