#!/usr/bin/env node
// How N processes share one listening socket, measured bare (no proxy, a
// 100-byte answer) so only the sharing differs:
//   ipc       the primary binds; each worker gets the handle over child_process IPC
//             and listens on it (what --workers uses; the kernel wakes the workers)
//   cluster   Node's cluster module, round-robin (the primary accepts, passes each connection)
//   reuseport each worker binds its own socket with SO_REUSEPORT
//             (listen({ reusePort: true }), Node >= 22.12 only)
// Load: wrk, keep-alive and connection-per-request (`Connection: close`).
//
//   node bench/listener-sharing.mjs [--workers 2] [--seconds 5] [--rounds 3]
// Loopback only; every process it starts is stopped at the end.
import cluster from 'node:cluster';
import { fork } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.mjs';

const BODY = 'x'.repeat(99) + '\n';
const serve = (req, res) => res.end(BODY);

if (process.env.LS_ROLE === 'ipc-worker') {
  process.on('message', (m, handle) => {
    if (m === 'listen') http.createServer(serve).listen(handle, () => process.send('listening'));
  });
} else if (process.env.LS_ROLE === 'reuseport-worker') {
  http.createServer(serve).listen({ port: Number(process.env.LS_PORT), host: '127.0.0.1', reusePort: true }, () => process.send('listening'));
} else if (cluster.isWorker) {
  http.createServer(serve).listen(Number(process.env.LS_PORT), '127.0.0.1');
} else {
  const { values: opt } = parseArgs({ options: { workers: { type: 'string', default: '2' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } } });
  const n = Number(opt.workers);
  const freePort = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  const children = [];
  const waitListening = (c) => new Promise((r) => c.once('message', r));

  async function startMode(mode, port) {
    if (mode === 'ipc') {
      const handle = net._createServerHandle('127.0.0.1', port, 4);
      const ws = Array.from({ length: n }, () => fork(process.argv[1], [], { env: { ...process.env, LS_ROLE: 'ipc-worker' } }));
      children.push(...ws);
      for (const w of ws) { w.send('listen', handle); await waitListening(w); }
      return async () => { for (const w of ws) w.kill(); handle.close(); };
    }
    if (mode === 'reuseport') {
      const ws = Array.from({ length: n }, () => fork(process.argv[1], [], { env: { ...process.env, LS_ROLE: 'reuseport-worker', LS_PORT: String(port) } }));
      children.push(...ws);
      await Promise.all(ws.map(waitListening));
      return async () => { for (const w of ws) w.kill(); };
    }
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ exec: process.argv[1], env: { ...process.env, LS_PORT: String(port) } });
    const ws = Array.from({ length: n }, () => cluster.fork({ LS_PORT: String(port) }));
    await Promise.all(ws.map((w) => new Promise((r) => w.once('listening', r))));
    return async () => { for (const w of ws) w.kill(); };
  }

  const [major, minor] = process.versions.node.split('.').map(Number);
  const modes = ['ipc', 'cluster', ...(major > 22 || (major === 22 && minor >= 12) ? ['reuseport'] : [])];
  if (!modes.includes('reuseport')) console.log(`reuseport: not measured, Node ${process.versions.node} < 22.12 has no listen({ reusePort })`);
  const results = {};
  try {
    for (let round = 1; round <= Number(opt.rounds); round++) {
      for (const mode of modes) {
        const port = await freePort();
        const stop = await startMode(mode, port);
        for (const kind of ['keep-alive', 'close']) {
          const headers = kind === 'close' ? ['-H', 'Connection: close'] : [];
          const r = await wrkWith(`http://127.0.0.1:${port}/`, Number(opt.seconds), headers);
          ((results[mode] ??= {})[kind] ??= []).push(r);
          console.log(`round ${round} ${mode.padEnd(9)} ${kind.padEnd(10)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99.toFixed(2)} ms  errors ${r.socketErrors + r.non2xx}`);
        }
        await stop();
      }
    }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
  for (const kind of ['keep-alive', 'close']) {
    const base = results.ipc[kind];
    const line = modes.map((m) => `${m} ${median(results[m][kind].map((r) => r.rps)).toFixed(0)} req/s (${median(results[m][kind].map((r, i) => r.rps / base[i].rps)).toFixed(2)}× ipc)`);
    console.log(`${kind}: ${line.join(', ')}`);
  }
  process.exit(0);
}

/** wrk with extra arguments (a header), 32 connections, unpinned. */
async function wrkWith(url, seconds, extra) {
  const { execFile } = await import('node:child_process');
  const { parseWrk } = await import('./lib/wrk.mjs');
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/wrk', ['-t1', '-c32', `-d${seconds}s`, '--timeout', '2s', '--latency', ...extra, url], { timeout: (seconds + 15) * 1000 }, (e, out) => (e ? reject(e) : resolve(parseWrk(out)))),
  );
}
