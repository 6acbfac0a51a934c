/**
 * Helpers for hot-restart tests: the node's pid changes at every restart, so
 * a test follows it through the admin API (fresh connections: a kept-alive
 * one may still reach the process being replaced) and kills every pid it saw.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Cleanups } from '../helpers/cleanups.js';
import { CLI } from '../helpers/daemon.js';
import { until } from '../helpers/wait.js';

export interface StateView {
  pid: number;
  runId: number | null;
  restarts: number;
  lifecycle: string;
  workers: Array<{ pid: number; inFlight: number }>;
  peers: Array<{ address: string; status: string }>;
}

/** GET on a connection of its own; resolves with status and body, or the error code. */
export function getOnce(url: string, agent: http.Agent | false = false): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.complete ? { status: res.statusCode ?? 0, body } : { error: 'incomplete' }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.setTimeout(15_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
  });
}

export async function stateOf(adminUrl: string): Promise<StateView> {
  const r = await getOnce(`${adminUrl}/state`);
  if ('error' in r) throw new Error(`GET /state: ${r.error}`);
  return JSON.parse(r.body) as StateView;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills every pid the test saw (successors are not the test's children). */
export function trackPids(cleanups: Cleanups): (pid: number) => void {
  const pids = new Set<number>();
  cleanups.defer(async () => {
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await until('killed successors gone', async () => [...pids].every((p) => !isAlive(p)), { timeoutMs: 10_000 });
  });
  return (pid) => void pids.add(pid);
}

/** SIGHUP to `pid`; resolves with the successor's state once it answers /state. */
export async function hotRestart(adminUrl: string, pid: number, timeoutMs = 150_000): Promise<StateView> {
  process.kill(pid, 'SIGHUP');
  return until(
    `a successor of pid ${pid} answering /state`,
    async () => {
      const s = await stateOf(adminUrl).catch(() => null);
      return s && s.pid !== pid && s.lifecycle === 'serving' ? s : null;
    },
    { timeoutMs, everyMs: 50 },
  );
}

export interface LoadResult {
  ok: number;
  refused: number;
  reset: number;
  failed: number;
  failures: string[];
}

/**
 * Bounded load: `keepAlive` workers on a shared keep-alive agent and `fresh`
 * workers opening a new connection per request; stops at `stop()`, after
 * `maxMs` or `maxRequests`.
 */
export function startLoad(baseUrl: string, opts: { keepAlive: number; fresh: number; maxMs: number; maxRequests: number }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.keepAlive });
  const result: LoadResult = { ok: 0, refused: 0, reset: 0, failed: 0, failures: [] };
  let stopped = false;
  const deadline = Date.now() + opts.maxMs;
  let n = 0;
  const worker = async (kind: 'ka' | 'new') => {
    while (!stopped && Date.now() < deadline && n < opts.maxRequests) {
      const i = n++;
      const r = await getOnce(`${baseUrl}/${kind}/${i}`, kind === 'ka' ? agent : false);
      if ('error' in r) {
        if (r.error === 'ECONNREFUSED') result.refused++;
        else if (r.error === 'ECONNRESET' || r.error === 'EPIPE' || r.error === 'incomplete') result.reset++;
        else result.failed++;
        if (result.failures.length < 20) result.failures.push(`${kind} #${i}: ${r.error}`);
      } else if (r.status !== 200) {
        result.failed++;
        if (result.failures.length < 20) result.failures.push(`${kind} #${i}: ${r.status} ${r.body.slice(0, 120)}`);
      } else result.ok++;
    }
  };
  const workers = [
    ...Array.from({ length: opts.keepAlive }, () => worker('ka')),
    ...Array.from({ length: opts.fresh }, () => worker('new')),
  ];
  return {
    ok: () => result.ok,
    stop: async (): Promise<LoadResult> => {
      stopped = true;
      await Promise.all(workers);
      agent.destroy();
      return result;
    },
  };
}

/**
 * A copy of the build beside it (so node_modules resolve), removed after the
 * test; returns its cli.js. A test changes that file under a running node to
 * make its hot-restart successor fail or hang: the successor runs cli.js as
 * it is at SIGHUP, while the node's workers run the copy's worker.js.
 */
export function copyOfBuild(cleanups: Cleanups): string {
  const build = mkdtempSync(path.join(path.dirname(path.dirname(CLI)), '.dist-hot-restart-'));
  cleanups.defer(() => rmSync(build, { recursive: true, force: true }));
  cpSync(path.dirname(CLI), build, { recursive: true });
  return path.join(build, 'cli.js');
}
