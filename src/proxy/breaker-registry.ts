/**
 * The proxy's circuit breakers, one cockatiel breaker per target. The store
 * saves and restores them as `BreakerRecord`s without knowing the library.
 */
import type { BreakerRecord } from '../../machines/events.js';
import { type CircuitBreakerPolicy, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';

export type BreakerStateName = BreakerRecord['state'];

export type { BreakerRecord };

export interface BreakerOptions {
  /** Consecutive failures that open a breaker. */
  threshold: number;
  /** How long an open breaker refuses traffic before one trial request. */
  halfOpenAfterMs: number;
  /** Which errors count against a target (others pass through uncounted). */
  countsAsFailure: (error: Error) => boolean;
  /** Told about a saved record that could not be used (the breaker starts closed). */
  onInvalidRecord?: (target: string, reason: string) => void;
  /** Told when a breaker changes state through traffic (not when it is seeded or adopted). */
  onStateChange?: (target: string, state: BreakerStateName) => void;
}

const STATE_NAMES: Record<CircuitState, BreakerStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

export const DEFAULT_BREAKER_THRESHOLD = 5;
export const DEFAULT_HALF_OPEN_AFTER_MS = 10_000;

/** What cockatiel 3.2's `toJSON()` holds; checked before it is handed back as `initialState`. */
interface CockatielState {
  ownState: { value: CircuitState; openedAt?: number; attemptNo?: number };
  breakerState: unknown;
}

function asCockatielState(data: unknown): CockatielState | string {
  if (typeof data !== 'object' || data === null) return 'not an object';
  const own = (data as { ownState?: unknown }).ownState;
  if (typeof own !== 'object' || own === null) return 'no ownState';
  const value = (own as { value?: unknown }).value;
  if (value !== CircuitState.Closed && value !== CircuitState.Open) return `unusable state ${String(value)}`;
  if (value === CircuitState.Open) {
    const { openedAt, attemptNo } = own as { openedAt?: unknown; attemptNo?: unknown };
    if (typeof openedAt !== 'number' || !Number.isFinite(openedAt)) return 'open without openedAt';
    if (typeof attemptNo !== 'number' || !Number.isInteger(attemptNo) || attemptNo < 1) return 'open without attemptNo';
  }
  const breakerState = (data as { breakerState?: unknown }).breakerState;
  if (typeof breakerState !== 'number' || !Number.isInteger(breakerState) || breakerState < 0) return 'bad breakerState';
  return data as CockatielState;
}

interface Entry {
  policy: CircuitBreakerPolicy;
  /** The policy's own counter of consecutive failures (`state`: the count). */
  breaker: ConsecutiveBreaker;
  updatedAt: number;
  /** Made once per breaker: records a failure from the fast path in the policy. */
  onFastFailure: (error: unknown) => never | Promise<never>;
}

/**
 * Breakers are made on first use, or from a saved record (`initialState`), so
 * an open breaker stays open across a restart and keeps its remaining
 * cool-down. Breakers of targets that went away stay (and are saved): a peer
 * that comes back finds its record.
 */
export class BreakerRegistry {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly options: BreakerOptions = {
      threshold: DEFAULT_BREAKER_THRESHOLD,
      halfOpenAfterMs: DEFAULT_HALF_OPEN_AFTER_MS,
      countsAsFailure: () => true,
    },
  ) {}

  #create(target: string, initialState?: unknown, updatedAt = Date.now()): Entry {
    const breaker = new ConsecutiveBreaker(this.options.threshold);
    const policy = circuitBreaker(handleWhen(this.options.countsAsFailure), {
      halfOpenAfter: this.options.halfOpenAfterMs,
      breaker,
      initialState,
    });
    const countsAsFailure = this.options.countsAsFailure;
    const entry: Entry = {
      policy,
      breaker,
      updatedAt,
      onFastFailure: (error: unknown) => {
        if (!(error instanceof Error) || !countsAsFailure(error)) throw error;
        // Replayed through the policy so it counts (and may open) exactly as
        // if the call had gone through execute(); the caller sees the error.
        return policy.execute(() => Promise.reject(error)).then(
          () => {
            throw error;
          },
          () => {
            throw error;
          },
        );
      },
    };
    policy.onStateChange((state) => {
      entry.updatedAt = Date.now();
      this.options.onStateChange?.(target, STATE_NAMES[state]);
    });
    this.#entries.set(target, entry);
    return entry;
  }

  /**
   * Runs one call under the target's breaker. While the breaker is closed
   * with no failure counted — nearly every request — the call runs directly
   * (cockatiel's execute costs ~7 % of CPU per request); only a failure is
   * replayed into the policy. Otherwise the policy runs it (half-open trial,
   * counting successes after failures, refusing while open: BrokenCircuitError).
   */
  run<T>(target: string, fn: () => Promise<T>): Promise<T> {
    const entry = this.#entries.get(target) ?? this.#create(target);
    if (entry.policy.state === CircuitState.Closed && entry.breaker.state === 0) return fn().then(undefined, entry.onFastFailure);
    return entry.policy.execute(fn);
  }

  /** The breaker of a target, made on first use. */
  get(target: string): CircuitBreakerPolicy {
    return (this.#entries.get(target) ?? this.#create(target)).policy;
  }

  /**
   * As an operator sees it: an open breaker whose cool-down has passed is
   * half-open (cockatiel moves it there on the next call).
   */
  stateOf(target: string, now?: number): BreakerStateName {
    const entry = this.#entries.get(target);
    return entry ? this.#effective(entry.policy, now) : 'closed';
  }

  /** Whether a request may be sent to this target now. */
  admits(target: string, now?: number): boolean {
    const s = this.stateOf(target, now);
    return s === 'closed' || s === 'half-open';
  }

  /** `now` defaults to the clock, read only for an open breaker (the request path asks with every pick). */
  #effective(policy: CircuitBreakerPolicy, now?: number): BreakerStateName {
    switch (policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Isolated:
        return 'isolated';
      case CircuitState.Open: {
        const { ownState } = policy.toJSON() as CockatielState;
        return (now ?? Date.now()) - (ownState.openedAt ?? 0) >= this.options.halfOpenAfterMs ? 'half-open' : 'open';
      }
    }
  }

  /** Current state of every breaker, for snapshots. */
  exportAll(): BreakerRecord[] {
    const now = Date.now();
    return [...this.#entries].map(([target, { policy, updatedAt }]) => ({
      target,
      state: this.#effective(policy, now),
      data: policy.toJSON(),
      updatedAt,
    }));
  }

  /** Seeds breakers from a snapshot, before any traffic. */
  restoreAll(records: BreakerRecord[]): void {
    for (const r of records) {
      const state = asCockatielState(r.data);
      if (typeof state === 'string') {
        this.options.onInvalidRecord?.(r.target, state);
        continue;
      }
      this.#create(r.target, state, Number.isFinite(r.updatedAt) ? r.updatedAt : Date.now());
    }
  }

  /**
   * `--workers N`: takes each record newer than what this registry knows of
   * its target (another worker saw the target more recently, and the
   * primary's merge passed it on), so a target one worker found dead is
   * refused by every worker, not tried by each until it trips on its own.
   * Returns the records taken.
   */
  adopt(records: BreakerRecord[]): BreakerRecord[] {
    const taken: BreakerRecord[] = [];
    for (const r of records) {
      const entry = this.#entries.get(r.target);
      if (entry ? !(r.updatedAt > entry.updatedAt) : r.state === 'closed') continue;
      // cockatiel exports a half-open breaker as open with its cool-down long
      // passed, so that one is taken as half-open here too; a bad record is not.
      const state = asCockatielState(r.data);
      if (typeof state === 'string') continue;
      this.#create(r.target, state, r.updatedAt);
      taken.push(r);
    }
    return taken;
  }

  /** `{ target, state }` for /state and /metrics. */
  list(): Array<{ target: string; state: BreakerStateName }> {
    const now = Date.now();
    return [...this.#entries].map(([target, { policy }]) => ({ target, state: this.#effective(policy, now) }));
  }
}

/**
 * What the rest of the node (store, admin, the chart's applyRestored) needs of
 * the breakers: the in-process registry and, with `--workers N`, the merge of
 * every worker's reports (src/workers/merged-breakers.ts) both give it.
 */
export type BreakerStates = Pick<BreakerRegistry, 'exportAll' | 'restoreAll' | 'list'>;
