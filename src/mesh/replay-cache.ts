/**
 * Remembers which (node id, sequence number) pairs were already accepted, for
 * as long as their timestamp could still pass the window check. Bounded: when
 * full, the oldest entry is dropped and its timestamp becomes a floor below
 * which everything counts as a replay, so eviction never opens a hole.
 */
export class ReplayCache {
  /** key → expiry (epoch ms); Map keeps insertion order for eviction. */
  readonly #seen = new Map<string, { expiresAt: number; ts: number }>();
  #floorTs = -1;

  constructor(
    readonly windowMs: number,
    readonly maxEntries = 10_000,
  ) {}

  /** True when the message was seen before (or is below the eviction floor); otherwise records it. */
  checkAndRemember(id: string, seq: number, ts: number, now: number): boolean {
    this.#expire(now);
    const key = `${id}\u0000${seq}`;
    if (this.#seen.has(key) || ts <= this.#floorTs) return true;
    if (this.#seen.size >= this.maxEntries) {
      const [oldestKey, oldest] = this.#seen.entries().next().value as [string, { expiresAt: number; ts: number }];
      this.#seen.delete(oldestKey);
      this.#floorTs = Math.max(this.#floorTs, oldest.ts);
    }
    // A message is stale once receiver time passes ts + window; until then it must be remembered.
    this.#seen.set(key, { expiresAt: ts + this.windowMs, ts });
    return false;
  }

  #expire(now: number): void {
    // Entries are in insertion order, not expiry order; a bounded sweep keeps this O(1) amortised.
    let budget = 64;
    for (const [key, entry] of this.#seen) {
      if (budget-- <= 0) break;
      if (entry.expiresAt < now) this.#seen.delete(key);
    }
  }

  get size(): number {
    return this.#seen.size;
  }
}
