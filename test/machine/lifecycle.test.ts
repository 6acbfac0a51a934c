/** The pure chart: events in, states out, no I/O. */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import { lifecycleLabel } from '../../machines/lifecycle-names.js';
import { planShutdown } from '../../machines/budget.js';

const input = { nodeId: 'n1', drainTimeoutMs: 30_000, shutdownDelayMs: 0 };
type Snap = ReturnType<typeof initialTransition<typeof lifecycleMachine>>[0];

function run(events: Array<{ type: string; [k: string]: unknown }>): Snap[] {
  let [s] = initialTransition(lifecycleMachine, input);
  const out = [s];
  for (const e of events) {
    [s] = transition(lifecycleMachine, s, e as never);
    out.push(s);
  }
  return out;
}

const toServing = [
  { type: 'xstate.done.actor.prepare', output: { movedAside: null } },
  { type: 'xstate.done.actor.restore', output: { fresh: true, reason: null, peers: 0, breakers: 0, lastShutdownAt: null, savedAt: null } },
];

describe('lifecycle chart', () => {
  it('goes starting → restoring → serving', () => {
    const states = run(toServing).map((s) => lifecycleLabel(s.value));
    expect(states).toEqual(['starting', 'restoring', 'serving']);
  });

  it('shuts down through deregistering + draining and persisting to stopped', () => {
    const states = run([
      ...toServing,
      { type: 'SHUTDOWN', signal: 'SIGTERM', at: 1000 },
      { type: 'xstate.done.actor.deregister', output: { goodbyeSent: true, noticesSent: 2, acked: 2, leaseRevoked: null } },
      { type: 'xstate.after.shutdownDelay.lifecycle.online.leaving.draining.delaying' },
      { type: 'PROXY.DRAINED', drained: 3 },
      { type: 'xstate.done.actor.persistFinal' },
    ]);
    expect(states.map((s) => lifecycleLabel(s.value))).toEqual([
      'starting',
      'restoring',
      'serving',
      'deregistering + draining',
      'draining',
      'draining',
      'persisting',
      'stopped',
    ]);
    const last = states.at(-1)!;
    expect(last.status).toBe('done');
    expect(last.context.drain).toEqual({ drained: 3, cut: 0 });
    expect(last.context.exitCode).toBe(0);
  });

  it('a second signal skips the drain but never persisting', () => {
    const states = run([
      ...toServing,
      { type: 'SHUTDOWN', signal: 'SIGTERM', at: 1000 },
      { type: 'SHUTDOWN', signal: 'SIGINT', at: 1100 },
      { type: 'xstate.done.actor.deregister', output: { goodbyeSent: true, noticesSent: 0, acked: 0, leaseRevoked: null } },
      { type: 'PROXY.CUT_DONE', drained: 0, cut: 1 },
    ]);
    expect(states.map((s) => lifecycleLabel(s.value)).slice(-3)).toEqual(['deregistering + draining', 'draining', 'persisting']);
    expect(states.at(-1)!.context.drainSkipped).toBe(true);
    expect(states.at(-1)!.context.drain).toEqual({ drained: 0, cut: 1 });
  });

  it('the drain deadline cuts what is left', () => {
    const states = run([
      ...toServing,
      { type: 'SHUTDOWN', signal: 'SIGTERM', at: 1000 },
      { type: 'xstate.after.shutdownDelay.lifecycle.online.leaving.draining.delaying' },
      { type: 'xstate.after.drainDeadline.lifecycle.online.leaving.draining' },
      { type: 'xstate.after.deregisterTimeout.lifecycle.online.leaving.deregistering.announcing' },
      { type: 'xstate.after.cutGrace.lifecycle.online.leaving.draining.cutting' },
    ]);
    expect(lifecycleLabel(states.at(-1)!.value)).toBe('persisting');
  });

  it('a start-up failure stops with exit code 2', () => {
    const [s] = run([{ type: 'xstate.error.actor.prepare', error: 'data dir is read-only' }]).slice(-1);
    expect(s!.value).toBe('stopped');
    expect(s!.context.exitCode).toBe(2);
    expect(s!.context.lastError).toBe('data dir is read-only');
  });

  it('a failed restore starts fresh and serves', () => {
    const [s] = run([toServing[0]!, { type: 'xstate.error.actor.restore', error: 'file is not a database' }]).slice(-1);
    expect(lifecycleLabel(s!.value)).toBe('serving');
    expect(s!.context.restored).toMatchObject({ fresh: true, reason: 'file is not a database' });
  });

  it('a failed final snapshot is retried once, then reported with exit 1', () => {
    const states = run([
      ...toServing,
      { type: 'SHUTDOWN', signal: 'SIGTERM', at: 1000 },
      { type: 'xstate.done.actor.deregister', output: { goodbyeSent: false, noticesSent: 0, acked: 0, leaseRevoked: null } },
      { type: 'xstate.after.shutdownDelay.lifecycle.online.leaving.draining.delaying' },
      { type: 'PROXY.DRAINED', drained: 0 },
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
