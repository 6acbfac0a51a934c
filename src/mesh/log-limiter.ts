/**
 * Rate-limits log lines per key (e.g. per verdict), so a flood of garbage
 * datagrams costs a counter increment each and a log line now and then,
 * not a log line each. The first line of a key always goes out.
 */
export class LogLimiter {
  readonly #state = new Map<string, { last: number; suppressed: number }>();
  constructor(
    private readonly intervalMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns null when the line must be suppressed, else how many were suppressed since the last one. */
  admit(key: string): number | null {
    const t = this.now();
    const s = this.#state.get(key);
    if (!s) {
      this.#state.set(key, { last: t, suppressed: 0 });
      return 0;
    }
    if (t - s.last < this.intervalMs) {
      s.suppressed++;
      return null;
    }
    const suppressed = s.suppressed;
    s.last = t;
    s.suppressed = 0;
    return suppressed;
  }
}
