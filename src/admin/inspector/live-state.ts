/**
 * The `state` events of `/events`: the `/state` JSON plus what the inspector
 * page needs to draw and count down (full state value, server clock, shutdown
 * delay). Sent after every transition and on a timer — every 250 ms while the
 * node shuts down, so in-flight counts and the countdown stay live, and every
 * second otherwise.
 */
import type { StateValue } from 'xstate';
import type { AdminContext } from '../node-status.js';
import { stateView } from '../state-view.js';

export const SHUTDOWN_TICK_MS = 250;
export const SERVING_TICK_MS = 1_000;

export function liveState(admin: AdminContext) {
  const snap = admin.status.lifecycle.snapshot();
  const ctx = snap?.context;
  return {
    ...stateView(admin),
    /** Server clock, so the page's countdown does not depend on the browser's. */
    now: Date.now(),
    stateValue: (snap?.value ?? 'starting') as StateValue,
    shutdownDelayEndsAt: ctx && ctx.shutdownAt !== null ? ctx.shutdownAt + ctx.shutdownDelayMs : null,
    drainTimeoutMs: admin.config.drainTimeoutMs,
  };
}

export type LiveState = ReturnType<typeof liveState>;

/**
 * Keeps one SSE response supplied with `state` events until the returned
 * function is called. `send` is the stream's own writer.
 */
export function startStateTicker(admin: AdminContext, send: (event: string, data: unknown) => void): () => void {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    send('state', liveState(admin));
    const shuttingDown = admin.status.lifecycle.snapshot()?.context.shutdownAt != null;
    timer = setTimeout(tick, shuttingDown ? SHUTDOWN_TICK_MS : SERVING_TICK_MS);
    timer.unref();
  };
  // A transition changes what the page shows at once; do not wait for the timer.
  const unsubscribe = admin.status.lifecycle.subscribe({
    transition: () => {
      if (timer) clearTimeout(timer);
      tick();
    },
  });
  tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    unsubscribe();
  };
}
