/**
 * Which macrosteps of the lifecycle actor become transition records.
 *
 * A record is kept when the state value changes, and also when a transition
 * with a target was taken although the value stayed the same (a state was
 * re-entered, e.g. `persisting` retrying the final snapshot). Such a
 * re-entry can change context a guard reads later (`persistAttempts` for
 * `mayRetryPersist`); without it, replay would feed the second persist error
 * to a chart that believes it is the first, and diverge.
 *
 * Targetless transitions (PEER.*, SNAPSHOT.*, PROXY.LISTENING, a further
 * SHUTDOWN while persisting) only assign context no guard reads, so they are
 * not kept: that is checked on every path by test/machine/lifecycle-paths.test.ts.
 */
import type { InspectionEvent } from 'xstate';

export class RecordingRule {
  #reentered = false;

  /** Feed every inspection event of the root actor, in order. */
  note(event: InspectionEvent): void {
    if (event.type !== '@xstate.microstep') return;
    if (event._transitions.some((t) => (t.target?.length ?? 0) > 0)) this.#reentered = true;
  }

  /** Call once per root snapshot; resets for the next macrostep. */
  shouldRecord(previousText: string, nextText: string): boolean {
    const keep = previousText !== nextText || this.#reentered;
    this.#reentered = false;
    return keep;
  }
}
