/**
 * `--workers N` in the chart: a worker that exits unasked (WORKER.EXITED) is
 * reported, and replaced only while serving; once leaving, the drain counts
 * it and nothing is started. Pure transitions, no actors, no I/O.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import type { AnyEventObject } from 'xstate';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import { lifecycleLabel } from '../../machines/lifecycle-names.js';
import { chartInput, sigterm, toServing } from '../helpers/chart.js';

const exited = { type: 'WORKER.EXITED', pid: 4242, code: null, signal: 'SIGKILL', inFlight: 3 };

/** Walks the events; returns the last snapshot and the actions of the last step. */
function walk(events: AnyEventObject[]) {
  let [snap, actions] = initialTransition(lifecycleMachine, chartInput);
  for (const e of events) [snap, actions] = transition(lifecycleMachine, snap, e as never);
  return { snap, actions: actions as Array<{ type: string; params?: unknown; args?: unknown[] }> };
}

/** The events sent to the proxy actor by the step's actions. */
function sentToProxy(actions: Array<{ type: string; params?: unknown; args?: unknown[] }>): unknown[] {
  return actions
    .filter((a) => a.type === 'xstate.sendTo')
    .map((a) => (a.params as { event?: unknown } | undefined)?.event ?? (a.args?.[1] as { event?: unknown } | undefined)?.event);
}

describe('lifecycle chart: worker exits', () => {
  it('while serving: reported (replaced: true) and the proxy is told to replace that pid; the state does not change', () => {
    const before = walk([...toServing]);
    const { snap, actions } = walk([...toServing, exited]);
    expect(lifecycleLabel(snap.value)).toBe('serving');
    expect(snap.context).toEqual(before.snap.context);
    const report = actions.find((a) => a.type === 'reportWorkerExit');
    expect(report?.params).toEqual({ ...exited, replaced: true });
    expect(sentToProxy(actions)).toEqual([{ type: 'PROXY.REPLACE_WORKER', pid: 4242 }]);
  });

  it('while leaving: reported (replaced: false), nothing sent to the proxy, the drain goes on', () => {
    const { snap, actions } = walk([...toServing, sigterm, exited]);
    expect(lifecycleLabel(snap.value)).toBe('deregistering + draining');
    expect(actions.find((a) => a.type === 'reportWorkerExit')?.params).toEqual({ ...exited, replaced: false });
    expect(sentToProxy(actions)).toEqual([]);
  });

  it('before the node serves, the event is not taken', () => {
    const { snap, actions } = walk([exited]);
    expect(lifecycleLabel(snap.value)).toBe('starting');
    expect(actions.find((a) => a.type === 'reportWorkerExit')).toBeUndefined();
  });
});
