/**
 * What the daemon's services share. Built once by the composition root
 * (`daemon.ts`) and handed to each area factory. Data that flows between
 * services goes through the chart (events, actor input and output, context);
 * what is here is either fixed for the process's life or an object whose
 * owner is named below. Nothing here is a mailbox: no service waits for
 * another to write a field (the bound addresses, once `bound`, are now the
 * chart's context: PROXY/ADMIN/MESH.LISTENING).
 */
import type { Config } from './config/schema.js';
import type { Logger } from './log/logger.js';
import type { Metrics } from './observability/metrics.js';
import type { PeerTable } from './routing/peer-table.js';
import type { BreakerStates } from './proxy/breaker-registry.js';
import type { InFlightTracker } from './proxy/in-flight-tracker.js';
import type { LifecycleView } from './observability/lifecycle-view.js';
import type { StateStore } from './store/state-store.js';
import type { MdnsStatus } from './discovery/mdns-status.js';
import type { EtcdRegistryStatus } from './registry/registry-status.js';
import type { RestartState } from './restart/restart-state.js';
import type { WorkerInfo } from './workers/worker-pool.js';

export interface NodeRuntime {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Written only by the chart's actions (applyPeer*, applyRestored); read by the proxy, mesh, store and admin. */
  readonly peers: PeerTable;
  /** Owned by the proxy (it trips them); seeded by the chart's applyRestored; read by the store and admin. */
  readonly breakers: BreakerStates;
  /** Owned by the proxy; read-only elsewhere (admin /state and /metrics, the daemon's log lines). */
  readonly tracker: InFlightTracker;
  /** A read-only window on the chart for the admin, inspector and recorder. */
  readonly lifecycle: LifecycleView;
  /**
   * Opened by `prepare`; null before that or when start-up failed. Stays here
   * rather than in the chart's context because it is a live handle, not data:
   * the snapshot timer, final persist, transition recorder, the daemon's
   * `recordLeaseId` and the admin's /state (runId) all use the one connection.
   */
  store: StateStore | null;
  /** Registration status for `/state`, owned (and updated) by the registry area when `--etcd` is given; set before start. */
  registry?: { etcd: EtcdRegistryStatus | null };
  /** Discovery status for `/state`, owned (and updated) by the discovery area; set before start. */
  discovery?: { mdns: MdnsStatus | null };
  /** Hot restart: inherited and live listeners, takeover info; set by the composition root. */
  readonly restart?: RestartState;
  /** `--workers N`: the data-plane processes, for `/state`; unset when this process serves. */
  workers?: () => WorkerInfo[];
}
