/**
 * The lifecycle statechart as plain JSON, read off the machine's own state
 * nodes (`machine.root`), so the inspector page draws exactly the chart the
 * daemon runs: nothing here names a state or an event by hand.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { LIFECYCLE_NAMES } from '../../../machines/lifecycle-names.js';
import type { LifecycleName } from '../../../machines/lifecycle-names.js';

export interface ChartTransition {
  /** The raw XState event type (e.g. `xstate.done.actor.prepare`). */
  event: string;
  /** What a reader wants to see (e.g. `done: prepare`, `after drainDeadline`). */
  label: string;
  /** Target state ids; empty when the transition only runs actions. */
  targets: string[];
  guard: string | null;
  reenter: boolean;
}

export interface ChartNode {
  /** Full XState id, e.g. `lifecycle.online.leaving.draining`. */
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Set when this node is one of the seven lifecycle states of the interface. */
  lifecycleName: LifecycleName | null;
  initial: string | null;
  invokes: Array<{ id: string; src: string }>;
  transitions: ChartTransition[];
  children: ChartNode[];
}

/** Turns XState's generated event types back into what the chart author wrote. */
export function transitionLabel(eventType: string, machineId: string): string {
  let m = /^xstate\.done\.actor\.(.+)$/.exec(eventType);
  if (m) return `done: ${m[1]}`;
  m = /^xstate\.error\.actor\.(.+)$/.exec(eventType);
  if (m) return `error: ${m[1]}`;
  m = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (m) return `after ${m[1]}`;
  if (eventType.startsWith(`xstate.done.state.${machineId}`)) return 'done (all regions final)';
  return eventType;
}

function guardName(guard: unknown): string | null {
  if (!guard) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  const type = (guard as { type?: unknown }).type;
  return typeof type === 'string' ? type : 'guard';
}

function srcName(src: unknown): string {
  if (typeof src === 'string') return src;
  return (src as { id?: string } | undefined)?.id ?? 'inline';
}

function describeNode(node: AnyStateNode, machineId: string): ChartNode {
  const transitions: ChartTransition[] = [];
  for (const [event, list] of node.transitions) {
    for (const t of list) {
      transitions.push({
        event,
        label: transitionLabel(event, machineId),
        targets: (t.target ?? []).map((target: AnyStateNode) => target.id),
        guard: guardName(t.guard),
        reenter: Boolean(t.reenter),
      });
    }
  }
  const key = node.key;
  return {
    id: node.id,
    key,
    type: node.type,
    lifecycleName: (LIFECYCLE_NAMES as readonly string[]).includes(key) ? (key as LifecycleName) : null,
    initial: node.initial?.target?.[0]?.id ?? null,
    invokes: node.invoke.map((inv) => ({ id: inv.id, src: srcName(inv.src) })),
    transitions,
    children: Object.values(node.states).map((child) => describeNode(child as AnyStateNode, machineId)),
  };
}

export function describeMachine(machine: AnyStateMachine): ChartNode {
  return describeNode(machine.root, machine.id);
}
