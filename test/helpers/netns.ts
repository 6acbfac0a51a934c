/**
 * Throw-away network namespaces for tests that need multicast (mDNS).
 *
 * Network safety: a namespace made here has only `lo` (no veth, no default
 * route), so whatever runs inside it with `exec`/`wrap` can reach nothing but
 * itself. Every namespace is deleted by `remove()`, which tests call in
 * afterAll/finally; `removeAllCreated()` is the last-resort sweep.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Netns {
  name: string;
  /** Prefix for spawning a process inside the namespace. */
  wrap: string[];
  /** Runs a command inside the namespace to completion. */
  run(cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>;
  /** Spawns a long-running command inside the namespace (stdout/stderr piped). */
  spawn(cmd: string, args: string[]): ChildProcess;
  remove(): Promise<void>;
}

const created = new Set<string>();

/** Why namespaces cannot be used here, or null when they can. */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root';
  try {
    await execFileP('ip', ['netns', 'list']);
  } catch (error) {
    return `\`ip netns\` does not work: ${(error as Error).message}`;
  }
  return null;
}

async function ip(args: string[]): Promise<void> {
  try {
    await execFileP('ip', args);
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/**
 * A fresh namespace with only `lo` up, multicast enabled on it and a route
 * for 224.0.0.0/4 via `lo` (so multicast sockets that do not pin an
 * interface work too). No other interface, no default route.
 */
export async function createNetns(prefix = 'ge-mdns'): Promise<Netns> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await ip(['netns', 'add', name]);
  created.add(name);
  try {
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    await ip(['-n', name, 'link', 'set', 'lo', 'multicast', 'on']);
    await ip(['-n', name, 'route', 'add', '224.0.0.0/4', 'dev', 'lo']);
  } catch (error) {
    await removeNetns(name);
    throw error;
  }
  return netnsHandle(name);
}

function netnsHandle(name: string): Netns {
  const wrap = ['ip', 'netns', 'exec', name];
  return {
    name,
    wrap,
    run: (cmd, args, opts = {}) =>
      new Promise<RunResult>((resolve) => {
        const child = spawn(wrap[0]!, [...wrap.slice(1), cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        // A command that exits without reading its input makes the write fail
        // with EPIPE; its exit code already tells the caller what happened.
        child.stdin.on('error', () => undefined);
        child.stdin.end(opts.input ?? '');
      }),
    spawn: (cmd, args) => spawn(wrap[0]!, [...wrap.slice(1), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    remove: () => removeNetns(name),
  };
}

async function removeNetns(name: string): Promise<void> {
  // Processes still inside would keep nothing alive: deleting the name is
  // enough for the kernel to drop the namespace once they exit.
  try {
    await execFileP('ip', ['netns', 'del', name]);
  } catch {
    // already gone
  }
  created.delete(name);
}

/** Deletes every namespace this process created and has not removed yet. */
export async function removeAllCreated(): Promise<void> {
  await Promise.all([...created].map(removeNetns));
}

/**
 * Gives the namespace a veth pair (both ends inside it) with an address but
 * no route for 224.0.0.0/4: a socket that does not pin its multicast
 * interface then fails to send with ENETUNREACH. Nothing can leave: both
 * ends stay in this namespace.
 */
export async function addVethWithoutMulticastRoute(ns: Netns, cidr = '10.254.0.1/24'): Promise<void> {
  await ip(['-n', ns.name, 'route', 'del', '224.0.0.0/4', 'dev', 'lo']);
  await ip(['-n', ns.name, 'link', 'add', 'ge-veth0', 'type', 'veth', 'peer', 'name', 'ge-veth1']);
  await ip(['-n', ns.name, 'addr', 'add', cidr, 'dev', 'ge-veth0']);
  await ip(['-n', ns.name, 'link', 'set', 'ge-veth0', 'up']);
  await ip(['-n', ns.name, 'link', 'set', 'ge-veth1', 'up']);
}
