/**
 * What the admin (/state, /metrics, /events, the inspector) may read of the
 * node: read-only views composed by the composition root (src/daemon.ts)
 * from each owner's own. Nothing here changes what it shows.
 */
import type { Shared } from '../runtime.js';
import type { LifecycleReader } from '../observability/lifecycle-view.js';
import type { ReadonlyPeers } from '../routing/peer-table.js';
import type { BreakerStates } from '../proxy/breaker-registry.js';
import type { InFlightView } from '../proxy/in-flight-tracker.js';
import type { MdnsStatus } from '../discovery/mdns-status.js';
import type { EtcdRegistryStatus } from '../registry/registry-status.js';
import type { PendingReplacement, WorkerInfo } from '../workers/worker-pool.js';

export interface NodeStatus {
  readonly lifecycle: LifecycleReader;
  readonly peers: ReadonlyPeers;
  readonly breakers: Pick<BreakerStates, 'list'>;
  readonly inFlight: InFlightView;
  /** This run's id in the store; null before it is open. */
  runId(): number | null;
  /** Hot restarts behind this process. */
  readonly restarts: number;
  readonly discovery: { readonly mdns: Readonly<MdnsStatus> | null };
  /** Null without `--etcd`. */
  readonly registry: { readonly etcd: Readonly<EtcdRegistryStatus> | null } | null;
  /** `--workers N`: the data-plane processes; null when this process serves. */
  workers(): WorkerInfo[] | null;
  /** `--workers N`: slots whose replacement waits out the back-off. */
  workersRestarting(): PendingReplacement[];
}

/** What every admin route gets. */
export interface AdminContext extends Shared {
  readonly status: NodeStatus;
}
