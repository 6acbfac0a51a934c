/**
 * Sequence numbers that keep increasing across restarts without being stored:
 * they start from the wall clock in microseconds, so a restarted node's
 * numbers are above everything it sent before (unless it sent more than a
 * thousand messages per millisecond, which a mesh never does). Within one run
 * they never go backwards, even if the clock does.
 */
export class SequenceSource {
  #last = 0;
  constructor(private readonly now: () => number = Date.now) {}

  next(): number {
    this.#last = Math.max(this.#last + 1, this.now() * 1000);
    return this.#last;
  }
}
