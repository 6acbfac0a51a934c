/**
 * At most one log line per key per interval, so a flood (a target down, a
 * connection cap hit by thousands of sockets) costs a line a second, not a
 * line a request. The lines in between are counted and reported with the
 * next one (`suppressed`).
 */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly everyMs = 1_000,
    /** Distinct keys remembered; past this the memory starts over (keys come from config, rarely many). */
    private readonly maxKeys = 1_000,
  ) {}

  /** Calls `write(suppressed)` if `key` has not written for `everyMs`; returns whether it did. */
  hit(key: string, write: (suppressed: number) => void, now = Date.now()): boolean {
    const last = this.#last.get(key);
    if (last && now - last.at < this.everyMs) {
      last.suppressed++;
      return false;
    }
    if (!last && this.#last.size >= this.maxKeys) this.#last.clear();
    const suppressed = last?.suppressed ?? 0;
    this.#last.set(key, { at: now, suppressed: 0 });
    write(suppressed);
    return true;
  }
}
