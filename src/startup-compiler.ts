/**
 * V8's optimising compiler (TurboFan) is held back while a node starts and
 * let go by its first proxy client (or a while after it serves: see
 * src/daemon.ts). Start-up code runs once, so optimising it buys nothing,
 * but the first optimised compile costs 5–10 MiB of RSS for good: the
 * compiler's own pages of the `node` binary and the memory its background
 * threads allocate (measured: 71 → 61 MiB idle with 24 start-up functions
 * no longer optimised, and 66 → 60 with mDNS on, whose module loading just
 * after serving was enough to start it; docs/performance.md, "Memory").
 * From the first client on, TurboFan optimises the request path exactly as
 * before.
 *
 * `v8.setFlagsFromString` after start-up is outside Node's promise, but
 * V8 reads this flag each time it decides whether to optimise a function;
 * the flag is left alone when the runtime was started without TurboFan.
 */
import { setFlagsFromString } from 'node:v8';

const OFF_BY_OPERATOR = /^--(no-opt|no-turbofan|jitless)$/;
let deferred = false;

export function deferOptimisingCompiler(): void {
  if (process.execArgv.some((arg) => OFF_BY_OPERATOR.test(arg))) return;
  setFlagsFromString('--no-opt');
  deferred = true;
}

/** Idempotent: called by whichever comes first. */
export function resumeOptimisingCompiler(): void {
  if (!deferred) return;
  deferred = false;
  setFlagsFromString('--opt');
}
