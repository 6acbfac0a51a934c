/**
 * Proxy area: the `proxyServer` actor the chart invokes on `online`, with the
 * forwarding engine chosen by `--proxy-engine`, and the breaker registry the
 * composition root shares with the store.
 */
import path from 'node:path';
import v8 from 'node:v8';
import type { Logger } from '../log/logger.js';
import type { Shared } from '../runtime.js';
import type { ReadonlyPeers } from '../routing/peer-table.js';
import type { RestartState } from '../restart/restart-state.js';
import { InFlightTracker, type InFlightView } from './in-flight-tracker.js';
import type { AreaProvision } from '../areas/provision.js';
import { BreakerRegistry, DEFAULT_BREAKER_THRESHOLD, DEFAULT_HALF_OPEN_AFTER_MS } from './breaker-registry.js';
import type { ForwardEngine } from './forward-engine.js';
import { ForwardError } from './forward-engine.js';
import type { ForwardAttempt, ForwardedResponse } from './forward-engine.js';
import { UndiciEngine } from './engines/undici-engine.js';
import { createProxyServerLogic } from './proxy-server.js';
import { redactTarget } from './error-responses.js';
import { MergedBreakers } from '../workers/merged-breakers.js';
import { createWorkerPoolLogic, type PendingReplacement, type WorkerInfo, type WorkerPool } from '../workers/worker-pool.js';

/**
 * V8's allocation-site pretenuring falls into a feedback loop on the proxy's
 * per-request objects (they get allocated straight into old space: 37 MB/s
 * promoted, most of the GC time and the p99 tail). Turned off process-wide
 * before the first request; measured in docs/performance.md.
 */
v8.setFlagsFromString('--no-allocation-site-pretenuring');

/**
 * The http-proxy engine, loaded (with http-proxy-3) on its first use only:
 * a node on the default undici engine never pays for it.
 */
class LazyHttpProxyEngine implements ForwardEngine {
  readonly name = 'http-proxy' as const;
  #engine: Promise<ForwardEngine> | null = null;

  #load(): Promise<ForwardEngine> {
    return (this.#engine ??= import('./engines/http-proxy-engine.js').then((m) => new m.HttpProxyEngine()));
  }

  async forward(a: ForwardAttempt): Promise<ForwardedResponse> {
    return (await this.#load()).forward(a);
  }

  async close(): Promise<void> {
    if (this.#engine) await (await this.#engine).close();
  }
}

export function createEngine(name: 'undici' | 'http-proxy'): ForwardEngine {
  return name === 'http-proxy' ? new LazyHttpProxyEngine() : new UndiciEngine();
}

/**
 * One breaker per target: 5 consecutive transport failures (refused, reset,
 * timeout) open it; after 10 s one trial request may pass (half-open). HTTP
 * answers, even 5xx, are the target's to give and do not count; neither does
 * a client that went away.
 */
export function createBreakerRegistry(logger: Logger): BreakerRegistry {
  return new BreakerRegistry({
    threshold: DEFAULT_BREAKER_THRESHOLD,
    halfOpenAfterMs: DEFAULT_HALF_OPEN_AFTER_MS,
    // Neither a client that went away nor this node running out of file
    // descriptors (failure 'local') is the target's fault.
    countsAsFailure: (e) => e instanceof ForwardError && e.failure !== 'aborted' && e.failure !== 'local',
    onInvalidRecord: (target, reason) =>
      logger.warn({ target, reason }, 'saved circuit breaker not restored; it starts closed'),
    // Rare by nature (a target dying or coming back), and what an operator looks for first.
    onStateChange: (target, state) => {
      const at = { target: redactTarget(target), state };
      if (state === 'open') logger.warn({ ...at, halfOpenAfterMs: DEFAULT_HALF_OPEN_AFTER_MS }, 'circuit breaker opened: the target is refused until its cool-down passes');
      else if (state === 'half-open') logger.info(at, 'circuit breaker half-open: one trial request goes to the target');
      else if (state === 'closed') logger.info(at, 'circuit breaker closed: the target answers again');
    },
  });
}

export interface ProxyAreaDeps {
  readonly peers: ReadonlyPeers;
  /** The proxy trips them; the composition root seeds them (applyRestored) and the store reads them. */
  readonly breakers: BreakerRegistry | MergedBreakers;
  readonly restart: RestartState;
}

/** What the proxy area lets others see: its counts in flight and, with `--workers N`, its workers. */
export interface ProxyStatus {
  readonly inFlight: InFlightView;
  /** Null when this process serves (no `--workers N`, or the pool has not started). */
  readonly workers: () => WorkerInfo[] | null;
  /** `--workers N`: slots whose replacement waits out the back-off; empty otherwise. */
  readonly workersRestarting: () => PendingReplacement[];
}

export function createProxyArea(shared: Shared, { peers, breakers, restart }: ProxyAreaDeps): AreaProvision & ProxyStatus {
  const tracker = new InFlightTracker();
  const rt = { ...shared, peers, tracker, restart };
  // --workers N: the data plane runs in N processes supervised from here.
  if (breakers instanceof MergedBreakers) {
    let running: WorkerPool | null = null;
    const pool = createWorkerPoolLogic(rt, breakers, path.join(import.meta.dirname, 'worker.js'), (started) => (running = started));
    return { actors: { proxyServer: pool }, inFlight: tracker, workers: () => running?.list() ?? null, workersRestarting: () => running?.pending() ?? [] };
  }
  return {
    inFlight: tracker,
    workers: () => null,
    workersRestarting: () => [],
    actors: {
      proxyServer: createProxyServerLogic(rt, {
        engine: () => createEngine(rt.config.proxyEngine),
        breakers,
        targetTimeoutMs: rt.config.targetTimeoutMs,
        requestBodyTimeoutMs: rt.config.requestBodyTimeoutMs,
      }),
    },
  };
}
