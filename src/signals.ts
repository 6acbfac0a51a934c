/**
 * OS signals. Installed first thing by `cli.ts` (before the daemon and its
 * dependencies load, which takes ~0.5 s), so no catchable signal ever takes
 * the default action (kill) at any point of a node's life:
 *
 * - before the chart runs, shutdown signals are queued and handed to it when
 *   it starts (it then stops cleanly, exit 0, lock released);
 * - while it runs, they become `SHUTDOWN` events (the chart decides: first
 *   signal graceful shutdown, second skips the rest of the drain);
 * - after it has stopped (the process is closing the store and exiting),
 *   they are counted and ignored — the handlers are never removed, since a
 *   signal without a handler would kill the process before it saves.
 *
 * SIGHUP is the hot restart's (src/restart/); here it is only kept from
 * killing the node while no restart handler is attached. The
 * table in docs/operations.md ("Signals") lists every signal and why.
 * This module imports nothing at run time (not even the shared rate-limited
 * log, which would be one more file to load before the handlers exist): it
 * must load in microseconds.
 */
import type { Logger } from './log/logger.js';

export type SignalAction = 'shutdown' | 'log';

/**
 * What each caught signal does. Not here: SIGKILL/SIGSTOP (cannot be caught),
 * SIGHUP (hot restart), SIGPIPE (Node ignores it; a broken socket is an
 * EPIPE error on that socket), SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT/SIGSYS
 * (raised by a real fault in native code: returning from a handler would
 * re-run the faulting instruction; they must crash), and the signals whose
 * default is to ignore or stop (SIGCHLD, SIGWINCH, SIGURG, SIGCONT, SIGTSTP…).
 */
export const SIGNAL_ACTIONS: Readonly<Record<string, { action: SignalAction; why: string }>> = {
  SIGTERM: { action: 'shutdown', why: 'the supervisor asks the node to stop' },
  SIGINT: { action: 'shutdown', why: 'Ctrl-C' },
  SIGQUIT: { action: 'shutdown', why: 'a request to quit: drain and save instead of dumping core' },
  SIGXCPU: { action: 'shutdown', why: 'CPU-time soft limit reached; the hard limit (SIGKILL) follows, so save now' },
  SIGPWR: { action: 'shutdown', why: 'power failure announced (UPS): save while there is time' },
  SIGUSR1: { action: 'log', why: "Node's default opens the inspector on 127.0.0.1:9229 without authentication; disabled" },
  SIGUSR2: { action: 'log', why: 'no meaning in graceful-edge; logged so a stray signal is visible' },
  SIGALRM: { action: 'log', why: 'the daemon sets no interval timers; a stray one must not kill it' },
  SIGVTALRM: { action: 'log', why: 'as SIGALRM' },
  SIGPROF: { action: 'log', why: 'as SIGALRM; not caught when the runtime runs a CPU profiler (`--cpu-prof`, `--prof`), whose sampler it drives' },
  SIGXFSZ: { action: 'log', why: 'file-size limit: the write fails with EFBIG instead, reported as a snapshot failure' },
  SIGIO: { action: 'log', why: 'no async I/O signals are requested (SIGPOLL is the same signal)' },
  SIGSTKFLT: { action: 'log', why: 'unused on Linux' },
  SIGTRAP: { action: 'log', why: 'a breakpoint trap sent from outside must not kill the node' },
};

export interface ShutdownEvent {
  type: 'SHUTDOWN';
  signal: string;
  at: number;
}

type Received = { signal: string; at: number; action: SignalAction; logged: boolean };

interface GateState {
  installed: boolean;
  /** Everything received, in order. */
  received: Received[];
  /** Shutdown signals received before the chart ran. */
  queued: ShutdownEvent[];
  send: ((event: ShutdownEvent) => void) | null;
  logger: Logger | null;
  stopped: boolean;
  /** Last log time per signal, for rate-limiting repeated `log` signals. */
  lastLogged: Map<string, number>;
}

const gate: GateState = {
  installed: false,
  received: [],
  queued: [],
  send: null,
  logger: null,
  stopped: false,
  lastLogged: new Map(),
};

/** A flood of one signal logs at most one line per second (the count is in the line). */
const LOG_EVERY_MS = 1_000;

function countOf(signal: string): number {
  let n = 0;
  for (const r of gate.received) if (r.signal === signal) n++;
  return n;
}

function logSignal(r: Received, queued = false): void {
  const log = gate.logger;
  if (!log) return;
  r.logged = true;
  const count = countOf(r.signal);
  const fields = { signal: r.signal, count, action: r.action, ...(queued ? { receivedAt: r.at } : {}) };
  if (gate.stopped) {
    log.info(fields, 'signal received after the node stopped: ignored');
    return;
  }
  if (r.action === 'shutdown') {
    const first = gate.received.find((x) => x.action === 'shutdown') === r;
    log.info(fields, first ? 'signal received: shutting down' : 'signal received again');
    return;
  }
  const last = gate.lastLogged.get(r.signal) ?? -Infinity;
  if (r.at - last < LOG_EVERY_MS) return;
  gate.lastLogged.set(r.signal, r.at);
  log.warn(
    fields,
    r.signal === 'SIGUSR1' ? 'SIGUSR1 received: ignored (the inspector stays closed)' : 'signal received: ignored',
  );
}

function onSignal(signal: string, action: SignalAction): void {
  const r: Received = { signal, at: Date.now(), action, logged: false };
  gate.received.push(r);
  logSignal(r);
  if (action !== 'shutdown' || gate.stopped) return;
  const event: ShutdownEvent = { type: 'SHUTDOWN', signal, at: r.at };
  if (gate.send) gate.send(event);
  else gate.queued.push(event);
}

/**
 * Installs a handler for every signal of SIGNAL_ACTIONS, once. Safe to call
 * again (tests, the daemon's own call). Never removed.
 */
export function installSignalHandlers(): void {
  if (gate.installed) return;
  gate.installed = true;
  const profiling = profilerOwnsSigprof();
  for (const [signal, { action }] of Object.entries(SIGNAL_ACTIONS)) {
    // V8's sampling profiler is driven by SIGPROF; a libuv handler replaces
    // V8's, and the profile is left with a few dozen samples of nonsense.
    if (signal === 'SIGPROF' && profiling) continue;
    try {
      process.on(signal as NodeJS.Signals, () => onSignal(signal, action));
    } catch {
      // A platform without this signal (e.g. SIGPWR off Linux): nothing to catch.
    }
  }
  // SIGHUP is the hot restart's (src/restart/sighup.ts), whose handler exists
  // only while the chart runs. Before (the node is still starting) and after
  // (it has stopped), one is noted and ignored instead of killing the process.
  process.on('SIGHUP', () => {
    if (process.listenerCount('SIGHUP') > 1) return;
    onSignal('SIGHUP', 'log');
  });
}

/** The runtime was started with a CPU profiler (`--cpu-prof`, `--prof`), which owns SIGPROF. */
export function profilerOwnsSigprof(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((arg) => arg === '--cpu-prof' || arg === '--prof' || arg.startsWith('--cpu-prof='));
}

/**
 * Hands signals to the running chart: first the ones queued before it ran,
 * then each as it comes. The returned function marks the chart stopped:
 * later signals are counted and ignored (never removed: see above).
 */
export function forwardSignals(send: (event: ShutdownEvent) => void, logger: Logger): () => void {
  installSignalHandlers();
  gate.logger = logger;
  gate.stopped = false;
  logger.debug({ sigusr1: sigusr1Protection(), queued: gate.queued.length }, 'signal handlers attached to the chart');
  for (const r of gate.received) if (!r.logged) logSignal(r, true);
  const queued = gate.queued.splice(0);
  gate.send = send;
  for (const event of queued) send(event);
  return () => {
    gate.send = null;
    gate.stopped = true;
  };
}

/**
 * How SIGUSR1's inspector is kept closed: the runtime's `--disable-sigusr1`
 * (Node ≥ 22.14 / 23.7, when the operator passed it) or our handler, which
 * replaces Node's default action either way.
 */
export function sigusr1Protection(): 'flag' | 'handler' {
  const flag = '--disable-sigusr1';
  const given = process.execArgv.includes(flag) || (process.env.NODE_OPTIONS ?? '').split(/\s+/).includes(flag);
  return given && process.allowedNodeEnvironmentFlags.has(flag) ? 'flag' : 'handler';
}
