/**
 * Seam between the proxy's circuit breakers and the store: the store saves
 * and restores `BreakerRecord`s without knowing the breaker library.
 */
export type BreakerStateName = 'closed' | 'open' | 'half-open' | 'isolated';

export interface BreakerRecord {
  /** A proxy target: an upstream origin URL or a peer's `host:port`. */
  target: string;
  state: BreakerStateName;
  /** The library's own serialised state (cockatiel's `toJSON()`). */
  data: unknown;
  updatedAt: number;
}

export interface BreakerRegistry {
  /** Current state of every breaker, for snapshots. */
  exportAll(): BreakerRecord[];
  /** Seeds breakers from a snapshot, before any traffic. */
  restoreAll(records: BreakerRecord[]): void;
  /** `{ target, state }` for /state and /metrics. */
  list(): Array<{ target: string; state: BreakerStateName }>;
}

/** A registry that remembers records until the proxy takes them over. */
export class RecordBreakerRegistry implements BreakerRegistry {
  #records = new Map<string, BreakerRecord>();
  exportAll(): BreakerRecord[] {
    return [...this.#records.values()];
  }
  restoreAll(records: BreakerRecord[]): void {
    for (const r of records) this.#records.set(r.target, r);
  }
  list(): Array<{ target: string; state: BreakerStateName }> {
    return this.exportAll().map(({ target, state }) => ({ target, state }));
  }
}
