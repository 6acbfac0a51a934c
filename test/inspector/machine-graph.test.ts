/** The chart the page draws is read off the machine, complete and labelled. */
import { describe, expect, it } from 'vitest';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import { LIFECYCLE_NAMES } from '../../machines/lifecycle-names.js';
import { describeMachine, transitionLabel } from '../../src/admin/inspector/machine-graph.js';
import type { ChartNode } from '../../src/admin/inspector/machine-graph.js';

function flatten(node: ChartNode): ChartNode[] {
  return [node, ...node.children.flatMap(flatten)];
}

describe('describeMachine', () => {
  const chart = describeMachine(lifecycleMachine);
  const nodes = flatten(chart);

  it('has every state node of the machine, with its type and initial state', () => {
    const ids: string[] = [];
    const walk = (n: typeof lifecycleMachine.root) => {
      ids.push(n.id);
      for (const c of Object.values(n.states)) walk(c);
    };
    walk(lifecycleMachine.root);
    expect(nodes.map((n) => n.id).sort()).toEqual(ids.sort());
    expect(nodes.find((n) => n.id === 'lifecycle.online.leaving')?.type).toBe('parallel');
    expect(nodes.find((n) => n.id === 'lifecycle.stopped')?.type).toBe('final');
    expect(chart.initial).toBe('lifecycle.starting');
  });

  it('names each of the seven lifecycle states exactly once', () => {
    const named = nodes.filter((n) => n.lifecycleName).map((n) => n.lifecycleName);
    expect([...named].sort()).toEqual([...LIFECYCLE_NAMES].sort());
  });

  it('keeps transitions with events, targets and guards, and the invoked actors', () => {
    const serving = nodes.find((n) => n.lifecycleName === 'serving')!;
    expect(serving.transitions).toContainEqual(
      expect.objectContaining({ event: 'SHUTDOWN', targets: ['lifecycle.online.leaving'] }),
    );
    expect(serving.invokes.map((i) => i.src)).toContain('announcer');
    const persisting = nodes.find((n) => n.lifecycleName === 'persisting')!;
    expect(persisting.transitions).toContainEqual(
      expect.objectContaining({ label: 'error: persistFinal', guard: 'mayRetryPersist', reenter: true }),
    );
    const draining = nodes.find((n) => n.lifecycleName === 'draining')!;
    expect(draining.transitions).toContainEqual(
      expect.objectContaining({ label: 'after drainDeadline', targets: ['lifecycle.online.leaving.draining.cutting'] }),
    );
    expect(JSON.parse(JSON.stringify(chart))).toEqual(chart);
  });
});

describe('transitionLabel', () => {
  it('reads generated event types the way the chart was written', () => {
    expect(transitionLabel('xstate.done.actor.prepare', 'lifecycle')).toBe('done: prepare');
    expect(transitionLabel('xstate.error.actor.restore', 'lifecycle')).toBe('error: restore');
    expect(transitionLabel('xstate.after.cutGrace.lifecycle.online.leaving.draining.cutting', 'lifecycle')).toBe('after cutGrace');
    expect(transitionLabel('xstate.done.state.lifecycle.online', 'lifecycle')).toBe('done (all regions final)');
    expect(transitionLabel('PROXY.DRAINED', 'lifecycle')).toBe('PROXY.DRAINED');
  });
});
