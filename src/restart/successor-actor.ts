/**
 * The predecessor's side of a hot restart, as the chart's `successor` actor
 * (invoked on `handingOver`): save the state the successor restores, spawn
 * it with the same argv and env, pass the listening sockets over IPC, and
 * report RESTART.READY or RESTART.FAILED. Stopped before READY (a timeout or
 * a shutdown), it kills the successor, which has not served yet.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fromCallback } from 'xstate';
import type { AnyEventObject } from 'xstate';
import type { LifecycleEvent } from '../../machines/events.js';
import type { Logger } from '../log/logger.js';
import type { StoreRun } from '../store/store-run.js';
import { TAKEOVER_ENV, isMessage } from './protocol.js';
import type { ToPredecessor, ToSuccessor } from './protocol.js';
import type { HandleName, RestartState, Takeover } from './restart-state.js';

const HANDLE_ORDER: readonly HandleName[] = ['proxy', 'admin', 'mesh'];

function exitReason(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export function createSuccessorActor(logger: Logger, store: StoreRun, restart: RestartState) {
  return fromCallback<AnyEventObject>(({ sendBack }) => {
    const log = logger.child({ component: 'restart' });
    const send = (e: LifecycleEvent) => sendBack(e);
    let child: ChildProcess | null = null;
    let settled = false;
    let ready = false;
    const fail = (error: string) => {
      if (settled) return;
      settled = true;
      send({ type: 'RESTART.FAILED', error });
    };

    // What the successor restores: saved now, so peers, breakers (with their
    // remaining open time) and their statuses are this moment's.
    try {
      store.saveForSuccessor();
    } catch (error) {
      queueMicrotask(() => fail(`cannot save state for the successor: ${(error as Error).message}`));
      return () => undefined;
    }

    const takeover: Takeover = {
      fromPid: process.pid,
      previousRunId: store.runId(),
      restarts: restart.restarts + 1,
    };
    const argv = [...process.execArgv, ...process.argv.slice(1)];
    try {
      child = spawn(process.execPath, argv, {
        env: { ...process.env, [TAKEOVER_ENV]: JSON.stringify(takeover) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
    } catch (error) {
      queueMicrotask(() => fail(`cannot spawn the successor: ${(error as Error).message}`));
      return () => undefined;
    }
    const proc = child;
    log.info({ successorPid: proc.pid, argv, restarts: takeover.restarts }, 'hot restart: successor spawned');

    proc.on('error', (error) => fail(`cannot spawn the successor: ${error.message}`));
    proc.on('exit', (code, signal) => fail(`successor pid ${proc.pid} ${exitReason(code, signal)} before it was ready`));
    proc.on('message', (message: unknown) => {
      if (isMessage<ToPredecessor>(message, 'ge:hello')) {
        const names: HandleName[] = [];
        for (const name of HANDLE_ORDER) {
          const handle = restart.handleToSend(name);
          if (!handle) continue;
          proc.send({ type: 'ge:handle', name } satisfies ToSuccessor, handle as Parameters<ChildProcess['send']>[1]);
          names.push(name);
        }
        proc.send({ type: 'ge:handles-done', names } satisfies ToSuccessor);
      } else if (isMessage<ToPredecessor>(message, 'ge:ready')) {
        if (settled) return;
        settled = true;
        ready = true;
        const m = message as Extract<ToPredecessor, { type: 'ge:ready' }>;
        proc.removeAllListeners('exit');
        // The successor lives on by itself: no channel, no reference from here.
        if (proc.connected) proc.disconnect();
        proc.unref();
        send({ type: 'RESTART.READY', pid: m.pid, runId: m.runId });
      }
    });

    return () => {
      if (ready || proc.exitCode !== null || proc.signalCode !== null) return;
      settled = true;
      log.warn({ successorPid: proc.pid }, 'hot restart abandoned: killing the successor');
      proc.kill('SIGKILL');
    };
  });
}
