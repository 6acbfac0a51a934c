/**
 * Proxy area: the `proxyServer` actor the chart invokes on `online`, with the
 * forwarding engine chosen by `--proxy-engine`, and the breaker registry the
 * composition root shares with the store.
 */
import type { Logger } from '../log/logger.js';
import type { NodeRuntime } from '../runtime.js';
import type { AreaProvision } from '../lifecycle/provided.js';
import { CockatielBreakerRegistry, DEFAULT_BREAKER_THRESHOLD, DEFAULT_HALF_OPEN_AFTER_MS } from './breaker-registry.js';
import type { ForwardEngine } from './forward-engine.js';
import { ForwardError } from './forward-engine.js';
import { HttpProxyEngine } from './engines/http-proxy-engine.js';
import { UndiciEngine } from './engines/undici-engine.js';
import { createProxyServerLogic } from './proxy-server.js';

export function createEngine(name: 'undici' | 'http-proxy'): ForwardEngine {
  return name === 'http-proxy' ? new HttpProxyEngine() : new UndiciEngine();
}

/**
 * One breaker per target: 5 consecutive transport failures (refused, reset,
 * timeout) open it; after 10 s one trial request may pass (half-open). HTTP
 * answers, even 5xx, are the target's to give and do not count; neither does
 * a client that went away.
 */
export function createBreakerRegistry(logger: Logger): CockatielBreakerRegistry {
  return new CockatielBreakerRegistry({
    threshold: DEFAULT_BREAKER_THRESHOLD,
    halfOpenAfterMs: DEFAULT_HALF_OPEN_AFTER_MS,
    countsAsFailure: (e) => e instanceof ForwardError && e.failure !== 'aborted',
    onInvalidRecord: (target, reason) =>
      logger.warn({ target, reason }, `saved circuit breaker for ${target} not restored (${reason}); it starts closed`),
  });
}

export function createProxyArea(rt: NodeRuntime): AreaProvision {
  if (!(rt.breakers instanceof CockatielBreakerRegistry)) {
    throw new Error('the proxy needs a CockatielBreakerRegistry in rt.breakers');
  }
  const breakers = rt.breakers;
  return {
    actors: {
      proxyServer: createProxyServerLogic(rt, {
        engine: () => createEngine(rt.config.proxyEngine),
        breakers,
        targetTimeoutMs: rt.config.targetTimeoutMs,
      }),
    },
  };
}
