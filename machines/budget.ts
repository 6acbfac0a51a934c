/**
 * One shutdown budget, split into slices. Pure arithmetic so the chart, the
 * inspector and tests agree on every deadline.
 *
 * The persist slice is reserved first: whatever happens to the drain, state is
 * always saved. Everything else is measured from the signal.
 */
export interface ShutdownPlan {
  /** The whole budget (`--drain-timeout`), from the signal to exit. */
  budgetMs: number;
  /** Time kept for the final snapshot, taken off the end of the budget. */
  persistReserveMs: number;
  /** From the signal: in-flight requests still running then are cut. */
  drainDeadlineMs: number;
  /** From the signal: keep serving (readiness failing) until then. */
  shutdownDelayMs: number;
  /** Longest the goodbye / leave notices / lease revoke may take. */
  deregisterTimeoutMs: number;
}

const PERSIST_RESERVE_MIN_MS = 200;
const PERSIST_RESERVE_MAX_MS = 2_000;
const DEREGISTER_MAX_MS = 2_000;

export function planShutdown(budgetMs: number, shutdownDelayMs: number): ShutdownPlan {
  const budget = Math.max(0, Math.round(budgetMs));
  const persistReserveMs = Math.min(
    budget,
    Math.max(PERSIST_RESERVE_MIN_MS, Math.min(PERSIST_RESERVE_MAX_MS, Math.round(budget * 0.1))),
  );
  const drainDeadlineMs = budget - persistReserveMs;
  return {
    budgetMs: budget,
    persistReserveMs,
    drainDeadlineMs,
    shutdownDelayMs: Math.min(Math.max(0, Math.round(shutdownDelayMs)), drainDeadlineMs),
    deregisterTimeoutMs: Math.min(DEREGISTER_MAX_MS, drainDeadlineMs),
  };
}
