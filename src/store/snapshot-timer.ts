/**
 * The periodic snapshot while serving. A failed save is reported to the chart
 * (SNAPSHOT.FAILED, which logs it) and retried with a growing delay; a good
 * one is reported as SNAPSHOT.SAVED and the normal interval resumes.
 */
import { fromCallback } from 'xstate';
import type { AnyEventObject } from 'xstate';
import type { LifecycleEvent } from '../../machines/events.js';
import type { Shared } from '../runtime.js';
import type { StoreRun } from './store-run.js';

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 60_000;

/** Delay before retry number `attempt` (1-based): 250 ms, 500 ms, 1 s, … capped at 60 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.max(0, attempt - 1));
}

export function createSnapshotTimer(rt: Shared, run: StoreRun) {
  return fromCallback<AnyEventObject>(({ sendBack }) => {
    const interval = rt.config.snapshotIntervalMs;
    let attempt = 0;
    let timer: NodeJS.Timeout | null = null;
    let stopped = false;

    const tick = () => {
      if (stopped) return;
      try {
        const { saved, tookMs } = run.save();
        if (attempt > 0) rt.logger.info({ attempts: attempt + 1, tookMs }, 'snapshot saved again after failures');
        else rt.logger.debug({ ...saved, tookMs }, 'snapshot saved');
        attempt = 0;
        sendBack({ type: 'SNAPSHOT.SAVED', at: saved.savedAt } satisfies LifecycleEvent);
        timer = setTimeout(tick, interval);
      } catch (error) {
        attempt++;
        rt.metrics.snapshots.inc({ result: 'failed' });
        sendBack({ type: 'SNAPSHOT.FAILED', error: (error as Error).message, attempt } satisfies LifecycleEvent);
        timer = setTimeout(tick, retryDelayMs(attempt));
      }
    };

    timer = setTimeout(tick, interval);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  });
}
