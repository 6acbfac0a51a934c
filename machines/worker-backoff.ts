/**
 * `--workers N`: how soon a worker that died while serving is replaced.
 * Pure arithmetic, so the chart decides the delay from what WORKER.EXITED
 * carries and the replay tests can show it.
 *
 * A worker slot that keeps dying must not make the node fork as fast as it
 * can (a worker that crashes on every request, a loop of OOM kills): like
 * systemd's or pm2's restart back-off, the first replacement is immediate,
 * and each further one whose predecessor died before it settled waits twice
 * as long as the last, up to a cap. A worker that lived past the settle time
 * was healthy: its death starts a new streak.
 */

/** A worker that lived at least this long was healthy; its death starts a new streak. */
export const WORKER_SETTLE_MS = 10_000;
/** The wait before the second replacement of a streak; doubled for each one after. */
export const WORKER_BACKOFF_BASE_MS = 100;
/** The longest wait before a replacement. */
export const WORKER_BACKOFF_CAP_MS = 10_000;

/** Exits in a row of one slot: this one included, 1 when the worker had settled. */
export function exitStreak(previousStreak: number, uptimeMs: number): number {
  return uptimeMs >= WORKER_SETTLE_MS ? 1 : previousStreak + 1;
}

/** How long to wait before replacing the worker whose exit made the slot's streak `streak`. */
export function replacementDelayMs(streak: number): number {
  if (streak <= 1) return 0;
  // Capped before the power grows past what a double holds exactly.
  const doublings = Math.min(streak - 2, 30);
  return Math.min(WORKER_BACKOFF_CAP_MS, WORKER_BACKOFF_BASE_MS * 2 ** doublings);
}
