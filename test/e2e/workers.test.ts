/**
 * `--workers N`: one node (one chart, one data dir, one admin listener) whose
 * proxy listener is served by N worker processes. Observed from outside:
 * HTTP through the proxy, /state and /metrics, process ids and signals, the
 * SQLite file (through `graceful-edge state --json`), exit codes, log lines.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { breakersOf, metric, metricBy } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { deadUrl, freeTcpPort } from '../helpers/ports.js';
import { savedState } from '../helpers/saved-state.js';
import { fileLimitOf, limitLeavingFree, setSoftFileLimit } from '../helpers/fd-limit.js';
import { until } from '../helpers/wait.js';
import { startOrigin } from '../proxy/support/origin.js';
import { slowGet } from '../proxy/support/slow-client.js';
import { copyOfBuild, getOnce, hotRestart, isAlive, startLoad, trackPids } from '../restart/support.js';

const { nodes, cleanups } = testScope();

interface WorkerView {
  pid: number;
  inFlight: number;
  requests: number;
}
interface StateWithWorkers {
  pid: number;
  lifecycle: string;
  workers: WorkerView[];
  /** Slots whose replacement waits out the back-off. */
  workersRestarting: Array<{ slot: number; exitedPid: number; replaceInMs: number }>;
  inFlight: number;
}

/** /state, with each worker's `requests` (from `workerRequests`) joined into its `workers` entry. */
async function state(adminUrl: string): Promise<StateWithWorkers> {
  const r = await getOnce(`${adminUrl}/state`);
  if ('error' in r) throw new Error(`GET /state: ${r.error}`);
  const raw = JSON.parse(r.body) as Omit<StateWithWorkers, 'workers'> & { workers: Array<{ pid: number; inFlight: number }>; workerRequests: Array<{ pid: number; requests: number }> };
  // The interface's shape, exactly.
  for (const w of raw.workers) expect(Object.keys(w).sort()).toEqual(['inFlight', 'pid']);
  const requests = new Map(raw.workerRequests.map((w) => [w.pid, w.requests]));
  return { ...raw, workers: raw.workers.map((w) => ({ ...w, requests: requests.get(w.pid) ?? 0 })) };
}

/** Alive and not a zombie (a worker whose parent was killed is reaped by init, or not). */
function runningProcess(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The parent pid of a process, from /proc. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The node's live child processes, from /proc: a worker shows here from its fork, before it reports anything. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (parentOf(Number(entry)) === pid && runningProcess(Number(entry))) out.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

/** `cli`: another build's cli.js (a copy a hot-restart test later rewrites). */
async function startWorkers(args: string[], workers = 2, cli?: string): Promise<NodeProcess> {
  const n = await startNode({ cli, args: ['--workers', String(workers), ...args], startTimeoutMs: 60_000 });
  nodes.push(n);
  const track = trackPids(cleanups);
  for (const w of (await state(n.adminUrl)).workers) track(w.pid);
  return n;
}

/** SIGTERM: exit 0, and the node's one shutdown record saved. */
async function stopsWithOneRecord(n: NodeProcess): Promise<void> {
  n.kill('SIGTERM');
  expect(await n.exited).toEqual({ code: 0, signal: null });
  expect((await savedState(n.dataDir)).shutdowns).toHaveLength(1);
}

/** `count` GETs, `parallel` at a time, each on a connection of its own. */
async function freshGets(url: string, count: number, parallel = 8): Promise<number[]> {
  const statuses: number[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (i < count) {
        const r = await getOnce(`${url}/${i++}`);
        statuses.push('error' in r ? -1 : r.status);
      }
    }),
  );
  return statuses;
}

/**
 * Batches of fresh-connection GETs until /state shows that every worker
 * answered some (the kernel hands each accept to whichever worker wakes
 * first, so a short run may land on one).
 */
async function untilBothServed(n: NodeProcess, batch: number): Promise<{ statuses: number[]; workers: WorkerView[] }> {
  const statuses: number[] = [];
  for (let round = 0; round < 20; round++) {
    statuses.push(...(await freshGets(n.proxyUrl, batch)));
    const v = await until('the workers counted every request', async () => {
      const s = await state(n.adminUrl);
      return s.workers.reduce((sum, w) => sum + w.requests, 0) >= statuses.length ? s : null;
    });
    if (v.workers.every((w) => w.requests > 0)) return { statuses, workers: v.workers };
  }
  throw new Error(`after ${statuses.length} requests, one worker had answered none`);
}

/**
 * Bounded load like startLoad's, for a drain: a 503 "shutting down" with
 * Retry-After and Connection: close is the node's designed answer to a
 * request that arrives after the listener closed (with no peer to forward
 * to), so it is counted apart; a reset or any other answer is a failure.
 */
function drainLoad(baseUrl: string, opts: { keepAlive: number; fresh: number; maxMs: number }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.keepAlive });
  const r = { ok: 0, turnedAway: 0, refused: 0, reset: 0, failed: 0, failures: [] as string[] };
  let stopped = false;
  const deadline = Date.now() + opts.maxMs;
  let i = 0;
  const loop = async (kind: 'ka' | 'new') => {
    while (!stopped && Date.now() < deadline) {
      const n = i++;
      const res = await getOnce(`${baseUrl}/${kind}/${n}`, kind === 'ka' ? agent : false);
      if ('error' in res) {
        if (res.error === 'ECONNREFUSED') r.refused++;
        else (res.error === 'ECONNRESET' || res.error === 'EPIPE' || res.error === 'incomplete' ? r.reset++ : r.failed++), r.failures.push(`${kind} #${n}: ${res.error}`);
      } else if (res.status === 200) r.ok++;
      else if (res.status === 503 && /shutting down/.test(res.body)) r.turnedAway++;
      else r.failed++, r.failures.push(`${kind} #${n}: ${res.status} ${res.body.slice(0, 100)}`);
    }
  };
  const loops = [...Array.from({ length: opts.keepAlive }, () => loop('ka')), ...Array.from({ length: opts.fresh }, () => loop('new'))];
  return {
    ok: () => r.ok,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return r;
    },
  };
}

describe('--workers 2', () => {
  it('serves through both worker processes; /state lists each with its in-flight and answered requests', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url]);
    const s = await state(n.adminUrl);
    expect(s.pid).toBe(n.proc.pid);
    expect(s.workers).toHaveLength(2);
    const pids = s.workers.map((w) => w.pid);
    expect(new Set(pids).size).toBe(2);
    for (const pid of pids) {
      expect(pid).not.toBe(n.proc.pid);
      expect(parentOf(pid)).toBe(n.proc.pid);
    }
    // One node: one "proxy served by" line from the primary.
    await n.waitForLog((l) => l.msg === 'proxy served by worker processes' && Array.isArray(l.workers) && l.workers.length === 2);
    expect(n.logs.filter((l) => l.msg === 'proxy served by worker processes')).toHaveLength(1);

    const { statuses, workers } = await untilBothServed(n, 200);
    expect(statuses.filter((c) => c !== 200), 'non-200 answers').toEqual([]);
    console.info(`[workers] requests per worker: ${workers.map((w) => `${w.pid}=${w.requests}`).join(', ')}`);
    // The node's metrics add the workers' counts up.
    expect(await metric(n, 'graceful_edge_requests_total', { outcome: 'ok' })).toBe(statuses.length);

    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    await until('workers gone', async () => pids.every((p) => !isAlive(p)), { timeoutMs: 5_000 });
  });

  it.each([2, 1])('SIGTERM under load (keep-alive and new connections), --workers %i: 0 reset, 0 failed, exit 0, one shutdown record counting every worker', async (workers) => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url, '--drain-timeout', '20', '--shutdown-delay', '0.5'], workers);
    const load = drainLoad(n.proxyUrl, { keepAlive: 4, fresh: 4, maxMs: 30_000 });
    // Slow requests too, so the drain has something to wait for in each worker.
    const slow = Array.from({ length: 4 }, () => slowGet(`${n.proxyUrl}/slow?ms=1500&chunks=5`));
    await Promise.all(slow.map((s) => s.started));
    await until('load running', async () => load.ok() >= 100, { timeoutMs: 30_000 });
    n.kill('SIGTERM');
    // /readyz fails at once; a load balancer stops sending new work within
    // --shutdown-delay (here 200 ms of 500). Requests racing the listener's
    // close itself are refused or reset by the kernel, with or without
    // workers (the same test with --workers 1 saw 5-8 resets in 3 of 3 runs).
    await new Promise((r) => setTimeout(r, 200));
    const result = await load.stop();
    const exit = await n.exited;
    const slowDone = await Promise.all(slow.map((s) => s.done));
    console.info(
      `[workers] drain under load, --workers ${workers}: ${result.ok} ok, ${result.turnedAway} turned away (503 shutting down), ${result.refused} refused (listener closed), ${result.reset} reset, ${result.failed} failed`,
    );
    expect(exit).toEqual({ code: 0, signal: null });
    expect(result, result.failures.join('\n')).toMatchObject({ reset: 0, failed: 0 });
    for (const d of slowDone) expect(d).toMatchObject({ status: 200, complete: true, error: null });

    const saved = await savedState(n.dataDir);
    expect(saved.shutdowns).toHaveLength(1);
    expect(saved.shutdowns[0]!.cut).toBe(0);
    // At least the four slow requests finished during the drain, whichever worker had them.
    expect(saved.shutdowns[0]!.drained).toBeGreaterThanOrEqual(4);
    if (workers > 1) expect(n.logs.filter((l) => l.msg === 'all workers drained')).toHaveLength(1);
  });

  it('at the drain deadline every worker cuts; the one shutdown record counts the cut over all workers', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url, '--drain-timeout', '2']);
    const slow = Array.from({ length: 4 }, () => slowGet(`${n.proxyUrl}/slow?ms=30000&chunks=30`));
    await Promise.all(slow.map((r) => r.started));
    await until('4 in flight in /state', async () => (await state(n.adminUrl)).inFlight === 4);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    for (const r of await Promise.all(slow.map((x) => x.done))) expect(r.complete).toBe(false);
    const cuts = n.logs.filter((l) => l.phase === 'cutting' && l.msg === 'drain deadline: cut what was left');
    expect(cuts).toHaveLength(2);
    expect(cuts.reduce((sum, l) => sum + Number(l.cut), 0)).toBe(4);
    expect(n.logs.find((l) => l.msg === 'all workers cut')).toMatchObject({ cut: 4 });
    const saved = await savedState(n.dataDir);
    expect(saved.shutdowns).toHaveLength(1);
    expect(saved.shutdowns[0]).toMatchObject({ cut: 4 });
  });

  it('a breaker opened in one worker is in the saved snapshot and is restored into every worker after a restart', async () => {
    const dead = await deadUrl();
    const dataDir = cleanups.tempDir();
    const args = ['--upstream', dead];
    const n = await startNode({ args: ['--workers', '2', ...args], dataDir, startTimeoutMs: 60_000 });
    nodes.push(n);
    // One kept-alive connection: all five failures reach the same worker.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 5; i++) expect(await getOnce(`${n.proxyUrl}/try/${i}`, agent)).toMatchObject({ status: 502 });
    agent.destroy();
    await until('the merged breaker open in /state', async () => {
      const b = await breakersOf(n);
      return b.length === 1 && b[0]!.state === 'open';
    });
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect((await savedState(dataDir)).circuitBreakers).toEqual([expect.objectContaining({ target: dead, state: 'open' })]);

    const again = await startNode({ args: ['--workers', '2', ...args], dataDir, startTimeoutMs: 60_000 });
    nodes.push(again);
    expect(await breakersOf(again)).toEqual([{ target: dead, state: 'open' }]);
    // Fresh connections reach both workers; every one refuses fast (503), none tries the target (502).
    const { statuses } = await untilBothServed(again, 40);
    expect(new Set(statuses)).toEqual(new Set([503]));
    again.kill('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
  });

  it('a breaker one worker opens reaches the other while both run: it refuses the target too (503) without trying it, and says so', async () => {
    const dead = await deadUrl();
    const n = await startWorkers(['--upstream', dead]);
    // One kept-alive connection: all five failures reach the same worker.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 5; i++) expect(await getOnce(`${n.proxyUrl}/try/${i}`, agent)).toMatchObject({ status: 502 });
    agent.destroy();
    const opened = await n.waitForLog((l) => l.msg === 'circuit breaker opened: the target is refused until its cool-down passes');
    expect(opened).toMatchObject({ target: dead, state: 'open', halfOpenAfterMs: 10_000 });
    const other = (await state(n.adminUrl)).workers.map((w) => w.pid).find((pid) => pid !== opened.pid)!;
    const taken = await n.waitForLog((l) => l.msg === 'circuit breaker state taken from another worker');
    expect(taken).toMatchObject({ pid: other, target: dead, state: 'open' });
    // Fresh connections reach both workers: every one is refused fast, none tries
    // the target (before, the other worker answered 502 until it tripped on its own).
    const { statuses } = await untilBothServed(n, 40);
    expect(new Set(statuses)).toEqual(new Set([503]));
    expect(n.logs.filter((l) => String(l.msg).startsWith('circuit breaker opened'))).toHaveLength(1);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });

  it('a SIGKILLed worker is replaced and logged once, with the request it had in flight counted as lost; the node keeps serving', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url]);
    const before = await state(n.adminUrl);
    const slow = slowGet(`${n.proxyUrl}/slow?ms=20000&chunks=20`);
    await slow.started;
    const busy = await until('the busy worker in /state', async () => (await state(n.adminUrl)).workers.find((w) => w.inFlight === 1) ?? null);
    process.kill(busy.pid, 'SIGKILL');
    const line = await n.waitForLog((l) => String(l.msg).startsWith('worker exited'));
    expect(line).toMatchObject({ msg: 'worker exited: its requests in flight are lost; replacing it', worker: { pid: busy.pid, signal: 'SIGKILL' }, inFlight: 1, replaced: true });
    expect(line).toMatchObject({ worker: { pid: busy.pid, code: null, signal: 'SIGKILL' }, inFlight: 1, replaced: true });
    expect((await slow.done).complete).toBe(false);

    const after = await until('a replacement worker serving', async () => {
      const v = await state(n.adminUrl);
      return v.workers.length === 2 && !v.workers.some((w) => w.pid === busy.pid) ? v : null;
    }, { timeoutMs: 30_000 });
    const replacement = after.workers.find((w) => !before.workers.some((b) => b.pid === w.pid))!;
    trackPids(cleanups)(replacement.pid);
    await n.waitForLog((l) => l.pid === replacement.pid && String(l.msg).startsWith('proxy listening'), 30_000);
    expect(await metric(n, 'graceful_edge_requests_total', { outcome: 'worker_lost' })).toBe(1);
    expect(new Set(await freshGets(n.proxyUrl, 40))).toEqual(new Set([200]));
    expect(n.logs.filter((l) => String(l.msg).startsWith('worker exited'))).toHaveLength(1);

    await stopsWithOneRecord(n);
  });

  it('the node itself SIGKILLed: each worker finishes what it has in flight, stops accepting and exits; nothing is left on the port', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url, '--drain-timeout', '20']);
    const { pid, workers } = await state(n.adminUrl);
    const slow = slowGet(`${n.proxyUrl}/slow?ms=2000&chunks=4`);
    await slow.started;
    process.kill(pid, 'SIGKILL');

    // The workers write to the same stdout: their lines still reach n.logs.
    expect(await slow.done).toMatchObject({ status: 200, complete: true });
    await until('every worker gone', async () => workers.every((w) => !runningProcess(w.pid)), { timeoutMs: 30_000 });
    expect(n.logs.filter((l) => l.msg === 'worker: primary went away; finishing what is in flight, then exiting').map((l) => l.pid).sort()).toEqual(
      workers.map((w) => w.pid).sort(),
    );
    expect(await getOnce(`${n.proxyUrl}/after`)).toEqual({ error: 'ECONNREFUSED' });
  });

  it('SIGHUP: the successor serves with its own two workers, the old ones drain and exit; no request lost', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url, '--drain-timeout', '15']);
    const track = trackPids(cleanups);
    const before = await state(n.adminUrl);
    track(before.pid);
    const load = startLoad(n.proxyUrl, { keepAlive: 2, fresh: 2, maxMs: 120_000, maxRequests: 100_000 });
    const slow = slowGet(`${n.proxyUrl}/slow?ms=2000&chunks=10`);
    await slow.started;
    await until('load running', async () => load.ok() >= 50, { timeoutMs: 30_000 });
    const succ = await hotRestart(n.adminUrl, before.pid);
    track(succ.pid);
    const after = await until('the successor with two workers', async () => {
      const v = await state(n.adminUrl);
      return v.pid === succ.pid && v.workers.length === 2 ? v : null;
    });
    for (const w of after.workers) track(w.pid);
    for (const w of after.workers) expect(before.workers.map((b) => b.pid)).not.toContain(w.pid);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    await until('the old workers gone', async () => before.workers.every((w) => !isAlive(w.pid)), { timeoutMs: 10_000 });
    const okBefore = load.ok();
    await until('load served by the successor', async () => load.ok() >= okBefore + 50, { timeoutMs: 30_000 });
    const result = await load.stop();
    console.info(`[workers] hot restart under load: ${result.ok} ok, ${result.refused} refused, ${result.reset} reset, ${result.failed} failed`);
    expect(result, result.failures.join('\n')).toMatchObject({ refused: 0, reset: 0, failed: 0 });
    expect(await slow.done).toMatchObject({ status: 200, complete: true, error: null });

    process.kill(succ.pid, 'SIGTERM');
    await until('the successor gone', async () => !isAlive(succ.pid), { timeoutMs: 30_000 });
    await until('its workers gone', async () => after.workers.every((w) => !isAlive(w.pid)), { timeoutMs: 10_000 });
  });

  it('with --tls-cert: the workers serve HTTPS and HTTP/2 (the certificate reaches them over IPC); a plain-HTTP client is refused and counted in the node\'s /metrics', async () => {
    const run = promisify(execFile);
    const dir = cleanups.tempDir('ge-tls-');
    const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url, '--tls-cert', cert, '--tls-key', key]);
    await n.waitForLog((l) => l.msg === 'proxy served by worker processes' && Array.isArray(l.workers) && l.workers.length === 2);
    const statuses: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { stdout } = await run('curl', ['-sk', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', i % 2 ? '--http2' : '--http1.1', `https://${n.proxy}/tls/${i}`]);
      statuses.push(stdout);
    }
    expect(new Set(statuses)).toEqual(new Set(['200 1.1', '200 2']));
    const plain = await getOnce(`http://${n.proxy}/not-tls`);
    expect('error' in plain || plain.status !== 200).toBe(true);
    await until('the refusal counted', async () => ((await metricBy(n, 'graceful_edge_tls_handshake_failures_total', 'reason')).not_tls ?? 0) >= 1);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });

  it('a port in use: one bind error line and exit 2, no worker left behind', async () => {
    const port = await freeTcpPort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    cleanups.closing(blocker);
    const n = await startNode({ args: ['--workers', '2', '--listen', `127.0.0.1:${port}`], waitFor: 'spawned' });
    nodes.push(n);
    expect((await n.exited).code).toBe(2);
    const errors = n.logs.filter((l) => l.msg === 'proxy listener cannot bind');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ error: 'EADDRINUSE' });
  });
});

/**
 * A fresh node's keep-alive connection and the worker that serves it (the
 * kernel picks it); the other worker is the one to kill. With one socket
 * and no pause, the connection stays on that worker.
 */
async function pinnedConnection(n: NodeProcess): Promise<{ agent: http.Agent; serving: number; other: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 5; i++) expect(await getOnce(`${n.proxyUrl}/pin/${i}`, agent)).toMatchObject({ status: 200 });
  const workers = await until('the five requests counted', async () => {
    const s = await state(n.adminUrl);
    return s.workers.some((w) => w.requests >= 5) ? s.workers : null;
  });
  return { agent, serving: workers.find((w) => w.requests >= 5)!.pid, other: workers.find((w) => w.requests < 5)!.pid };
}

/** GETs on `agent` one after another until stopped (bounded in count and time): every status. */
function steadyGets(url: string, agent: http.Agent, maxMs = 20_000, maxRequests = 20_000) {
  const statuses: Array<number | string> = [];
  let stopped = false;
  const deadline = Date.now() + maxMs;
  const loop = (async () => {
    while (!stopped && Date.now() < deadline && statuses.length < maxRequests) {
      const r = await getOnce(`${url}/steady/${statuses.length}`, agent);
      statuses.push('error' in r ? r.error : r.status);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return statuses;
    },
  };
}

/**
 * SIGKILLs `first`, then each replacement of its slot as soon as /state
 * lists it, `times` kills in all; returns after the last kill. Per killed
 * replacement, how long after the kill before it it appeared; and every
 * `workersRestarting` entry /state showed meanwhile.
 */
async function killSlotRepeatedly(n: NodeProcess, first: number, times: number, track: (pid: number) => void) {
  const known = new Set((await state(n.adminUrl)).workers.map((w) => w.pid));
  const appearedAfterMs: number[] = [];
  const restarting: StateWithWorkers['workersRestarting'] = [];
  const killed: number[] = [];
  let victim = first;
  for (let i = 0; i < times; i++) {
    process.kill(victim, 'SIGKILL');
    killed.push(victim);
    const killedAt = Date.now();
    if (i === times - 1) break;
    victim = await until(
      `the replacement after kill ${i + 1}`,
      async () => {
        const s = await state(n.adminUrl);
        restarting.push(...s.workersRestarting);
        return s.workers.find((w) => !known.has(w.pid))?.pid ?? null;
      },
      { everyMs: 5, timeoutMs: 15_000 },
    );
    appearedAfterMs.push(Date.now() - killedAt);
    known.add(victim);
    track(victim);
  }
  return { killed, appearedAfterMs, restarting, known };
}

const exitLines = (n: NodeProcess) => n.logs.filter((l) => String(l.msg).startsWith('worker exited'));

describe('--workers 2: a worker that keeps dying', () => {
  it('each replacement of a slot killed at once waits longer (0, 100, 200, 400, 800 ms, logged); the other worker answers throughout, the node stays ready; then the slot is filled and both serve', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url]);
    const track = trackPids(cleanups);
    const { agent, serving, other } = await pinnedConnection(n);
    const steady = steadyGets(n.proxyUrl, agent);
    const readiness: number[] = [];
    const ready = setInterval(() => void fetch(`${n.adminUrl}/readyz`).then((r) => readiness.push(r.status), () => readiness.push(-1)), 50);

    const kills = await killSlotRepeatedly(n, other, 5, track);
    const lines = await until('five exit lines', async () => (exitLines(n).length >= 5 ? exitLines(n) : null));
    expect(lines.map((l) => (l.worker as { pid: number }).pid)).toEqual(kills.killed);
    expect(lines.map((l) => l.replaceInMs)).toEqual([0, 100, 200, 400, 800]);
    expect(lines.map((l) => l.exitsInARow)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(lines.map((l) => (l.worker as { slot: number }).slot)).size).toBe(1);
    // From outside: each replacement appeared no sooner than its logged delay.
    kills.appearedAfterMs.forEach((ms, i) => expect(ms, `replacement ${i + 1}`).toBeGreaterThanOrEqual([0, 100, 200, 400][i]!));
    console.info(`[workers] kill → replacement listed: ${kills.appearedAfterMs.map((ms) => `${ms} ms`).join(', ')}`);

    // The last one waits 800 ms, shown beside the workers in /state, then fills the slot and serves.
    const replacement = await until(
      'the last replacement',
      async () => {
        const s = await state(n.adminUrl);
        kills.restarting.push(...s.workersRestarting);
        return s.workers.find((w) => !kills.known.has(w.pid))?.pid ?? null;
      },
      { everyMs: 5, timeoutMs: 15_000 },
    );
    track(replacement);
    expect(kills.restarting).toContainEqual(expect.objectContaining({ slot: (lines[4]!.worker as { slot: number }).slot, exitedPid: kills.killed[4] }));
    await n.waitForLog((l) => l.pid === replacement && String(l.msg).startsWith('proxy listening'), 30_000);
    const statuses = await steady.stop();
    clearInterval(ready);
    agent.destroy();

    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((s) => s !== 200), 'answers on the surviving worker').toEqual([]);
    expect(readiness.length).toBeGreaterThan(10);
    expect(readiness.filter((s) => s !== 200), '/readyz').toEqual([]);
    const s = await state(n.adminUrl);
    expect(s.lifecycle).toBe('serving');
    expect(s.workers.map((w) => w.pid).sort()).toEqual([serving, replacement].sort());
    expect(s.workersRestarting).toEqual([]);
    const both = await untilBothServed(n, 40);
    expect(new Set(both.statuses)).toEqual(new Set([200]));
    // One line per death, no more.
    expect(exitLines(n)).toHaveLength(5);

    await stopsWithOneRecord(n);
  });

  it('SIGTERM while a replacement waits out its back-off: it is never started; exit 0, one shutdown record', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url, '--shutdown-delay', '1']);
    const track = trackPids(cleanups);
    const [survivor, first] = (await state(n.adminUrl)).workers.map((w) => w.pid) as [number, number];
    // Four kills in a row: the fourth replacement waits 400 ms.
    const kills = await killSlotRepeatedly(n, first, 4, track);
    await n.waitForLog((l) => String(l.msg).startsWith('worker exited') && (l.worker as { pid: number }).pid === kills.killed[3]);
    expect(exitLines(n).at(-1)).toMatchObject({ replaceInMs: 400, replaced: true });
    n.kill('SIGTERM');
    const signalledAt = Date.now();

    // Watch the node's children until it exits, well past the 400 ms (the drain waits --shutdown-delay, 1 s).
    const seen = new Set<number>();
    let done = false;
    void n.exited.then(() => (done = true));
    while (!done && Date.now() - signalledAt < 15_000) {
      for (const pid of childrenOf(n.proc.pid!)) seen.add(pid);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeGreaterThan(900);
    expect([...seen].filter((pid) => pid !== survivor), 'a worker started after SIGTERM').toEqual([]);
    expect(n.logs.find((l) => l.msg === 'worker replacement cancelled: the drain began')).toMatchObject({ exitedPid: kills.killed[3], phase: 'delaying' });
    expect(n.logs.filter((l) => String(l.msg).startsWith('proxy listening') && !kills.known.has(Number(l.pid)))).toEqual([]);
    const saved = await savedState(n.dataDir);
    expect(saved.shutdowns).toHaveLength(1);
    expect(saved.shutdowns[0]!.cut).toBe(0);
  });
});

/**
 * SIGKILLs one of two workers and returns its replacement's pid as soon as it
 * is forked: it is handed the socket with its first messages, and boots for a
 * few hundred ms before it can read them.
 */
async function killOneWorkerUntilReplacementForked(n: NodeProcess): Promise<number> {
  const [survivor, killed] = (await state(n.adminUrl)).workers.map((w) => w.pid) as [number, number];
  process.kill(killed, 'SIGKILL');
  const replacement = await until('the replacement forked', async () => childrenOf(n.proc.pid!).find((pid) => pid !== survivor && pid !== killed) ?? null, { everyMs: 5 });
  trackPids(cleanups)(replacement);
  return replacement;
}

describe('--workers 2: a drain that begins while a worker starts', () => {
  it('SIGTERM while a replacement is still booting (handed the socket, not yet serving): it is drained with the others, told the delay, never told to exit; no request fails', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url, '--shutdown-delay', '2']);
    const replacement = await killOneWorkerUntilReplacementForked(n);
    n.kill('SIGTERM');
    // Fresh connections through the 2 s delay: the listener is open, whichever worker accepts answers.
    const load = startLoad(n.proxyUrl, { keepAlive: 0, fresh: 4, maxMs: 1_500, maxRequests: 3_000 });
    await new Promise((r) => setTimeout(r, 1_500));
    const result = await load.stop();
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(result.failures).toEqual([]);
    expect(result.reset + result.failed + result.refused).toBe(0);
    expect(result.ok).toBeGreaterThan(0);
    // Before, a worker not yet serving missed the delay's command and, had the
    // listener closed first, was told to exit with whatever it had accepted.
    const own = n.logs.filter((l) => l.pid === replacement).map((l) => String(l.msg));
    expect(own).toContain('shutdown started: answering with Connection: close');
    expect(own).toContain('drained: every request finished');
    expect(n.logs.find((l) => l.msg === 'all workers drained')).toBeTruthy();
    const saved = await savedState(n.dataDir);
    expect(saved.shutdowns).toHaveLength(1);
    expect(saved.shutdowns[0]!.cut).toBe(0);
  });

  it('SIGTERM with no delay while a replacement is still booting: the listener closes at once, and the replacement still drains (it may have accepted) instead of being told to exit; exit 0', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url]);
    const replacement = await killOneWorkerUntilReplacementForked(n);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(n.logs.filter((l) => l.pid === replacement).map((l) => String(l.msg))).toContain('drained: every request finished');
    expect((await savedState(n.dataDir)).shutdowns).toHaveLength(1);
  });
});

describe('--workers 2: a worker that fails before the node serves, or cannot be forked', () => {
  it('the first worker killed while it boots: the pool starts another in its slot, and the node serves with both', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--workers', '2', '--upstream', origin.url], waitFor: 'spawned' });
    nodes.push(n);
    const track = trackPids(cleanups);
    const first = await until('the first worker forked', async () => childrenOf(n.proc.pid!)[0] ?? null, { everyMs: 2 });
    process.kill(first, 'SIGKILL');
    // Before, the chart sat in `binding` for good: the slot that gets the socket first was gone.
    const line = await n.waitForLog((l) => l.msg === 'worker failed before the node served');
    expect(line).toMatchObject({ pid: first, signal: 'SIGKILL', failuresInARow: 1, startingAnother: true });
    await n.waitForLog((l) => l.lifecycle === 'serving', 30_000);
    const served = n.logs.find((l) => l.msg === 'proxy served by worker processes')!;
    const admin = String(n.logs.find((l) => typeof l.admin === 'string' && String(l.msg).startsWith('admin listening'))!.admin);
    const workers = (await state(`http://${admin}`)).workers.map((w) => w.pid);
    workers.forEach(track);
    expect(workers).toHaveLength(2);
    expect(workers).not.toContain(first);
    expect(new Set(await freshGets(`http://${String(served.proxy)}`, 20))).toEqual(new Set([200]));
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });

  it('every worker killed as it boots: after three in a row, one error line and exit 2, nothing served', async () => {
    const n = await startNode({ args: ['--workers', '2'], waitFor: 'spawned' });
    nodes.push(n);
    let done = false;
    void n.exited.then(() => (done = true));
    const killed = new Set<number>();
    const deadline = Date.now() + 30_000;
    while (!done && Date.now() < deadline) {
      for (const pid of childrenOf(n.proc.pid!)) if (!killed.has(pid)) (killed.add(pid), process.kill(pid, 'SIGKILL'));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(await n.exited).toEqual({ code: 2, signal: null });
    // Two forked at start and one more per failure: the third failure ends it (the fourth may be killed or retired first).
    expect(killed.size).toBeGreaterThanOrEqual(3);
    expect(killed.size).toBeLessThanOrEqual(4);
    const errors = n.logs.filter((l) => l.msg === 'proxy cannot start: its workers fail before serving');
    expect(errors).toHaveLength(1);
    expect(String(errors[0]!.error)).toMatch(/^3 worker processes in a row failed before serving \(last: code null, signal SIGKILL\)$/);
    expect(n.logs.some((l) => l.lifecycle === 'serving')).toBe(false);
    expect(n.logs.find((l) => l.msg === 'stopped')).toMatchObject({ exitCode: 2 });
  });

  it('a slot that cannot be forked (no file descriptor left: EMFILE) is retried with the back-off, logged each time, and filled once it can be', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startWorkers(['--upstream', origin.url]);
    const track = trackPids(cleanups);
    const [survivor, victim] = (await state(n.adminUrl)).workers.map((w) => w.pid) as [number, number];
    const pid = n.proc.pid!;
    const limits = fileLimitOf(pid);
    // No descriptor left: the killed worker's IPC channel frees one, and a fork needs two (a socketpair).
    await setSoftFileLimit(pid, limitLeavingFree(pid, 0), limits.hard);
    try {
      process.kill(victim, 'SIGKILL');
      const failures = await until('three forks refused', async () => {
        const lines = n.logs.filter((l) => l.msg === 'worker could not be started; trying again');
        return lines.length >= 3 ? lines : null;
      }, { timeoutMs: 15_000 });
      expect(failures.slice(0, 3).map((l) => [l.startError, l.replaceInMs, l.exitsInARow])).toEqual([
        ['EMFILE', 100, 2],
        ['EMFILE', 200, 3],
        ['EMFILE', 400, 4],
      ]);
    } finally {
      await setSoftFileLimit(pid, limits.soft, limits.hard);
    }
    const filled = await until('the slot filled again', async () => {
      const pids = (await state(n.adminUrl)).workers.map((w) => w.pid);
      return pids.length === 2 && !pids.includes(victim) ? pids : null;
    }, { timeoutMs: 30_000 });
    filled.forEach(track);
    expect(filled).toContain(survivor);
    const replacement = filled.find((p) => p !== survivor)!;
    await n.waitForLog((l) => l.pid === replacement && String(l.msg).startsWith('proxy listening'), 30_000);
    expect(new Set(await freshGets(n.proxyUrl, 20))).toEqual(new Set([200]));
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });
});

describe('--workers 2: a worker lost during a hot restart', () => {
  it('a worker SIGKILLed while handing over is replaced; once the silent successor is given up (--restart-timeout 2) the node serves with 2 live workers, both answering; SIGTERM exits 0', async () => {
    const origin = cleanups.closing(await startOrigin());
    const cli = copyOfBuild(cleanups);
    const n = await startWorkers(['--upstream', origin.url, '--restart-timeout', '2'], 2, cli);
    const track = trackPids(cleanups);
    const before = await state(n.adminUrl);

    // The successor starts and then hangs: alive, never READY, never exits.
    writeFileSync(cli, 'setInterval(() => undefined, 60_000);\n');
    process.kill(before.pid, 'SIGHUP');
    const spawned = await n.waitForLog((l) => l.msg === 'hot restart: successor spawned', 10_000);
    track(Number(spawned.successorPid));
    const victim = before.workers[0]!.pid;
    process.kill(victim, 'SIGKILL');
    const exitLine = await n.waitForLog((l) => String(l.msg).startsWith('worker exited'), 5_000);
    const failed = await n.waitForLog((l) => l.restart === 'failed', 10_000);
    expect(failed.reason).toBe('no READY from the successor in 2000 ms');
    // The worker died during the hand-over.
    expect(Number(exitLine.time)).toBeLessThan(Number(failed.time));

    const after = await until(
      'serving with two live workers',
      async () => {
        const s = await state(n.adminUrl);
        return s.lifecycle === 'serving' && s.workers.length === 2 && !s.workers.some((w) => w.pid === victim) ? s : null;
      },
      { timeoutMs: 5_000 },
    );
    for (const w of after.workers) {
      track(w.pid);
      expect(runningProcess(w.pid)).toBe(true);
      expect(parentOf(w.pid)).toBe(before.pid);
    }
    expect(after.pid).toBe(before.pid);
    expect(after.workersRestarting).toEqual([]);
    // Replaced at once, during the hand-over, not after it.
    expect(exitLine).toMatchObject({ msg: 'worker exited: its requests in flight are lost; replacing it', worker: { pid: victim, signal: 'SIGKILL' }, replaced: true, replaceInMs: 0 });
    const both = await untilBothServed(n, 40);
    expect(new Set(both.statuses)).toEqual(new Set([200]));
    expect(exitLines(n)).toHaveLength(1);

    await stopsWithOneRecord(n);
  }, 20_000);

  it('a successor that takes over while one slot\'s replacement waits out its back-off: that one is never started, the one started during the hand-over drains with the others; exit 0', async () => {
    const origin = cleanups.closing(await startOrigin());
    const cli = copyOfBuild(cleanups);
    const n = await startWorkers(['--upstream', origin.url, '--drain-timeout', '10'], 2, cli);
    const track = trackPids(cleanups);
    const before = await state(n.adminUrl);
    const [once, repeatedly] = before.workers.map((w) => w.pid) as [number, number];

    // The successor waits for a gate file before it loads, so the hand-over lasts as long as the test needs.
    const gate = path.join(path.dirname(cli), 'gate');
    renameSync(cli, path.join(path.dirname(cli), 'gated-cli.js'));
    writeFileSync(
      cli,
      "import { existsSync } from 'node:fs';\n" +
        `while (!existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 20));\n` +
        "await import('./gated-cli.js');\n",
    );
    process.kill(before.pid, 'SIGHUP');
    const spawned = await n.waitForLog((l) => l.msg === 'hot restart: successor spawned', 10_000);
    const successorPid = Number(spawned.successorPid);
    track(successorPid);

    // While handing over: one slot's worker replaced at once and serving, the other's killed
    // eight times in a row, so its next replacement waits 6.4 s.
    process.kill(once, 'SIGKILL');
    const startedDuringHandOver = await until('the first slot\'s replacement', async () => (await state(n.adminUrl)).workers.find((w) => w.pid !== once && w.pid !== repeatedly)?.pid ?? null, { everyMs: 10 });
    track(startedDuringHandOver);
    await n.waitForLog((l) => l.pid === startedDuringHandOver && String(l.msg).startsWith('proxy listening'), 10_000);
    const kills = await killSlotRepeatedly(n, repeatedly, 8, track);
    const lastExit = await n.waitForLog((l) => String(l.msg).startsWith('worker exited') && (l.worker as { pid: number }).pid === kills.killed[7]);
    expect(lastExit).toMatchObject({ replaced: true, replaceInMs: 6_400, exitsInARow: 8 });
    expect((await state(n.adminUrl)).workersRestarting).toEqual([expect.objectContaining({ exitedPid: kills.killed[7] })]);

    // Let the successor start; watch the old node's children until it has handed over and exited.
    const known = new Set([...kills.known, startedDuringHandOver]);
    writeFileSync(gate, '');
    const seen = new Set<number>();
    let done = false;
    void n.exited.then(() => (done = true));
    const openedAt = Date.now();
    while (!done && Date.now() - openedAt < 15_000) {
      for (const pid of childrenOf(before.pid)) if (pid !== successorPid) seen.add(pid);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect([...seen].filter((pid) => !known.has(pid)), 'a worker started after the hand-over').toEqual([]);
    expect(n.logs.find((l) => l.msg === 'worker replacement cancelled: the drain began')).toMatchObject({ exitedPid: kills.killed[7], phase: 'handedOver' });
    expect(n.logs.find((l) => l.msg === 'all workers drained')).toBeDefined();
    await until('the replacement started during the hand-over gone', async () => !runningProcess(startedDuringHandOver), { timeoutMs: 5_000 });

    const after = await until('the successor serving with two workers', async () => {
      const v = await state(n.adminUrl);
      return v.pid === successorPid && v.lifecycle === 'serving' && v.workers.length === 2 ? v : null;
    });
    for (const w of after.workers) track(w.pid);
    expect(new Set(await freshGets(n.proxyUrl, 20))).toEqual(new Set([200]));
    process.kill(successorPid, 'SIGTERM');
    await until('the successor gone', async () => !isAlive(successorPid), { timeoutMs: 15_000 });
  }, 45_000);
});

describe('--workers: bad values', () => {
  it.each(['0', 'many', '1.5', '-2', '257'])('--workers %s: exit 2 with one line naming the option', async (value) => {
    const r = await runCli(['run', '--workers', value, '--no-mdns', '--data-dir', cleanups.tempDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`graceful-edge: invalid --workers: must be "auto" or a whole number from 1 to 256 (got "${value}")`);
  });

  it('GRACEFUL_EDGE_WORKERS and the config file key say the same', async () => {
    const env = await runCli(['run', '--no-mdns', '--data-dir', cleanups.tempDir()], { env: { GRACEFUL_EDGE_WORKERS: 'x' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('invalid --workers');
    const dir = cleanups.tempDir();
    writeFileSync(`${dir}/c.json`, JSON.stringify({ workers: 0 }));
    const file = await runCli(['run', '--config', `${dir}/c.json`, '--no-mdns', '--data-dir', dir]);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain('invalid --workers');
  });
});
