/**
 * A warning that can come thousands of times a second (every request while
 * the node is out of file descriptors) is logged at most once per interval,
 * with how many were left out since the last line.
 */
import type { Logger } from '../log/logger.js';

export class RateLimitedLog {
  #lastAt = -Infinity;
  #suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    if (t - this.#lastAt < this.intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#lastAt = t;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.logger.warn({ ...fields, suppressed }, msg);
  }
}
