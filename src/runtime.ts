/**
 * What the daemon's services share. Built once by the composition root
 * (`daemon.ts`) and handed to each actor factory; services still talk to one
 * another only through the chart or these values the chart's owner holds.
 */
import type { Config } from './config/schema.js';
import type { Logger } from './log/logger.js';
import type { Metrics } from './admin/metrics.js';
import type { PeerTable } from './routing/peer-table.js';
import type { BreakerRegistry } from './proxy/breaker-registry.js';
import type { InFlightTracker } from './proxy/in-flight-tracker.js';
import type { LifecycleView } from './lifecycle/view.js';
import type { StateStore } from './store/state-store.js';
import type { MdnsStatus } from './discovery/mdns-status.js';
import type { EtcdRegistryStatus } from './registry/registry-status.js';
import type { RestartState } from './restart/restart-state.js';
import type { WorkerInfo } from './workers/worker-pool.js';

export interface NodeRuntime {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  peers: PeerTable;
  breakers: BreakerRegistry;
  tracker: InFlightTracker;
  lifecycle: LifecycleView;
  /** Opened by `starting`; null before that or when start-up failed. */
  store: StateStore | null;
  /** Registration status for `/state`; set by the registry area when `--etcd` is given. */
  registry?: { etcd: EtcdRegistryStatus | null };
  /** Discovery status for `/state`; set by the discovery area. */
  discovery?: { mdns: MdnsStatus | null };
  /** Hot restart: inherited and live listeners, takeover info; set by the composition root. */
  restart?: RestartState;
  /** `--workers N`: the data-plane processes, for `/state`; unset when this process serves. */
  workers?: () => WorkerInfo[];
  /** Addresses actually bound (ports may be 0 in config). */
  bound: { proxy: string | null; admin: string | null; mesh: number | null };
}
