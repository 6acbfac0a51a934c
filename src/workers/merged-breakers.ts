/**
 * `--workers N`: each worker keeps its own circuit breakers (a breaker is
 * consulted on every request, so it must be local), and the primary merges
 * what they report into the one set the store saves and every new worker
 * starts from.
 *
 * The merge, per target: the record whose state changed most recently wins;
 * on a tie, the more cautious state (open, then half-open, then closed). A
 * breaker's state is what its worker last learned about the target, so the
 * newest observation is the best one: a worker that saw the target fail five
 * times after another saw it answer knows more, and one whose half-open trial
 * succeeded after another opened knows more again. A worker that never sent
 * anything to a target has no breaker for it and does not vote.
 */
import type { BreakerRecord, BreakerStateName, BreakerStates } from '../proxy/breaker-registry.js';

const CAUTION: Record<BreakerStateName, number> = { closed: 0, 'half-open': 1, open: 2, isolated: 3 };

/** The merged set: one record per target. */
export function mergeBreakerRecords(sets: Iterable<BreakerRecord[]>): BreakerRecord[] {
  const merged = new Map<string, BreakerRecord>();
  for (const set of sets) {
    for (const r of set) {
      const known = merged.get(r.target);
      if (!known || r.updatedAt > known.updatedAt || (r.updatedAt === known.updatedAt && CAUTION[r.state] > CAUTION[known.state])) {
        merged.set(r.target, r);
      }
    }
  }
  return [...merged.values()];
}

/** The primary's view of the breakers: the restored set plus each worker's latest report. */
export class MergedBreakers implements BreakerStates {
  #restored: BreakerRecord[] = [];
  /** By worker pid; a worker that exited keeps its last report (what it learned still holds). */
  readonly #reported = new Map<number, BreakerRecord[]>();

  constructor(
    /** Validates saved records (and says which are unusable) once, before they go to any worker. */
    private readonly validate: (records: BreakerRecord[]) => BreakerRecord[],
  ) {}

  /** What a worker reported: its whole set. */
  report(pid: number, records: BreakerRecord[]): void {
    this.#reported.set(pid, records);
  }

  exportAll(): BreakerRecord[] {
    return mergeBreakerRecords([this.#restored, ...this.#reported.values()]);
  }

  restoreAll(records: BreakerRecord[]): void {
    this.#restored = this.validate(records);
  }

  list(): Array<{ target: string; state: BreakerStateName }> {
    return this.exportAll().map(({ target, state }) => ({ target, state }));
  }
}
