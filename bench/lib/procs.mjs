// Every process the bench starts goes through here, so that one cleanup at
// the end (or on Ctrl-C / a crash) stops exactly those processes, by pid.
import { spawn } from 'node:child_process';
import net from 'node:net';
import readline from 'node:readline';

const children = new Set();
const cleanups = [];

/** Spawns a child, optionally pinned to CPUs with taskset; records it for cleanup. */
export function start(cmd, args, { cpus = null, env = {}, onLine = null, name = cmd } = {}) {
  const argv = cpus !== null && hasTaskset ? ['taskset', '-c', String(cpus), cmd, ...args] : [cmd, ...args];
  const proc = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d.toString();
    if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
  });
  const lines = readline.createInterface({ input: proc.stdout });
  if (onLine) lines.on('line', onLine);
  else proc.stdout.resume();
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })));
  const child = { proc, name, exited, stderr: () => stderr, alive: () => proc.exitCode === null && proc.signalCode === null };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

export let hasTaskset = true;
export function setTaskset(available) {
  hasTaskset = available;
}

/** Registers an extra cleanup step (nginx quit, namespace delete), run in reverse order. */
export function onCleanup(fn) {
  cleanups.push(fn);
}

/** SIGTERM, then SIGKILL after a grace, for one child. */
export async function stop(child, graceMs = 5000) {
  if (!child.alive()) return child.exited;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.alive() && child.proc.kill('SIGKILL'), graceMs);
  const result = await child.exited;
  clearTimeout(timer);
  return result;
}

export async function stopEverything() {
  await Promise.all([...children].map((c) => stop(c, 3000)));
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (error) {
      process.stderr.write(`bench cleanup: ${error.message}\n`);
    }
  }
}

let hooked = false;
/** Ctrl-C, SIGTERM or an uncaught error still stop what the bench started. */
export function installExitHooks() {
  if (hooked) return;
  hooked = true;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping everything it started...\n`);
      void stopEverything().finally(() => process.exit(130));
    });
  }
}

/** A free loopback TCP port (bound then released; good enough on a quiet box). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** GET that never throws: { status, headers, body, error }. */
export async function get(url, { timeoutMs = 2000, headers } = {}) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers });
    const body = await res.text();
    return { status: res.status, headers: res.headers, body };
  } catch (error) {
    return { status: 0, error: error.cause?.code ?? error.name ?? String(error) };
  }
}

/** Polls until `url` answers `status` (bounded by timeoutMs); returns ms waited or null. */
export async function waitFor(url, { status = 200, timeoutMs = 15_000, everyMs = 20 } = {}) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const r = await get(url, { timeoutMs: 1000 });
    if (r.status === status) return performance.now() - t0;
    await sleep(everyMs);
  }
  return null;
}

/** A free loopback UDP port (bound then released). */
export async function freeUdpPort() {
  const dgram = await import('node:dgram');
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
