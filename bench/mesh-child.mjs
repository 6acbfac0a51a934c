#!/usr/bin/env node
// The mesh cases of the bench, run by bench/sections/mesh.mjs — inside a
// fresh network namespace with only `lo` up when mDNS is measured, so the
// multicast never leaves it. Prints progress lines, then `RESULT {json}`.
//
// Each case: origin + nodes A, B, C on 127.0.0.1. A has no upstream and
// routes to B and C; steady keep-alive load goes through A; then B gets
// SIGTERM (or SIGKILL) and A's /state is polled every few ms until A stops
// routing to B (B gone from the table, not `alive`, or its breaker open).
import { parseArgs } from 'node:util';
import { freePort, freeUdpPort, get, installExitHooks, sleep, stop, stopEverything } from './lib/procs.mjs';
import { startNode } from './lib/graceful-edge.mjs';
import { classify, startLoad } from './lib/load-client.mjs';
import { median } from './lib/stats.mjs';
import { startNodeOrigin } from './sections/shutdown.mjs';

const { values: opt } = parseArgs({
  options: {
    cases: { type: 'string', default: 'notice,mdns,sigterm-plain,sigkill' },
    reps: { type: 'string', default: '3' },
    rate: { type: 'string', default: '300' },
    'wait-ms': { type: 'string', default: '10000' },
  },
});
const reps = Number(opt.reps);
const waitMs = Number(opt['wait-ms']);
const log = (s) => process.stdout.write(`${s}\n`);
installExitHooks();

const KEY = 'bench-mesh-key-0123456789abcdef';
const CASES = {
  notice: { label: 'SIGTERM, signed leave notice', signal: 'SIGTERM', key: true, mdns: false },
  mdns: { label: 'SIGTERM, mDNS goodbye only (no key)', signal: 'SIGTERM', key: false, mdns: true },
  'sigterm-plain': { label: 'SIGTERM, no notice, no mDNS (drain + breaker)', signal: 'SIGTERM', key: false, mdns: false },
  sigkill: { label: 'SIGKILL, breaker only', signal: 'SIGKILL', key: true, mdns: false },
};

/** Why A no longer routes to B, from one /state answer, or null while it still does. */
function notRouting(state, bAddress) {
  if (!state) return null;
  const peer = state.peers?.find((p) => p.address === bAddress);
  if (!peer) return 'gone from peers';
  if (peer.status !== 'alive') return `peer ${peer.status}`;
  const breaker = state.circuitBreakers?.find((b) => b.target === bAddress || b.target === `http://${bAddress}`);
  if (breaker && breaker.state === 'open') return 'breaker open';
  return null;
}

function counters(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line) continue;
    const m = /^(graceful_edge_[a-z_]*(?:total|retries)[a-z_]*)(\{[^}]*\})?\s+([\d.e+-]+)$/.exec(line);
    if (m && !m[1].startsWith('graceful_edge_mesh_sent')) out[m[1] + (m[2] ?? '')] = Number(m[3]);
  }
  return out;
}

async function runCase(name, c) {
  const origin = await startNodeOrigin({});
  const ports = {};
  for (const n of ['a', 'b', 'c']) ports[n] = { proxy: await freePort(), admin: await freePort(), mesh: await freeUdpPort() };
  const addr = (n) => `127.0.0.1:${ports[n].proxy}`;
  const peerArg = (n) => ['--peer', `${addr(n)}/${ports[n].mesh}`];
  const common = (n) => ['--node-id', `bench-${n}`, '--mesh-port', String(ports[n].mesh), c.mdns ? '--mdns' : '--no-mdns', '--drain-timeout', '10'];
  const env = c.key ? { GRACEFUL_EDGE_MESH_KEY: KEY } : { GRACEFUL_EDGE_MESH_KEY: '' };
  const staticPeers = (others) => (c.mdns ? [] : others.flatMap(peerArg));
  const start = (n, args) => startNode({ args: [...common(n), ...args], ports: ports[n], env, name: `ge-${n}` });
  const B = await start('b', ['--upstream', origin.url, ...staticPeers(['a', 'c'])]);
  const C = await start('c', ['--upstream', origin.url, ...staticPeers(['a', 'b'])]);
  const A = await start('a', staticPeers(['b', 'c']));
  await Promise.all([A.ready(), B.ready(), C.ready()]);
  const result = { case: name };
  try {
    // A must route to B and C before anything is measured (mDNS: discovery).
    const t0 = performance.now();
    let st = null;
    while (performance.now() - t0 < 15_000) {
      st = await A.state();
      const alive = (st?.peers ?? []).filter((p) => p.status === 'alive').map((p) => p.address);
      if (alive.includes(addr('b')) && alive.includes(addr('c'))) break;
      st = null;
      await sleep(50);
    }
    if (!st) {
      result.skipped = `A did not see B and C alive within 15 s (${c.mdns ? 'mDNS discovery' : 'static peers'})`;
      return result;
    }
    result.discoveredMs = performance.now() - t0;
    const probe = await get(A.proxyUrl + '/100b');
    result.proxyStatus = probe.status;
    const before = counters(await A.metrics());
    const load = startLoad(A.proxyUrl, { rate: Number(opt.rate), connections: 16, maxSeconds: 6 + waitMs / 1000, path: '/100b' });
    await sleep(2000);
    const sigAt = performance.now();
    B.child.proc.kill(c.signal);
    let why = null;
    let polls = 0;
    while (performance.now() - sigAt < waitMs) {
      why = notRouting(await A.state(), addr('b'));
      polls++;
      if (why) break;
      await sleep(3);
    }
    result.removedMs = why ? performance.now() - sigAt : null;
    result.why = why ?? `still routed to B after ${waitMs} ms`;
    result.pollIntervalMs = (performance.now() - sigAt) / Math.max(1, polls);
    // Same observation window in every case: at least 2 s after the signal.
    await sleep(Math.max(1000, 2000 - (performance.now() - sigAt)));
    const records = await load.stop();
    const after = counters(await A.metrics());
    result.load = classify(records.filter((r) => r.sentAt >= sigAt - 1000));
    const win = records.filter((r) => r.sentAt >= sigAt - 1000);
    result.load.sentAroundSignal = win.length;
    const lat = win.filter((r) => r.doneAt > 0).map((r) => r.doneAt - r.sentAt).sort((a, b) => a - b);
    result.load.p99Ms = lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] : null;
    result.load.maxMs = lat.length ? lat[lat.length - 1] : null;
    result.load.rate = win.length / ((Math.max(...win.map((r) => r.sentAt)) - Math.min(...win.map((r) => r.sentAt))) / 1000);
    result.failedAll = classify(records).failedAccepted;
    result.counterDeltas = Object.fromEntries(
      Object.entries(after)
        .map(([k, v]) => [k, v - (before[k] ?? 0)])
        .filter(([k, d]) => d !== 0 && /retr|outcome|fail|error|refus|breaker|leave|notice/i.test(k)),
    );
    const bExit = await Promise.race([B.child.exited, sleep(12_000).then(() => null)]);
    result.bExit = bExit ? { code: bExit.code, signal: bExit.signal, ms: bExit.at - sigAt } : null;
    const ackLine = B.logs.find((l) => /acked|acks?\b/i.test(String(l.msg ?? '')) && /leave|notice/i.test(String(l.msg ?? '')));
    result.bAckLog = ackLine ? String(ackLine.msg) : null;
    return result;
  } finally {
    for (const n of [A, B, C]) if (n.child.alive()) await stop(n.child);
    await origin.stop();
  }
}

const results = {};
try {
  for (const name of opt.cases.split(',')) {
    const c = CASES[name];
    if (!c) continue;
    results[name] = { label: c.label, runs: [] };
    for (let i = 0; i < reps; i++) {
      const r = await runCase(name, c);
      results[name].runs.push(r);
      log(
        r.skipped
          ? `  ${c.label}: ${r.skipped}`
          : `  ${c.label} #${i + 1}: A stopped routing to B after ${r.removedMs === null ? 'n/a' : r.removedMs.toFixed(1)} ms (${r.why}); failed requests ${r.load.failedAccepted} of ${r.load.sentAroundSignal}${Object.keys(r.load.errors).length ? ` ${JSON.stringify(r.load.errors)}` : ''} (${r.load.rate.toFixed(0)} req/s, p99 ${r.load.p99Ms?.toFixed(1)} ms, max ${r.load.maxMs?.toFixed(0)} ms)${r.proxyStatus !== 200 ? ` [proxy answered ${r.proxyStatus}]` : ''}`,
      );
      if (r.skipped) break;
    }
    const ok = results[name].runs.filter((r) => !r.skipped && r.removedMs !== null);
    results[name].medianRemovedMs = ok.length ? median(ok.map((r) => r.removedMs)) : null;
  }
} finally {
  await stopEverything();
}
log(`RESULT ${JSON.stringify(results)}`);
