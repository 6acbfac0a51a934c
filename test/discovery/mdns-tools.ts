/**
 * Tools for the mDNS end-to-end tests. Everything that sends or listens runs
 * inside the test's own network namespace (see test/helpers/netns.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';
import type { Netns } from '../helpers/netns.js';

const HERE = import.meta.dirname;
export const PYTHON = '/usr/bin/python3';

export interface JsonLines<T> {
  child: ChildProcess;
  lines: T[];
  waitFor(pred: (l: T) => boolean, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
  stderr(): string;
}

function collect<T>(child: ChildProcess, what: string): JsonLines<T> {
  const lines: T[] = [];
  const waiters = new Set<{ pred: (l: T) => boolean; resolve: (l: T) => void }>();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  readline.createInterface({ input: child.stdout! }).on('line', (text) => {
    let parsed: T;
    try {
      parsed = JSON.parse(text) as T;
    } catch {
      return;
    }
    lines.push(parsed);
    for (const w of waiters) if (w.pred(parsed)) (waiters.delete(w), w.resolve(parsed));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    lines,
    stderr: () => stderr,
    waitFor: (pred, timeoutMs = 10_000) =>
      new Promise<T>((resolve, reject) => {
        const found = lines.find(pred);
        if (found) return resolve(found);
        const w = { pred, resolve: (l: T) => (clearTimeout(timer), resolve(l)) };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${what}: expected line not seen in ${timeoutMs} ms; saw:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${stderr}`));
        }, timeoutMs);
        waiters.add(w);
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

export interface ZeroconfEvent {
  event: 'ready' | 'added' | 'updated' | 'removed';
  name?: string;
  txt?: Record<string, string | null>;
  port?: number;
  t: number;
}

/** Debian's python3-zeroconf browsing `_graceful-edge._tcp` inside the namespace. */
export async function startZeroconfBrowser(ns: Netns): Promise<JsonLines<ZeroconfEvent>> {
  const browser = collect<ZeroconfEvent>(ns.spawn(PYTHON, ['-u', path.join(HERE, 'zeroconf-browse.py')]), 'zeroconf browser');
  await browser.waitFor((e) => e.event === 'ready');
  return browser;
}

export interface CapturedRecord {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}
export interface CapturedPacket {
  t: number;
  from: string;
  type?: 'query' | 'response';
  answers: CapturedRecord[];
  additionals: CapturedRecord[];
  undecodable?: boolean;
  ready?: boolean;
}

/** A raw dgram listener on 5353 (joined to 224.0.0.251) that decodes every packet. */
export async function startCapture(ns: Netns): Promise<JsonLines<CapturedPacket>> {
  const capture = collect<CapturedPacket>(ns.spawn(process.execPath, [path.join(HERE, 'mdns-capture.mjs')]), 'mDNS capture');
  await capture.waitFor((p) => p.ready === true);
  return capture;
}

/** Sends hand-made mDNS packets from inside the namespace (see mdns-send.mjs). */
export async function sendMdns(ns: Netns, args: string[], timeoutMs?: number): Promise<void> {
  const r = await ns.run(process.execPath, [path.join(HERE, 'mdns-send.mjs'), ...args], { timeoutMs });
  if (r.code !== 0) throw new Error(`mdns-send ${args.join(' ')} failed: ${r.stderr}`);
}

export interface PeerView {
  address: string;
  id: string | null;
  source: string;
  status: string;
  meshPort: number;
}
export interface StateView {
  nodeId: string;
  lifecycle: string;
  peers: PeerView[];
  discovery?: { mdns: Record<string, unknown> | null };
}

/** `GET /state` from inside the namespace (the test process lives in another one). */
export async function readState(ns: Netns, admin: string): Promise<StateView> {
  const r = await ns.run('curl', ['-sS', '--max-time', '3', `http://${admin}/state`]);
  if (r.code !== 0) throw new Error(`curl /state in ${ns.name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as StateView;
}

/** Polls /state until `pred` holds; returns the state and when it first held. */
export async function waitForState(ns: Netns, admin: string, pred: (s: StateView) => boolean, timeoutMs = 10_000): Promise<{ state: StateView; at: number }> {
  const until = Date.now() + timeoutMs;
  let last: StateView | null = null;
  while (Date.now() < until) {
    last = await readState(ns, admin);
    if (pred(last)) return { state: last, at: Date.now() };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`state condition not met in ${timeoutMs} ms; last /state:\n${JSON.stringify(last, null, 2)}`);
}

/** Why the mDNS tests cannot run here (they then fail with this reason), or null. */
export async function mdnsTestsUnavailable(): Promise<string | null> {
  const why = await netnsUnavailable();
  if (why) return why;
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  return null;
}

/**
 * A namespace in which multicast is proven to work. When it does not, this
 * throws — the tests fail loudly rather than pass without having tested.
 */
export async function mdnsNetns(): Promise<Netns> {
  const ns = await createNetns('ge-mdns');
  const check = await ns.run(process.execPath, [path.join(HERE, 'multicast-check.mjs')]);
  if (check.code !== 0) {
    await ns.remove();
    throw new Error(`multicast cannot be made to work in a fresh network namespace (${ns.name}), so mDNS cannot be tested: ${check.stdout}${check.stderr}`);
  }
  const zc = await ns.run(PYTHON, ['-c', 'import zeroconf; print(zeroconf.__version__)']);
  if (zc.code !== 0) {
    await ns.remove();
    throw new Error(`python3-zeroconf is not importable by ${PYTHON}: ${zc.stderr}`);
  }
  return ns;
}

/**
 * A service registered by python3-zeroconf (another responder owning a name).
 * `cooperating`: register without probing, i.e. claim a name someone else may
 * already announce (see zeroconf-register.py).
 */
export async function startZeroconfService(ns: Netns, instance: string, port: number, opts: { cooperating?: boolean } = {}): Promise<JsonLines<ZeroconfEvent>> {
  const args = [path.join(HERE, 'zeroconf-register.py'), instance, String(port), ...(opts.cooperating ? ['cooperating'] : [])];
  const owner = collect<ZeroconfEvent>(ns.spawn(PYTHON, ['-u', ...args]), 'zeroconf register');
  await owner.waitFor((e) => (e.event as string) === 'registered', 15_000);
  return owner;
}

/** One sample of `GET /metrics`, read from inside the namespace (0 when absent). */
export async function readMetric(ns: Netns, admin: string, sample: string): Promise<number> {
  const r = await ns.run('curl', ['-sS', '--max-time', '3', `http://${admin}/metrics`]);
  if (r.code !== 0) throw new Error(`curl /metrics in ${ns.name} failed: ${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}
