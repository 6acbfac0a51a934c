/**
 * What each area of the daemon provides to the chart: actor logic by the
 * chart's actor names, and an optional step for deregistering (goodbye,
 * leave notices, lease revoke) that runs in parallel with the others.
 */
import type { AnyActorLogic } from 'xstate';
import type { DeregisterOutcome } from '../../machines/events.js';

export interface AreaProvision {
  actors?: Record<string, AnyActorLogic>;
  /** Runs when the node starts leaving; must settle within `timeoutMs`. */
  leave?: (timeoutMs: number) => Promise<Partial<DeregisterOutcome>>;
}
