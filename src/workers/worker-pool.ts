/**
 * `--workers N`: the chart's `proxyServer` actor when the data plane runs in
 * N worker processes. This process binds the proxy listener once (a bind
 * error is reported once, as without workers), passes the listening handle
 * to every worker over the IPC channel (as a hot restart passes it to a
 * successor), and then does what the in-process proxy does for the chart:
 * relays the drain commands to every worker and reports one PROXY.LISTENING,
 * one PROXY.DRAINED (all workers drained) or one PROXY.CUT_DONE (sums over
 * all workers). A worker that exits unasked is reported to the chart
 * (WORKER.EXITED, with its slot and how long it lived), which decides whether
 * and how soon it is replaced (PROXY.REPLACE_WORKER with the slot's back-off
 * delay, machines/worker-backoff.ts); the pool only keeps the timer, and the
 * drain's first command cancels a replacement still waiting.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dns from 'node:dns/promises';
import net from 'node:net';
import util from 'node:util';
import { fromCallback } from 'xstate';
import type { LifecycleEvent, ProxyCommand, ProxyReplaceWorkerCommand } from '../../machines/events.js';
import { parseHostPort } from '../config/host-port.js';
import type { ProxyDeps } from '../proxy/proxy-server.js';
import { failureCounter } from '../proxy/tls/proxy-listener.js';
import type { NativeListenHandle } from '../restart/restart-state.js';
import type { MergedBreakers } from './merged-breakers.js';
import { isWorkerMessage, WORKER_ENV } from './protocol.js';
import type { FromWorker, ToWorker, WorkerConfig, WorkerStats } from './protocol.js';

/** How long the pool waits for every worker's CUT_DONE (the chart gives the proxy 250 ms). */
const CUT_REPORT_MS = 200;
/** A worker told to exit that has not after this long is killed. */
const EXIT_GRACE_MS = 2_000;
/** Workers that die before they ever listen, in a row: the node cannot serve (exit 2). */
const MAX_START_FAILURES = 3;
const PEER_SYNC_MS = 100;

/** What `/state` lists per worker. */
export interface WorkerInfo {
  pid: number;
  inFlight: number;
  requests: number;
}

/** A slot whose worker died and whose replacement waits out the back-off (`/state` `workersRestarting`). */
export interface PendingReplacement {
  slot: number;
  /** The worker that died. */
  exitedPid: number;
  replaceInMs: number;
}

interface Worker {
  slot: number;
  pid: number;
  /** Epoch ms of the fork: the chart's back-off asks how long a worker lived. */
  startedAt: number;
  child: ChildProcess;
  /**
   * Given the listening handle: from then on it may accept connections,
   * before its PROXY.LISTENING reaches us, so a drain drains it like the
   * others instead of telling it to exit (which would drop what it accepted).
   */
  handed: boolean;
  listening: boolean;
  stats: WorkerStats | null;
  drained: number | null;
  cutDone: { drained: number; cut: number } | null;
  exited: boolean;
  /** Told to exit by the pool: its exit is not news. */
  retiring: boolean;
  killTimer: NodeJS.Timeout | null;
}

type CreateServerHandle = (address: string, port: number, addressType: number) => NativeListenHandle | number;

/** Binds without listening: the workers listen, so this process never accepts a connection. */
async function bindProxyHandle(listen: string): Promise<NativeListenHandle> {
  const { host, port } = parseHostPort(listen);
  const address = net.isIP(host) ? host : (await dns.lookup(host)).address;
  // Node's own primitive for this (its cluster module binds in the primary the same way).
  const create = (net as unknown as { _createServerHandle: CreateServerHandle })._createServerHandle;
  const handle = create(address, port, net.isIPv6(address) ? 6 : 4);
  const failed = (errno: number) => Object.assign(new Error(util.getSystemErrorName(errno)), { code: util.getSystemErrorName(errno) });
  if (typeof handle === 'number') throw failed(handle);
  // libuv keeps EADDRINUSE for listen(); a socket passed on unbound would be
  // listened on at a random port on every interface by the worker. Asking
  // for its name gets the bind's error now.
  const errno = (handle as { getsockname(out: object): number }).getsockname({});
  if (errno !== 0) {
    closeHandle(handle);
    throw failed(errno);
  }
  return handle;
}

function closeHandle(handle: NativeListenHandle | null): void {
  (handle as { close?: () => void } | null)?.close?.();
}

/** `started` hands the pool to its owner (the proxy area), which answers /state's worker list from it. */
export function createWorkerPoolLogic(rt: ProxyDeps, breakers: MergedBreakers, workerScript: string, started: (pool: WorkerPool) => void) {
  return fromCallback<ProxyCommand>(({ sendBack, receive }) => {
    const pool = new WorkerPool(rt, breakers, workerScript, (e) => sendBack(e));
    started(pool);
    receive((cmd) => pool.command(cmd));
    pool.start();
    return () => pool.stop();
  });
}

export class WorkerPool {
  readonly #log;
  readonly #workers = new Map<number, Worker>();
  /** Every worker that ever ran, for the sums a drain reports. */
  readonly #all: Worker[] = [];
  #handle: NativeListenHandle | null = null;
  #listeningReported = false;
  #failed = false;
  #stopping = false;
  #awaiting: 'drain' | 'cut' | null = null;
  #reported = false;
  #startFailures = 0;
  #cutTimer: NodeJS.Timeout | null = null;
  #peerTimer: NodeJS.Timeout | null = null;
  #peerVersion = -1;
  #breakerSignature = '';
  /** Replacements waiting out their back-off, by slot. */
  readonly #pending = new Map<number, { timer: NodeJS.Timeout; dueAt: number; exitedPid: number }>();
  /** Set by the drain's first command: from then on no worker is started. */
  #leaving = false;

  constructor(
    private readonly rt: ProxyDeps,
    private readonly breakers: MergedBreakers,
    private readonly workerScript: string,
    private readonly send: (e: LifecycleEvent) => void,
  ) {
    this.#log = rt.logger.child({ component: 'workers' });
  }

  start(): void {
    // The node's /metrics shows the counter from the start, as without workers.
    if (this.rt.config.tls) failureCounter(this.rt);
    const inherited = this.rt.restart.inherited.proxy;
    const bound = inherited ? Promise.resolve(inherited) : bindProxyHandle(this.rt.config.listen);
    bound.then(
      (handle) => {
        if (this.#stopping) return closeHandle(handle);
        this.#handle = handle;
        // A hot restart passes this handle on; the successor's workers accept on it.
        this.rt.restart.registerHandle('proxy', () => this.#handle);
        for (let slot = 1; slot <= this.rt.config.workers; slot++) this.#spawn(slot);
        this.#peerTimer = setInterval(() => this.#syncPeers(), PEER_SYNC_MS);
        this.#peerTimer.unref();
      },
      (error: NodeJS.ErrnoException) => this.#fail(error.code ?? error.message),
    );
  }

  /** Live workers, for `/state`. */
  list(): WorkerInfo[] {
    return [...this.#workers.values()].map((w) => ({
      pid: w.pid,
      inFlight: w.stats ? w.stats.inFlightRequests + w.stats.inFlightWebSockets : 0,
      requests: w.stats?.requests ?? 0,
    }));
  }

  /** Slots waiting for their replacement, for `/state`. */
  pending(): PendingReplacement[] {
    const now = Date.now();
    return [...this.#pending].map(([slot, p]) => ({ slot, exitedPid: p.exitedPid, replaceInMs: Math.max(0, p.dueAt - now) }));
  }

  command(cmd: ProxyCommand): void {
    if (cmd.type === 'PROXY.REPLACE_WORKER') return this.#replace(cmd);
    // Whatever the phase, the drain has begun: no worker is started after it.
    this.#leaving = true;
    this.#cancelPending(cmd.phase);
    if (cmd.phase === 'delaying') return this.#broadcast(cmd);
    if (cmd.phase === 'waiting' || cmd.phase === 'handedOver') {
      // Ours too: the socket stops listening (new connections refused) once
      // no process holds it; after a hand-over the successor still does.
      closeHandle(this.#handle);
      this.#handle = null;
      this.#retireUnhanded();
      this.#awaiting ??= 'drain';
      this.#broadcast(cmd);
      return this.#checkDrained();
    }
    closeHandle(this.#handle);
    this.#handle = null;
    this.#retireUnhanded();
    this.#awaiting = 'cut';
    this.#reported = false;
    this.#broadcast(cmd);
    this.#cutTimer = setTimeout(() => this.#reportCut(), CUT_REPORT_MS);
    return this.#checkCut();
  }

  /** The chart decided the delay; the pool only keeps the timer (one per slot). */
  #replace(cmd: ProxyReplaceWorkerCommand): void {
    if (!this.#mayStartWorkers()) return;
    const waiting = this.#pending.get(cmd.slot);
    if (waiting) clearTimeout(waiting.timer);
    this.#pending.delete(cmd.slot);
    if (cmd.delayMs <= 0) return this.#spawn(cmd.slot);
    const timer = setTimeout(() => {
      this.#pending.delete(cmd.slot);
      if (this.#mayStartWorkers()) this.#spawn(cmd.slot);
    }, cmd.delayMs);
    this.#pending.set(cmd.slot, { timer, dueAt: Date.now() + cmd.delayMs, exitedPid: cmd.pid });
  }

  #mayStartWorkers(): boolean {
    return this.#handle !== null && !this.#awaiting && !this.#leaving && !this.#stopping && !this.#failed;
  }

  /** A replacement still waiting when the drain begins is never started (nor counted: it has nothing in flight). */
  #cancelPending(phase: string | null): void {
    for (const [slot, p] of this.#pending) {
      clearTimeout(p.timer);
      if (phase) this.#log.info({ slot, exitedPid: p.exitedPid, phase }, 'worker replacement cancelled: the drain began');
    }
    this.#pending.clear();
  }

  stop(): void {
    this.#stopping = true;
    this.#cancelPending(null);
    if (this.#peerTimer) clearInterval(this.#peerTimer);
    if (this.#cutTimer) clearTimeout(this.#cutTimer);
    closeHandle(this.#handle);
    this.#handle = null;
    for (const w of this.#workers.values()) this.#retire(w);
  }

  #spawn(slot: number): void {
    const child = fork(this.workerScript, [], {
      env: { ...process.env, [WORKER_ENV]: String(slot) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Structured clone: the TLS certificate and key are Buffers.
      serialization: 'advanced',
    });
    if (child.pid === undefined) {
      child.once('error', (error: NodeJS.ErrnoException) => this.#onForkFailed(slot, error.code ?? error.message));
      return;
    }
    const w: Worker = { slot, pid: child.pid, startedAt: Date.now(), child, handed: false, listening: false, stats: null, drained: null, cutDone: null, exited: false, retiring: false, killTimer: null };
    this.#workers.set(w.pid, w);
    this.#all.push(w);
    const { meshKey: _secret, ...config } = this.rt.config;
    this.#post(w, { type: 'w:init', config: config satisfies WorkerConfig, peers: this.rt.peers.list(), breakers: this.breakers.exportAll() });
    // The first worker listens first: a listen error (EADDRINUSE is only seen
    // then) comes back once, from it; the rest follow once it serves.
    if (this.#handle && (slot === 1 || this.#firstListening())) this.#giveHandle(w);
    child.on('message', (m: unknown) => {
      if (isWorkerMessage<FromWorker>(m)) this.#onMessage(w, m);
    });
    child.on('error', (error) => this.#log.warn({ err: error, pid: w.pid }, 'worker process error'));
    child.once('exit', (code, signal) => this.#onExit(w, code, signal));
  }

  #firstListening(): boolean {
    return [...this.#workers.values()].some((w) => w.listening);
  }

  #giveHandle(w: Worker): void {
    // Once the drain began no worker starts serving: it would miss its first commands.
    if (!this.#handle || w.exited || w.handed || this.#leaving) return;
    w.handed = true;
    this.#post(w, { type: 'w:listen' }, this.#handle);
  }

  #post(w: Worker, message: ToWorker, handle?: NativeListenHandle): void {
    if (w.exited || !w.child.connected) return;
    w.child.send(message, handle as net.Server | undefined, {}, (error) => {
      if (error && !w.exited) this.#log.warn({ pid: w.pid, message: message.type, err: error.message }, 'message to a worker not delivered');
    });
  }

  #broadcast(command: ProxyCommand): void {
    // A handed worker reads this after its w:listen (one ordered channel), so its proxy exists.
    for (const w of this.#workers.values()) if (w.handed && !w.retiring) this.#post(w, { type: 'w:command', command });
  }

  #onMessage(w: Worker, m: FromWorker): void {
    if (m.type === 'w:stats') {
      w.stats = m.stats;
      for (const [label, n] of Object.entries(m.stats.requestDeltas)) this.rt.metrics.requestCounts.inc(label, n);
      for (const [label, n] of Object.entries(m.stats.localErrorDeltas)) this.rt.metrics.localErrorCounts.inc(label, n);
      for (const [reason, n] of Object.entries(m.stats.tlsFailureDeltas)) failureCounter(this.rt).inc({ reason }, n);
      this.#mirrorTracker();
    } else if (m.type === 'w:breakers') {
      this.breakers.report(w.pid, m.breakers);
      this.#shareBreakers();
    } else {
      this.#onProxyEvent(w, m.event);
    }
  }

  #onProxyEvent(w: Worker, e: LifecycleEvent): void {
    switch (e.type) {
      case 'PROXY.LISTENING': {
        const first = !this.#firstListening();
        w.listening = true;
        this.#startFailures = 0;
        if (first) for (const other of this.#workers.values()) if (other !== w) this.#giveHandle(other);
        if (!this.#listeningReported) {
          if ([...this.#workers.values()].every((x) => x.listening)) {
            this.#listeningReported = true;
            this.#log.info({ proxy: e.address, workers: this.list().map((x) => x.pid) }, 'proxy served by worker processes');
            this.send({ type: 'PROXY.LISTENING', address: e.address });
          }
        } else {
          this.#log.info({ pid: w.pid, slot: w.slot }, 'worker serving');
        }
        return;
      }
      case 'PROXY.FAILED':
        // Only the first worker is handed the socket before anyone listens.
        if (!this.#listeningReported) this.#fail(e.error, null);
        else {
          // It serves nothing: it exits, and the chart replaces it as any lost worker.
          this.#log.error({ pid: w.pid, slot: w.slot, error: e.error }, 'worker cannot serve: it exits to be replaced');
          w.handed = false;
          this.#post(w, { type: 'w:exit' });
          this.#checkDrained();
          this.#checkCut();
        }
        return;
      case 'PROXY.DRAINED':
        w.drained = e.drained;
        return this.#checkDrained();
      case 'PROXY.CUT_DONE':
        w.cutDone = { drained: e.drained, cut: e.cut };
        return this.#checkCut();
      default:
        return;
    }
  }

  #onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    w.exited = true;
    if (w.killTimer) clearTimeout(w.killTimer);
    this.#workers.delete(w.pid);
    if (w.retiring || this.#stopping) return;
    // What it had in flight when it last reported is lost (already answered requests were counted).
    const lost = w.drained !== null || w.cutDone !== null || !w.stats ? 0 : w.stats.inFlightRequests + w.stats.inFlightWebSockets;
    if (lost > 0) this.rt.metrics.requestCounts.inc('worker_lost', lost);
    if (w.stats) w.stats = { ...w.stats, inFlightRequests: 0, inFlightWebSockets: 0 };
    if (this.#awaiting === 'cut' && !w.cutDone) w.cutDone = { drained: w.stats?.completedSinceShutdown ?? 0, cut: lost };
    this.#mirrorTracker();
    if (!this.#listeningReported && !this.#failed) {
      this.#startAgain(w.slot, { pid: w.pid, code, signal }, `code ${code}, signal ${signal}`);
      this.#checkDrained();
      this.#checkCut();
      return;
    }
    if (this.#failed) return;
    this.send({ type: 'WORKER.EXITED', pid: w.pid, slot: w.slot, uptimeMs: Date.now() - w.startedAt, code, signal, inFlight: lost });
    this.#checkDrained();
    this.#checkCut();
  }

  /** Not even forked (EAGAIN, EMFILE, ENOMEM): the chart backs the slot off like a crash loop. */
  #onForkFailed(slot: number, reason: string): void {
    if (this.#stopping || this.#failed) return;
    if (!this.#listeningReported) return this.#startAgain(slot, { startError: reason }, reason);
    this.send({ type: 'WORKER.EXITED', pid: 0, slot, uptimeMs: 0, code: null, signal: null, inFlight: 0, startError: reason });
  }

  /**
   * Before the node serves, the chart waits in `binding` for every worker to
   * listen, and replaces none: the pool starts the slot again itself, until
   * MAX_START_FAILURES in a row say the node cannot serve (exit 2).
   */
  #startAgain(slot: number, detail: Record<string, unknown>, last: string): void {
    if (++this.#startFailures >= MAX_START_FAILURES) {
      return this.#fail(`${MAX_START_FAILURES} worker processes in a row failed before serving (last: ${last})`, 'proxy cannot start: its workers fail before serving');
    }
    const again = this.#mayStartWorkers();
    this.#log.warn({ slot, ...detail, failuresInARow: this.#startFailures, startingAnother: again }, 'worker failed before the node served');
    if (again) this.#spawn(slot);
  }

  /** `logLine` null: the worker said it already. */
  #fail(error: string, logLine: string | null = 'proxy listener cannot bind'): void {
    if (this.#failed) return;
    this.#failed = true;
    const message = error.startsWith('proxy listener') ? error : `proxy listener ${this.rt.config.listen}: ${error}`;
    if (logLine !== null) this.#log.error({ error, address: this.rt.config.listen }, logLine);
    for (const w of this.#workers.values()) this.#retire(w);
    this.send({ type: 'PROXY.FAILED', error: message });
  }

  #retire(w: Worker): void {
    if (w.exited || w.retiring) return;
    w.retiring = true;
    this.#post(w, { type: 'w:exit' });
    w.killTimer = setTimeout(() => w.child.kill('SIGKILL'), EXIT_GRACE_MS);
  }

  /** A worker never given the handle cannot have accepted anything: nothing to drain. */
  #retireUnhanded(): void {
    for (const w of this.#workers.values()) if (!w.handed) this.#retire(w);
  }

  /** The workers a drain or cut waits for. */
  #live(): Worker[] {
    return [...this.#workers.values()].filter((w) => w.handed && !w.retiring);
  }

  #checkDrained(): void {
    if (this.#awaiting !== 'drain' || this.#reported) return;
    if (!this.#live().every((w) => w.drained !== null)) return;
    this.#reported = true;
    const drained = this.#all.reduce((sum, w) => sum + (w.drained ?? w.stats?.completedSinceShutdown ?? 0), 0);
    this.#log.info({ drained, workers: this.#all.length }, 'all workers drained');
    this.send({ type: 'PROXY.DRAINED', drained });
  }

  #checkCut(): void {
    if (this.#awaiting !== 'cut' || this.#reported) return;
    if (this.#live().every((w) => w.cutDone !== null)) this.#reportCut();
  }

  #reportCut(): void {
    if (this.#reported) return;
    this.#reported = true;
    if (this.#cutTimer) clearTimeout(this.#cutTimer);
    let drained = 0;
    let cut = 0;
    for (const w of this.#all) {
      if (w.cutDone) (drained += w.cutDone.drained), (cut += w.cutDone.cut);
      else if (w.drained !== null) drained += w.drained;
      // No answer in time: what it last reported in flight is cut.
      else if (w.stats) (drained += w.stats.completedSinceShutdown), (cut += w.stats.inFlightRequests + w.stats.inFlightWebSockets);
    }
    this.#log.warn({ cut, drained, workers: this.#all.length }, 'all workers cut');
    this.send({ type: 'PROXY.CUT_DONE', drained, cut });
  }

  /** The primary's tracker shows the sums, so /state, /metrics and the shutdown record read it as before. */
  #mirrorTracker(): void {
    let requests = 0;
    let websockets = 0;
    let completed = 0;
    for (const w of this.#all) {
      if (!w.stats) continue;
      completed += w.stats.completedSinceShutdown;
      if (w.exited) continue;
      requests += w.stats.inFlightRequests;
      websockets += w.stats.inFlightWebSockets;
    }
    const t = this.rt.tracker;
    t.requests = requests;
    t.websockets = websockets;
    t.completedSinceShutdown = completed;
  }

  /** A breaker one worker tripped (or closed) reaches the others within one report. */
  #shareBreakers(): void {
    const merged = this.breakers.exportAll();
    const signature = merged.map((r) => `${r.target} ${r.updatedAt}`).join('\n');
    if (signature === this.#breakerSignature) return;
    this.#breakerSignature = signature;
    for (const w of this.#workers.values()) this.#post(w, { type: 'w:merged-breakers', breakers: merged });
  }

  #syncPeers(): void {
    if (this.rt.peers.version === this.#peerVersion) return;
    this.#peerVersion = this.rt.peers.version;
    const peers = this.rt.peers.list();
    for (const w of this.#workers.values()) this.#post(w, { type: 'w:peers', peers });
  }
}
