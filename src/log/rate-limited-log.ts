/**
 * At most one log line per key per interval, so a flood (a target down, a
 * connection cap hit by thousands of sockets, garbage datagrams, a repeated
 * signal) costs a counter increment each and a line now and then, not a line
 * each. The first line of a key always goes out; the lines in between are
 * counted and reported with the next one (`suppressed`).
 */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly everyMs = 1_000,
    /** Distinct keys remembered; past this the memory starts over (keys come from config, rarely many). */
    private readonly maxKeys = 1_000,
  ) {}

  /** Null when the line must be left out, else how many were left out since the last one. */
  admit(key: string, now = Date.now()): number | null {
    const last = this.#last.get(key);
    if (last && now - last.at < this.everyMs) {
      last.suppressed++;
      return null;
    }
    if (!last && this.#last.size >= this.maxKeys) this.#last.clear();
    this.#last.set(key, { at: now, suppressed: 0 });
    return last?.suppressed ?? 0;
  }

  /** Calls `write(suppressed)` if `key` has not written for `everyMs`; returns whether it did. */
  hit(key: string, write: (suppressed: number) => void, now = Date.now()): boolean {
    const suppressed = this.admit(key, now);
    if (suppressed === null) return false;
    write(suppressed);
    return true;
  }
}
