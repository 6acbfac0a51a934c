/**
 * The successor's side of a hot restart: read the takeover marker, receive
 * the listening handles from the process that spawned it, and tell it READY
 * once this process serves on them.
 */
import type dgram from 'node:dgram';
import type { Logger } from '../log/logger.js';
import { TAKEOVER_ENV, isMessage } from './protocol.js';
import type { ToPredecessor, ToSuccessor } from './protocol.js';
import { RestartState } from './restart-state.js';
import type { ListenHandles, NativeListenHandle, Takeover } from './restart-state.js';

/** Longest wait for the handles once the predecessor said hello back. */
const HANDLES_TIMEOUT_MS = 10_000;

export class TakeoverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TakeoverError';
  }
}

export function parseTakeover(raw: string | undefined): Takeover | null {
  if (!raw) return null;
  const value = JSON.parse(raw) as Partial<Takeover>;
  if (typeof value.fromPid !== 'number' || typeof value.restarts !== 'number') {
    throw new TakeoverError(`${TAKEOVER_ENV} is malformed: ${raw}`);
  }
  return { fromPid: value.fromPid, previousRunId: value.previousRunId ?? null, restarts: value.restarts };
}

/**
 * A cold start gets an empty RestartState. A successor (marker set and an IPC
 * channel present) says hello, then collects the handles until `handles-done`.
 */
export async function receiveTakeover(logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<RestartState> {
  const takeover = parseTakeover(env[TAKEOVER_ENV]);
  // The marker must not reach anything this process spawns on its own.
  delete env[TAKEOVER_ENV];
  if (!takeover) return new RestartState();
  if (!process.send) throw new TakeoverError(`${TAKEOVER_ENV} is set but there is no IPC channel to the previous process`);
  const inherited: ListenHandles = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new TakeoverError(`no listening sockets from pid ${takeover.fromPid} within ${HANDLES_TIMEOUT_MS} ms`));
    }, HANDLES_TIMEOUT_MS);
    const onMessage = (message: unknown, handle: unknown) => {
      if (isMessage<ToSuccessor>(message, 'ge:handle') && handle) {
        const m = message as Extract<ToSuccessor, { type: 'ge:handle' }>;
        if (m.name === 'mesh') inherited.mesh = handle as dgram.Socket;
        else inherited[m.name] = handle as NativeListenHandle;
      } else if (isMessage<ToSuccessor>(message, 'ge:handles-done')) {
        cleanup();
        resolve();
      }
    };
    const onDisconnect = () => {
      cleanup();
      reject(new TakeoverError(`pid ${takeover.fromPid} went away before passing its listeners`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
    };
    process.on('message', onMessage);
    process.on('disconnect', onDisconnect);
    // A failed send (the predecessor died just now) is the 'disconnect' above, not an uncaught 'error'.
    process.send!({ type: 'ge:hello', pid: process.pid } satisfies ToPredecessor, undefined, {}, () => undefined);
  });
  logger.info(
    { takeover: { fromPid: takeover.fromPid, previousRunId: takeover.previousRunId, restarts: takeover.restarts }, inherited: Object.keys(inherited) },
    'hot restart: taking over from the previous process',
  );
  return new RestartState(takeover, inherited);
}

/**
 * Tells the predecessor READY once `ready()` holds, checked at every change
 * of the chart (`changes` subscribes a listener and returns its undo): the
 * proxy and the admin listener report their addresses asynchronously. Then
 * drops the IPC channel so neither process keeps the other's event loop
 * alive. A predecessor that goes away first ends the wait.
 */
export function announceReadyWhen(
  changes: (listener: () => void) => () => void,
  ready: () => boolean,
  runId: () => number | null,
  /** Runs first (systemd's MAINPID=): the predecessor exits soon after READY. */
  beforeReady: () => Promise<void> = async () => undefined,
  /** False on a cold start: only a successor has a predecessor to tell. */
  successor = true,
): void {
  successor &&= process.send !== undefined;
  let done = false;
  let unsubscribe = (): void => undefined;
  const stop = () => {
    done = true;
    unsubscribe();
    process.off('disconnect', stop);
  };
  const check = () => {
    if (done || !ready()) return;
    stop();
    void beforeReady().then(() => {
      if (!successor || !process.connected) return;
      process.send!({ type: 'ge:ready', pid: process.pid, runId: runId() } satisfies ToPredecessor, undefined, {}, () => {
        if (process.connected) process.disconnect();
      });
    });
  };
  if (successor) {
    if (!process.connected) return;
    process.once('disconnect', stop);
  }
  const off = changes(check);
  if (done) off();
  else unsubscribe = off;
  check();
}
