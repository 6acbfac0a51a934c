/** The replacement back-off of `--workers N` (machines/worker-backoff.ts), alone. */
import { describe, expect, it } from 'vitest';
import { exitStreak, replacementDelayMs, WORKER_BACKOFF_BASE_MS, WORKER_BACKOFF_CAP_MS, WORKER_SETTLE_MS } from '../../machines/worker-backoff.js';

describe('worker replacement back-off', () => {
  it('the first replacement of a streak is immediate, then the base doubles up to the cap', () => {
    expect([1, 2, 3, 4, 5].map(replacementDelayMs)).toEqual([0, WORKER_BACKOFF_BASE_MS, 2 * WORKER_BACKOFF_BASE_MS, 4 * WORKER_BACKOFF_BASE_MS, 8 * WORKER_BACKOFF_BASE_MS]);
    expect(replacementDelayMs(9)).toBe(WORKER_BACKOFF_CAP_MS);
    expect(replacementDelayMs(10_000)).toBe(WORKER_BACKOFF_CAP_MS);
    expect(replacementDelayMs(0)).toBe(0);
  });

  it('the streak grows with quick exits and starts again after a settled life', () => {
    expect(exitStreak(0, 5)).toBe(1);
    expect(exitStreak(1, WORKER_SETTLE_MS - 1)).toBe(2);
    expect(exitStreak(7, WORKER_SETTLE_MS)).toBe(1);
    expect(exitStreak(0, WORKER_SETTLE_MS * 10)).toBe(1);
  });
});
