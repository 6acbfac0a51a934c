/**
 * The pure lifecycle chart driven by hand: one input, the events that walk it
 * (as its actors and timers would send them), and a runner with no actors,
 * no clock and no I/O. For chart and replay unit tests.
 */
import { initialTransition, transition } from 'xstate';
import type { AnyEventObject } from 'xstate';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import type { LifecycleInput } from '../../machines/lifecycle.js';

export const chartInput: LifecycleInput = { nodeId: 'n1', drainTimeoutMs: 30_000, shutdownDelayMs: 0 };

export const prepared = {
  type: 'xstate.done.actor.prepare',
  output: { movedAside: null, etcdLeaseId: null, payload: { saved: null, freshReason: null } },
};
export const restoredFresh = {
  type: 'xstate.done.actor.restore',
  output: {
    summary: { fresh: true, reason: 'no state file', peers: 0, breakers: 0, lastShutdownAt: null, savedAt: null },
    payload: { peers: [], breakers: [] },
  },
};
export const listening = { type: 'PROXY.LISTENING', address: '127.0.0.1:8080' };
/** starting → restoring → (binding) → serving. */
export const toServing = [prepared, restoredFresh, listening] as const;

export const sigterm = { type: 'SHUTDOWN', signal: 'SIGTERM', at: 1_000 };
export const sigint = { type: 'SHUTDOWN', signal: 'SIGINT', at: 1_100 };
export const deregistered = { type: 'xstate.done.actor.deregister', output: { goodbyeSent: false, noticesSent: 0, acked: 0, leaseRevoked: null } };
export const delayOver = { type: 'xstate.after.shutdownDelay.lifecycle.online.leaving.draining.delaying' };
export const drainDeadline = { type: 'xstate.after.drainDeadline.lifecycle.online.leaving.draining' };
export const deregisterTimeout = { type: 'xstate.after.deregisterTimeout.lifecycle.online.leaving.deregistering.notifying' };
export const cutGraceOver = { type: 'xstate.after.cutGrace.lifecycle.online.leaving.draining.cutting' };
export const persisted = { type: 'xstate.done.actor.persistFinal' };
export const drained = (n: number) => ({ type: 'PROXY.DRAINED', drained: n });
export const cutDone = (drainedCount: number, cut: number) => ({ type: 'PROXY.CUT_DONE', drained: drainedCount, cut });

/** The lifecycle labels of a clean SIGTERM shutdown, one per transition from the start. */
export const CLEAN_SHUTDOWN_LABELS = [
  'starting',
  'restoring',
  'restoring',
  'serving',
  'deregistering + draining',
  'draining',
  'draining',
  'persisting',
  'stopped',
] as const;

export type ChartSnapshot = ReturnType<typeof initialTransition<typeof lifecycleMachine>>[0];

/** The initial snapshot and the one after each event, computed purely (`transition`). */
export function runChart(events: readonly AnyEventObject[], input: LifecycleInput = chartInput): ChartSnapshot[] {
  let [s] = initialTransition(lifecycleMachine, input);
  const out = [s];
  for (const e of events) {
    [s] = transition(lifecycleMachine, s, e as never);
    out.push(s);
  }
  return out;
}
