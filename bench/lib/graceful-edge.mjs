// Spawns the built daemon (dist/cli.js, or $GE_DIST/cli.js) and watches it
// from outside: its JSON log lines, its admin endpoints, /proc/PID/status.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, get, onCleanup, start, waitFor } from './procs.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, process.env.GE_DIST ?? 'dist', 'cli.js');

export function tempDataDir(tag = 'node') {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ge-bench-${tag}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts one node on free loopback ports. `args` are extra `run` flags.
 * Resolves once spawned; call `ready()` to wait for /readyz 200.
 */
export async function startNode({ args = [], nodeArgs = [], cpus = null, dataDir = tempDataDir(), env = {}, ports = {}, name = 'graceful-edge' } = {}) {
  const proxyPort = ports.proxy ?? (await freePort());
  const adminPort = ports.admin ?? (await freePort());
  const logs = [];
  const waiters = new Set();
  const spawnedAt = performance.now();
  const spawnedWall = Date.now();
  const child = start(
    process.execPath,
    [...nodeArgs, CLI, 'run', '--listen', `127.0.0.1:${proxyPort}`, '--admin', `127.0.0.1:${adminPort}`, '--data-dir', dataDir, ...args],
    {
      cpus,
      env,
      name,
      onLine: (line) => {
        let l;
        try {
          l = JSON.parse(line);
        } catch {
          l = { msg: line, raw: true };
        }
        l.seenAt = performance.now();
        logs.push(l);
        for (const w of waiters) if (w.pred(l)) (waiters.delete(w), w.resolve(l));
      },
    },
  );
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  return {
    child,
    pid: child.proc.pid,
    dataDir,
    proxyPort,
    adminPort,
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    adminUrl,
    logs,
    spawnedAt,
    spawnedWall,
    waitForLog(pred, timeoutMs = 15_000) {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => {
        const w = { pred, resolve };
        waiters.add(w);
        setTimeout(() => waiters.delete(w) && resolve(null), timeoutMs);
      });
    },
    /** ms from spawn until /readyz answered 200, or null. */
    async ready(timeoutMs = 30_000) {
      const waited = await waitFor(`${adminUrl}/readyz`, { timeoutMs, everyMs: 5 });
      if (waited === null) throw new Error(`graceful-edge did not become ready in ${timeoutMs} ms; stderr:\n${child.stderr()}\nlast logs:\n${logs.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`);
      return performance.now() - spawnedAt;
    },
    async state(timeoutMs = 1000) {
      const r = await get(`${adminUrl}/state`, { timeoutMs });
      return r.status === 200 ? JSON.parse(r.body) : null;
    },
    async metrics() {
      const r = await get(`${adminUrl}/metrics`, { timeoutMs: 2000 });
      return r.status === 200 ? r.body : '';
    },
    rss: () => rssOf(child.proc.pid),
  };
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
export function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** { rssKiB, hwmKiB } from /proc/PID/status (null once the process is gone). */
export function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch {
    return null;
  }
}

/** Is the daemon still a placeholder that answers every proxied request 503? */
export async function proxyWorks(node, path = '/100b') {
  const r = await get(node.proxyUrl + path, { timeoutMs: 2000 });
  return { ok: r.status === 200, status: r.status, body: (r.body ?? r.error ?? '').slice(0, 120) };
}
