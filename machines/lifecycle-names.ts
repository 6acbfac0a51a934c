/**
 * The seven lifecycle names of the interface, read off a snapshot of the chart.
 * Used by logs, `/state`, `/readyz`, the inspector and replay so that all of
 * them say the same thing.
 */
import type { StateValue } from 'xstate';

export const LIFECYCLE_NAMES = [
  'starting',
  'restoring',
  'serving',
  'draining',
  'deregistering',
  'persisting',
  'stopped',
] as const;
export type LifecycleName = (typeof LIFECYCLE_NAMES)[number];

type ValueObject = { [key: string]: StateValue };

function child(value: StateValue, key: string): StateValue | undefined {
  return typeof value === 'object' ? (value as ValueObject)[key] : undefined;
}

/**
 * Active lifecycle names, in a fixed order. A parallel region that has
 * reached its final state is finished and no longer named (the node is then
 * only `draining`, say, once its deregistration is done).
 */
export function lifecycleNames(value: StateValue): LifecycleName[] {
  if (typeof value === 'string') {
    if (value === 'online') return ['serving'];
    return (LIFECYCLE_NAMES as readonly string[]).includes(value) ? [value as LifecycleName] : [];
  }
  const online = child(value, 'online');
  if (online === undefined) return [];
  // Handing over (hot restart) is still serving: the listeners accept, readiness holds.
  if (online === 'serving' || online === 'handingOver') return ['serving'];
  // Binding the proxy listener is the last step of getting ready: not serving yet.
  if (online === 'binding') return ['restoring'];
  // `online.done` is a transient final state that hands over to persisting.
  if (online === 'done') return ['persisting'];
  // Handed over: draining without deregistering, then persisting.
  const handedOver = child(online, 'handedOver');
  if (handedOver !== undefined) return handedOver === 'drained' ? ['persisting'] : ['draining'];
  const leaving = child(online, 'leaving');
  if (leaving === undefined) return [];
  const names: LifecycleName[] = [];
  if (child(leaving, 'deregistering') !== 'done') names.push('deregistering');
  if (child(leaving, 'draining') !== 'drained') names.push('draining');
  if (names.length === 0) names.push('persisting');
  return names;
}

/** The text the inspector and logs show: parallel names joined by ` + `. */
export function lifecycleLabel(value: StateValue): string {
  return lifecycleNames(value).join(' + ');
}

/** A stable string form of a full state value, e.g. `online.leaving.{deregistering.done,draining.waiting}`. */
export function stateValueText(value: StateValue): string {
  if (typeof value === 'string') return value;
  const parts = Object.keys(value)
    .sort()
    .map((key) => {
      const sub = (value as ValueObject)[key];
      return sub === undefined || (typeof sub === 'object' && Object.keys(sub).length === 0)
        ? key
        : `${key}.${stateValueText(sub)}`;
    });
  return parts.length === 1 ? parts[0]! : `{${parts.join(',')}}`;
}
