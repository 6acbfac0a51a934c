/**
 * TTL bookkeeping for discovered services (RFC 6762 §5.2, §10). The browser of
 * bonjour-service never expires anything by itself, so the node does: every
 * response refreshes a service's deadline; at 80/85/90/95 % of its TTL the
 * node asks again; a service not refreshed by 100 % has expired. Pure: the
 * caller passes the clock.
 */
const REFRESH_POINTS = [0.8, 0.85, 0.9, 0.95];

interface Lifetime {
  seenAt: number;
  ttlMs: number;
  /** Index into REFRESH_POINTS of the next re-query. */
  nextRefresh: number;
}

export interface LifetimeTick {
  /** Services whose records expired: forget them. */
  expired: string[];
  /** True when at least one service is due a re-query. */
  query: boolean;
}

export class RecordLifetimes {
  readonly #byName = new Map<string, Lifetime>();

  /** A response carried records of `name` with this TTL (seconds, > 0). */
  refresh(name: string, ttlSeconds: number, now: number): void {
    this.#byName.set(name.toLowerCase(), { seenAt: now, ttlMs: ttlSeconds * 1000, nextRefresh: 0 });
  }

  has(name: string): boolean {
    return this.#byName.has(name.toLowerCase());
  }

  forget(name: string): void {
    this.#byName.delete(name.toLowerCase());
  }

  tick(now: number): LifetimeTick {
    const expired: string[] = [];
    let query = false;
    for (const [name, life] of this.#byName) {
      const age = now - life.seenAt;
      if (age >= life.ttlMs) {
        expired.push(name);
        this.#byName.delete(name);
        continue;
      }
      let due = false;
      while (life.nextRefresh < REFRESH_POINTS.length && age >= life.ttlMs * REFRESH_POINTS[life.nextRefresh]!) {
        life.nextRefresh++;
        due = true;
      }
      query ||= due;
    }
    return { expired, query };
  }

  get size(): number {
    return this.#byName.size;
  }
}
