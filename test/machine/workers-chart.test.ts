/**
 * `--workers N` in the chart: a worker that exits unasked (WORKER.EXITED) is
 * reported, and replaced while the node serves (`serving`, and a hot
 * restart's `handingOver`, which may return to serving), after its slot's
 * back-off (machines/worker-backoff.ts); once leaving or handed over, the
 * drain counts it and nothing is started. Pure transitions, no actors, no I/O.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import type { AnyEventObject } from 'xstate';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import { lifecycleLabel, stateValueText } from '../../machines/lifecycle-names.js';
import { WORKER_BACKOFF_CAP_MS, WORKER_SETTLE_MS } from '../../machines/worker-backoff.js';
import { chartInput, sigterm, toServing } from '../helpers/chart.js';

const sighup = { type: 'RESTART', signal: 'SIGHUP', at: 800 };
const restartTimedOut = { type: 'xstate.after.restartTimeout.lifecycle.online.handingOver' };
const successorReady = { type: 'RESTART.READY', pid: 4343, runId: 2 };
const exited = { type: 'WORKER.EXITED', pid: 4242, slot: 1, uptimeMs: 60_000, code: null, signal: 'SIGKILL', inFlight: 3 };
/** The worker in `slot` died after `uptimeMs`. */
const exit = (pid: number, slot: number, uptimeMs: number) => ({ ...exited, pid, slot, uptimeMs, inFlight: 0 });

type Action = { type: string; params?: unknown; args?: unknown[] };

/** Walks the events; returns the last snapshot and the actions of the last step. */
function walk(events: AnyEventObject[]) {
  let [snap, actions] = initialTransition(lifecycleMachine, chartInput);
  for (const e of events) [snap, actions] = transition(lifecycleMachine, snap, e as never);
  return { snap, actions: actions as Action[] };
}

/** Walks the events; returns the actions of every step. */
function stepsOf(events: AnyEventObject[]): Action[][] {
  let [snap] = initialTransition(lifecycleMachine, chartInput);
  const steps: Action[][] = [];
  for (const e of events) {
    const [next, actions] = transition(lifecycleMachine, snap, e as never);
    snap = next;
    steps.push(actions as Action[]);
  }
  return steps;
}

/** The events sent to the proxy actor by the step's actions. */
function sentToProxy(actions: Action[]): unknown[] {
  return actions
    .filter((a) => a.type === 'xstate.sendTo')
    .map((a) => (a.params as { event?: unknown } | undefined)?.event ?? (a.args?.[1] as { event?: unknown } | undefined)?.event);
}

/** The delay of each step's PROXY.REPLACE_WORKER (undefined: none sent). */
function delaysOf(steps: Action[][]): Array<number | undefined> {
  return steps.map((actions) => (sentToProxy(actions)[0] as { delayMs?: number } | undefined)?.delayMs);
}

describe('lifecycle chart: worker exits', () => {
  it('while serving: reported (replaced: true, at once) and the proxy is told to replace that slot; the state does not change', () => {
    const { snap, actions } = walk([...toServing, exited]);
    expect(lifecycleLabel(snap.value)).toBe('serving');
    const report = actions.find((a) => a.type === 'reportWorkerExit');
    const { type: _, ...fields } = exited;
    expect(report?.params).toEqual({ ...fields, startError: null, replaced: true, replaceInMs: 0, exitsInARow: 1 });
    expect(sentToProxy(actions)).toEqual([{ type: 'PROXY.REPLACE_WORKER', pid: 4242, slot: 1, delayMs: 0 }]);
  });

  it('a slot whose replacements keep dying quickly: 0, 100, 200, 400, 800 ms, … capped; the log line says each delay', () => {
    const quick = Array.from({ length: 12 }, (_, i) => exit(5000 + i, 2, 300));
    const steps = stepsOf([...toServing, ...quick]).slice(toServing.length);
    const delays = delaysOf(steps);
    expect(delays.slice(0, 8)).toEqual([0, 100, 200, 400, 800, 1600, 3200, 6400]);
    expect(delays.slice(8)).toEqual([WORKER_BACKOFF_CAP_MS, WORKER_BACKOFF_CAP_MS, WORKER_BACKOFF_CAP_MS, WORKER_BACKOFF_CAP_MS]);
    const reports = steps.map((actions) => actions.find((a) => a.type === 'reportWorkerExit')?.params as { replaceInMs: number; exitsInARow: number });
    expect(reports.map((r) => r.replaceInMs)).toEqual(delays);
    expect(reports.map((r) => r.exitsInARow)).toEqual(quick.map((_, i) => i + 1));
  });

  it('a slot whose process cannot even be forked (startError) backs off like a crash loop, and the report says why', () => {
    const forkFailed = { ...exit(0, 2, 0), startError: 'EAGAIN' };
    const steps = stepsOf([...toServing, forkFailed, forkFailed, forkFailed]).slice(toServing.length);
    expect(delaysOf(steps)).toEqual([0, 100, 200]);
    expect(steps[2]!.find((a) => a.type === 'reportWorkerExit')?.params).toMatchObject({ startError: 'EAGAIN', replaced: true, replaceInMs: 200, exitsInARow: 3 });
  });

  it('a worker that lived past the settle time starts a new streak; each slot has its own', () => {
    const events = [
      exit(1, 1, 100), // slot 1: 0
      exit(2, 1, 100), // slot 1: 100
      exit(3, 2, 100), // slot 2, its own streak: 0
      exit(4, 1, 100), // slot 1: 200
      exit(5, 1, WORKER_SETTLE_MS), // settled: 0
      exit(6, 1, WORKER_SETTLE_MS - 1), // quick again: 100
      exit(7, 2, 100), // slot 2: 100
    ];
    expect(delaysOf(stepsOf([...toServing, ...events]).slice(toServing.length))).toEqual([0, 100, 0, 200, 0, 100, 100]);
  });

  it('while leaving: reported (replaced: false, no delay), nothing sent to the proxy, the drain goes on', () => {
    const { snap, actions } = walk([...toServing, sigterm, exited]);
    expect(lifecycleLabel(snap.value)).toBe('deregistering + draining');
    const { type: _, ...fields } = exited;
    expect(actions.find((a) => a.type === 'reportWorkerExit')?.params).toEqual({ ...fields, startError: null, replaced: false, replaceInMs: null, exitsInARow: null });
    expect(sentToProxy(actions)).toEqual([]);
  });

  it('while handing over (hot restart): replaced as in serving; the hand-over goes on', () => {
    const { snap, actions } = walk([...toServing, sighup, exited]);
    expect(stateValueText(snap.value)).toBe('online.handingOver');
    expect(snap.children).toHaveProperty('successor');
    const { type: _, ...fields } = exited;
    expect(actions.find((a) => a.type === 'reportWorkerExit')?.params).toEqual({ ...fields, startError: null, replaced: true, replaceInMs: 0, exitsInARow: 1 });
    expect(sentToProxy(actions)).toEqual([{ type: 'PROXY.REPLACE_WORKER', pid: 4242, slot: 1, delayMs: 0 }]);
  });

  it('a slot\'s streak goes on across a hand-over that fails: serving, handing over, serving again back off as one', () => {
    const events = [exit(1, 1, 100), sighup, exit(2, 1, 100), exit(3, 2, 100), restartTimedOut, exit(4, 1, 100)];
    const steps = stepsOf([...toServing, ...events]).slice(toServing.length);
    expect(delaysOf(steps)).toEqual([0, undefined, 100, 0, undefined, 200]);
    const { snap } = walk([...toServing, ...events]);
    expect(stateValueText(snap.value)).toBe('online.serving');
    expect(snap.context.workerExitStreaks).toEqual({ 1: 3, 2: 1 });
  });

  it('after a hand-over (handedOver): reported (replaced: false), nothing sent to the proxy, the drain goes on', () => {
    const { snap, actions } = walk([...toServing, sighup, successorReady, exited]);
    expect(stateValueText(snap.value)).toBe('online.handedOver.waiting');
    expect(actions.find((a) => a.type === 'reportWorkerExit')?.params).toMatchObject({ replaced: false, replaceInMs: null, exitsInARow: null });
    expect(sentToProxy(actions)).toEqual([]);
  });

  it('before the node serves, the event is not taken', () => {
    const { snap, actions } = walk([exited]);
    expect(lifecycleLabel(snap.value)).toBe('starting');
    expect(actions.find((a) => a.type === 'reportWorkerExit')).toBeUndefined();
  });
});
