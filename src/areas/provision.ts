/**
 * What each area of the daemon provides to the chart: actor logic by the
 * chart's actor names, and an optional step for deregistering (goodbye,
 * leave notices, lease revoke) that runs in parallel with the others.
 */
import type { DeregisterOutcome } from '../../machines/events.js';
import type { DeregisterInput, LifecycleActors } from '../../machines/lifecycle.js';

export interface AreaProvision {
  /** Some of the chart's actors: names and logic types are checked against `setup()`. */
  actors?: LifecycleActors;
  /** Runs when the node starts leaving, with the deregister actor's input; must settle within `timeoutMs`. */
  leave?: (input: DeregisterInput) => Promise<Partial<DeregisterOutcome>>;
}
