/** The pure chart: events in, states out, no I/O. */
import { describe, expect, it } from 'vitest';
import { lifecycleLabel } from '../../machines/lifecycle-names.js';
import { planShutdown } from '../../machines/budget.js';
import { CLEAN_SHUTDOWN_LABELS, cutDone, cutGraceOver, delayOver, deregistered, deregisterTimeout, drainDeadline, drained, listening, persisted, prepared, runChart as run, sigint, sigterm, toServing } from '../helpers/chart.js';

describe('lifecycle chart', () => {
  it('goes starting → restoring → serving', () => {
    const states = run(toServing).map((s) => lifecycleLabel(s.value));
    // online.binding (waiting for PROXY.LISTENING) is still named restoring: not ready yet.
    expect(states).toEqual(['starting', 'restoring', 'restoring', 'serving']);
  });

  it('shuts down through deregistering + draining and persisting to stopped', () => {
    const states = run([
      ...toServing,
      sigterm,
      { ...deregistered, output: { goodbyeSent: true, noticesSent: 2, acked: 2, leaseRevoked: null } },
      delayOver,
      drained(3),
      persisted,
    ]);
    expect(states.map((s) => lifecycleLabel(s.value))).toEqual(CLEAN_SHUTDOWN_LABELS);
    const last = states.at(-1)!;
    expect(last.status).toBe('done');
    expect(last.context.drain).toEqual({ drained: 3, cut: 0 });
    expect(last.context.exitCode).toBe(0);
  });

  it('a second signal skips the drain but never persisting', () => {
    const states = run([
      ...toServing,
      sigterm,
      sigint,
      { ...deregistered, output: { goodbyeSent: true, noticesSent: 0, acked: 0, leaseRevoked: null } },
      cutDone(0, 1),
    ]);
    expect(states.map((s) => lifecycleLabel(s.value)).slice(-3)).toEqual(['deregistering + draining', 'draining', 'persisting']);
    expect(states.at(-1)!.context.drainSkipped).toBe(true);
    expect(states.at(-1)!.context.drain).toEqual({ drained: 0, cut: 1 });
  });

  it('the drain deadline cuts what is left', () => {
    const states = run([...toServing, sigterm, delayOver, drainDeadline, deregisterTimeout, cutGraceOver]);
    expect(lifecycleLabel(states.at(-1)!.value)).toBe('persisting');
  });

  it('a start-up failure stops with exit code 2', () => {
    const [s] = run([{ type: 'xstate.error.actor.prepare', error: 'data dir is read-only' }]).slice(-1);
    expect(s!.value).toBe('stopped');
    expect(s!.context.exitCode).toBe(2);
    expect(s!.context.lastError).toBe('data dir is read-only');
  });

  it('a failed restore starts fresh and serves', () => {
    const [s] = run([prepared, { type: 'xstate.error.actor.restore', error: 'file is not a database' }, listening]).slice(-1);
    expect(lifecycleLabel(s!.value)).toBe('serving');
    expect(s!.context.restored).toMatchObject({ fresh: true, reason: 'file is not a database' });
  });

  it('a failed final snapshot is retried once, then reported with exit 1', () => {
    const states = run([
      ...toServing,
      sigterm,
      deregistered,
      delayOver,
      drained(0),
      { type: 'xstate.error.actor.persistFinal', error: 'disk full' },
      { type: 'xstate.error.actor.persistFinal', error: 'disk full' },
    ]);
    expect(states.at(-2)!.value).toBe('persisting');
    expect(states.at(-1)!.value).toBe('stopped');
    expect(states.at(-1)!.context.exitCode).toBe(1);
  });
});

describe('shutdown budget', () => {
  it('reserves the persist slice first and clamps the delay', () => {
    expect(planShutdown(30_000, 0)).toEqual({ budgetMs: 30_000, persistReserveMs: 2_000, drainDeadlineMs: 28_000, shutdownDelayMs: 0, deregisterTimeoutMs: 2_000 });
    expect(planShutdown(2_000, 5_000)).toMatchObject({ persistReserveMs: 200, drainDeadlineMs: 1_800, shutdownDelayMs: 1_800 });
  });
});

describe('hot restart in the chart', () => {
  it('serving → handingOver (still serving) → handedOver (draining) → persisting → stopped, exit 0, no shutdown record', async () => {
    const { runChart, toServing, drained, persisted } = await import('../helpers/chart.js');
    const { lifecycleLabel: label, stateValueText: valueText } = await import('../../machines/lifecycle-names.js');
    const steps = runChart([
      ...toServing,
      { type: 'RESTART', signal: 'SIGHUP', at: 500 },
      { type: 'RESTART.READY', pid: 42, runId: 2 },
      drained(3),
      persisted,
    ]);
    expect(steps.map((s) => valueText(s.value))).toEqual([
      'starting',
      'restoring',
      'online.binding',
      'online.serving',
      'online.handingOver',
      'online.handedOver.waiting',
      'persisting',
      'stopped',
    ]);
    expect(steps.map((s) => label(s.value))).toEqual(['starting', 'restoring', 'restoring', 'serving', 'serving', 'draining', 'persisting', 'stopped']);
    const last = steps.at(-1)!;
    expect(last.context).toMatchObject({ exitCode: 0, shutdownAt: null, successor: { pid: 42, runId: 2 }, drain: { drained: 3, cut: 0 }, restartAttempts: 1 });
  });

  it('a failed restart returns to serving; SIGHUP outside serving changes nothing', async () => {
    const { runChart, toServing, sigterm } = await import('../helpers/chart.js');
    const { stateValueText: valueText } = await import('../../machines/lifecycle-names.js');
    const failed = runChart([...toServing, { type: 'RESTART', signal: 'SIGHUP', at: 500 }, { type: 'RESTART.FAILED', error: 'successor pid 9 exited with code 1 before it was ready' }]).at(-1)!;
    expect(valueText(failed.value)).toBe('online.serving');
    expect(failed.context).toMatchObject({ restartFailures: 1, restartAt: null, lastError: 'hot restart: successor pid 9 exited with code 1 before it was ready' });
    const leaving = runChart([...toServing, sigterm, { type: 'RESTART', signal: 'SIGHUP', at: 1_200 }]);
    expect(valueText(leaving.at(-1)!.value)).toBe(valueText(leaving.at(-2)!.value));
  });
});
