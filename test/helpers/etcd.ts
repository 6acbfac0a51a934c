/**
 * A real, throw-away etcd server for tests: `/usr/bin/etcd` on free loopback
 * ports with a temp data dir, killed and removed afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { freeTcpPort } from './ports.js';
import { tempDir } from './daemon.js';

export const ETCD_BIN = process.env.GE_ETCD_BIN ?? '/usr/bin/etcd';

/** Null when etcd can run here; otherwise why not (printed by the skipping test). */
export function etcdUnavailableReason(): string | null {
  if (!existsSync(ETCD_BIN)) return `${ETCD_BIN} not found (install Debian's etcd-server)`;
  const r = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return `${ETCD_BIN} --version failed: ${r.stderr || r.error?.message}`;
  return null;
}

export interface EtcdServer {
  /** Client URL, e.g. http://127.0.0.1:23790 */
  url: string;
  dataDir: string;
  /** The current server process (a new one after restart()). */
  readonly proc: ChildProcess;
  /** A client for the test's own queries (closed by stop()). */
  client: Etcd3;
  output: () => string;
  /** SIGKILL the server (keeps the data dir). */
  kill(): Promise<void>;
  /** Start it again on the same ports and data dir (after kill()). */
  restart(): Promise<void>;
  /** Kill if running, close the client, remove the data dir. */
  stop(): Promise<void>;
}

interface Running {
  proc: ChildProcess;
  exited: Promise<void>;
}

/** `clientPort` lets a test name the port before etcd runs (a node told to use it while it is closed). */
export async function startEtcd(opts: { clientPort?: number } = {}): Promise<EtcdServer> {
  const clientPort = opts.clientPort ?? (await freeTcpPort());
  const peerPort = await freeTcpPort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const dataDir = tempDir('ge-etcd-');
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  const isRunning = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

  const launch = async (): Promise<Running> => {
    const proc = spawn(
      ETCD_BIN,
      [
        '--name', 'default',
        '--data-dir', dataDir,
        '--listen-client-urls', url,
        '--advertise-client-urls', url,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', `default=${peerUrl}`,
        '--log-level', 'warn',
        '--logger', 'zap',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!isRunning(proc)) throw new Error(`etcd exited at start:\n${output}`);
      try {
        const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        if (r.ok && ((await r.json()) as { health?: string }).health === 'true') break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`etcd did not become healthy in 15 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { proc, exited };
  };

  let current: Running;
  try {
    current = await launch();
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const client = new Etcd3({ hosts: url });
  const kill = async () => {
    if (isRunning(current.proc)) {
      current.proc.kill('SIGKILL');
      await current.exited;
    }
  };
  return {
    url,
    dataDir,
    get proc() {
      return current.proc;
    },
    client,
    output: () => output,
    kill,
    restart: async () => {
      await kill();
      current = await launch();
    },
    stop: async () => {
      client.close();
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
