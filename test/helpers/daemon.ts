/**
 * Spawns the real daemon (`node dist/cli.js run`) as a child process and
 * reads its JSON log lines, so tests observe it only from outside.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

/** GE_DIST=dist-x builds and tests a side-by-side bundle (see scripts/build.mjs). */
export const CLI = path.resolve(import.meta.dirname, '../..', process.env.GE_DIST ?? 'dist', 'cli.js');

export type LogLine = Record<string, unknown> & { msg?: string; level?: number; lifecycle?: string };

export interface NodeProcess {
  proc: ChildProcess;
  dataDir: string;
  /** Bound addresses, read from the daemon's own log. */
  proxy: string;
  admin: string;
  proxyUrl: string;
  adminUrl: string;
  logs: LogLine[];
  stderr: () => string;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export function tempDir(prefix = 'ge-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Data dirs startNode made itself (no `dataDir` given); stopAll removes them. */
const madeDataDirs = new WeakMap<NodeProcess, string>();

export interface StartOptions {
  args?: string[];
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Wait until the node is serving (default) or just spawned. */
  waitFor?: 'serving' | 'spawned';
  /** Prefix command, e.g. ['ip', 'netns', 'exec', 'ns1']. */
  wrap?: string[];
  /** Another build's cli.js (e.g. a copy a test later breaks); default CLI. */
  cli?: string;
  /** How long to wait for the node to serve (default 15 s). */
  startTimeoutMs?: number;
  /** Options for node itself, before cli.js (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

/** Runs a CLI subcommand to completion (state, replay, run with bad flags). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`graceful-edge ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function startNode(opts: StartOptions = {}): Promise<NodeProcess> {
  const dataDir = opts.dataDir ?? tempDir();
  const args = ['run', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--mesh-port', '0', '--data-dir', dataDir, '--no-mdns', ...(opts.args ?? [])];
  const cli = opts.cli ?? CLI;
  const nodeCommand = [process.execPath, ...(opts.nodeArgs ?? []), cli, ...args];
  const command = opts.wrap ? [...opts.wrap, ...nodeCommand] : nodeCommand;
  const proc = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters = new Set<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      parsed = { msg: line, raw: true };
    }
    logs.push(parsed);
    if (process.env.GE_TEST_ECHO) process.stderr.write(`${line}\n`);
    for (const w of waiters) if (w.pred(parsed)) (waiters.delete(w), w.resolve(parsed));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 15_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = logs.find(pred);
      if (found) return resolve(found);
      const w = { pred, resolve: (l: LogLine) => (clearTimeout(timer), resolve(l)) };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`log line not seen in ${timeoutMs} ms; stderr:\n${stderr}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      waiters.add(w);
      void exited.then(() => {
        setTimeout(() => {
          if (waiters.has(w)) {
            waiters.delete(w);
            clearTimeout(timer);
            reject(new Error(`daemon exited before the log line; stderr:\n${stderr}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`));
          }
        }, 50);
      });
    });

  const node: NodeProcess = {
    proc,
    dataDir,
    proxy: '',
    admin: '',
    proxyUrl: '',
    adminUrl: '',
    logs,
    stderr: () => stderr,
    waitForLog,
    exited,
    kill: (signal = 'SIGTERM') => void proc.kill(signal),
  };
  if (!opts.dataDir) madeDataDirs.set(node, dataDir);
  if (opts.waitFor === 'spawned') return node;
  const startMs = opts.startTimeoutMs;
  // A node that never got to serving is not in the test's list (this throws
  // before returning it), so nothing else would stop it: it would outlive the
  // test, blocked on a stdout nobody reads.
  const [p, a] = await Promise.all([
    waitForLog((l) => typeof l.proxy === 'string' && String(l.msg).startsWith('proxy listening'), startMs),
    waitForLog((l) => typeof l.admin === 'string' && String(l.msg).startsWith('admin listening'), startMs),
    waitForLog((l) => l.lifecycle === 'serving', startMs),
  ]).catch((error: unknown) => {
    proc.kill('SIGKILL');
    throw error;
  });
  node.proxy = String(p.proxy);
  node.admin = String(a.admin);
  node.proxyUrl = `http://${node.proxy}`;
  node.adminUrl = `http://${node.admin}`;
  return node;
}

/**
 * Kills whatever is still running, then removes the data dirs startNode made
 * (a later node of the same test may have shared one); use in afterEach.
 */
export async function stopAll(nodes: NodeProcess[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      if (n.proc.exitCode === null && n.proc.signalCode === null) {
        n.proc.kill('SIGKILL');
        await n.exited;
      }
    }),
  );
  for (const n of nodes) {
    const dir = madeDataDirs.get(n);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  nodes.length = 0;
}
