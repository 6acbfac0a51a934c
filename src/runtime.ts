/**
 * The one thing every area of the daemon gets from the composition root
 * (`daemon.ts`). Everything else an area needs is passed to its factory
 * by name: the owner keeps the writable object and readers get a read-only
 * view (ReadonlyPeers, BreakerStates, InFlightView, LifecycleReader,
 * StoreRunInfo, the areas' status objects). Data that flows between areas
 * goes through the chart (events, actor input and output, context).
 */
import type { Config } from './config/schema.js';
import type { Logger } from './log/logger.js';
import type { Metrics } from './observability/metrics.js';

/**
 * What every area gets, fixed for the process's life: the config is parsed
 * once; the logger and the metrics registry are process-wide sinks.
 */
export interface Shared {
  readonly config: Config;
  readonly logger: Logger;
  /** One registry per process: /metrics must show every area's counters. */
  readonly metrics: Metrics;
}
