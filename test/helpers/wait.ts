/**
 * Polling for what a test can only observe by asking again (an admin
 * endpoint, a counter another task bumps): one loop, one timeout message.
 */

export interface UntilOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between probes (default 20 ms); smaller when the test measures how soon. */
  everyMs?: number;
}

/**
 * Probes until it returns something truthy and resolves with that value;
 * rejects naming `what` once `timeoutMs` has passed (checked after each probe,
 * so the probe always gets its say).
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  { timeoutMs = 10_000, everyMs = 20 }: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
