/**
 * This node's registration in etcd, from the registrar actor's start to the
 * leave step's lease revoke.
 *
 * Two loops run while serving on one client, each with its own capped,
 * logged backoff:
 * - keepRegistered (here): revoke a lease left by a crashed previous run (its
 *   id is kept in the store's meta), grant a lease (kept alive by the client),
 *   put `<prefix><node id>` under it, remember the lease id. A lost lease (etcd
 *   down longer than the TTL, or revoked by someone) starts it again.
 * - the peer watch (etcd-discovery.ts): other nodes' keys become PEER.FOUND /
 *   PEER.LEFT for the chart.
 *
 * The actor's cleanup (when `serving` ends) only stops events; the lease is
 * revoked by `leave`, which the chart runs right after. Should `serving` end
 * without a leave step (the proxy failed), the cleanup revokes after a short
 * grace so the key never outlives the node by a TTL.
 */
import { ExponentialBackoff, halfJitterGenerator, handleAll, retry } from 'cockatiel';
import { EtcdLeaseInvalidError, GRPCNotFoundError } from 'etcd3';
import type { Etcd3, Lease } from 'etcd3';
import type { LifecycleEvent } from '../../machines/events.js';
import type { RegistrarInput } from '../../machines/lifecycle.js';
import { errorMessage } from '../../machines/error-message.js';
import type { Logger } from '../log/logger.js';
import type { Shared } from '../runtime.js';
import type { RestartState } from '../restart/restart-state.js';

/** What the registration needs beyond the shared parts: the hot restart's state and this node's start time (its record). */
export interface RegistrationDeps extends Shared {
  readonly restart: RestartState;
  readonly startedAt: number;
}
import { createEtcdClient } from './etcd-client.js';
import { throwIfAborted, withTimeout } from './bounded.js';
import { EtcdPeerWatch } from './etcd-discovery.js';
import { encodeNodeRecord } from './node-record.js';
import type { NodeRecord } from './node-record.js';
import type { EtcdRegistryStatus } from './registry-status.js';
import { LEASE_TTL_SEC, initialEtcdStatus } from './registry-status.js';

export { LEASE_TTL_SEC };
/** The lease revoke at shutdown never takes longer than this. */
export const REVOKE_CAP_MS = 1_000;
export { LEASE_META_KEY } from './registry-status.js';
/** If `serving` ends and no leave step claims the lease within this, the cleanup revokes it. */
const ORPHAN_GRACE_MS = 50;
/** Doubling delays with half jitter (250-500 ms, 500-1000 ms, … capped at 10 s): growing, as the log shows. */
const REGISTER_BACKOFF = { initialDelay: 500, maxDelay: 10_000, generator: halfJitterGenerator };

type Send = (event: LifecycleEvent) => void;

export interface LeaveResult {
  leaseRevoked: boolean;
}

export class EtcdRegistration {
  readonly status: EtcdRegistryStatus;
  readonly #rt: RegistrationDeps;
  readonly #log: Logger;
  readonly #key: string;
  #client: Etcd3 | null = null;
  #abort: AbortController | null = null;
  #send: Send | null = null;
  /** The addresses the chart gave the registrar (the proxy is bound by then). */
  #self: RegistrarInput | null = null;
  /** The lease id the store holds (the chart keeps it there): what a crash would leave behind. */
  #recordedLeaseId: string | null = null;
  #lease: Lease | null = null;
  readonly #watch: EtcdPeerWatch;
  #leaving: Promise<LeaveResult> | null = null;
  /** Set as the leave step begins (before its first await), read by the client's watch backoff. */
  #closing = false;
  #orphanTimer: NodeJS.Timeout | null = null;
  #keepaliveFailing = false;
  /** Leases granted by this process: a lost one is cleaned up without blaming a previous run. */
  readonly #grantedHere = new Set<string>();

  /** `status` is made by the registry area before this module (and etcd3) is loaded. */
  constructor(rt: RegistrationDeps, status?: EtcdRegistryStatus) {
    this.#rt = rt;
    this.#log = rt.logger.child({ component: 'etcd' });
    this.#key = `${rt.config.etcdPrefix}${rt.config.nodeId}`;
    this.status = status ?? initialEtcdStatus(rt.config.etcd, this.#key, LEASE_TTL_SEC);
    this.#watch = new EtcdPeerWatch({
      prefix: rt.config.etcdPrefix,
      ownKey: this.#key,
      nodeId: rt.config.nodeId,
      selfAddress: () => this.#self?.proxyAddress ?? null,
      client: () => this.#client,
      status: this.status,
      log: this.#log,
      send: (event) => this.#send?.(event),
      onOwnKeyDeleted: () => {
        if (this.#leaving) return;
        this.#log.warn({ key: this.#key }, "this node's etcd key was deleted by someone else: putting it back");
        void this.#putBack();
      },
    });
  }

  /** Whether start() ran (the registry area loads this module lazily). */
  get started(): boolean {
    return this.#client !== null;
  }

  /** The registrar actor started (entering `serving`), with the addresses to register. */
  start(send: Send, self: RegistrarInput): void {
    // Back in `serving` after a hot restart that failed: the registration never stopped.
    if (this.#client && !this.#leaving) {
      this.#send = send;
      return;
    }
    if (this.#leaving || this.#client) return;
    this.#send = send;
    this.#self = self;
    this.#recordedLeaseId = self.etcdLeaseId;
    this.#abort = new AbortController();
    this.#client = createEtcdClient(this.#rt.config.etcd, { closing: () => this.#closing });
    this.#log.info({ endpoints: this.#rt.config.etcd, key: this.#key }, 'registering in etcd');
    void this.#keepRegistered(this.#abort.signal);
    void this.#watch.run(this.#abort.signal);
  }

  /** The registrar actor stopped (`serving` ended): no more events; the lease is left to `leave`. */
  stop(): void {
    this.#send = null;
    if (this.#leaving || !this.#client) return;
    // Hot restart under way: the lease stays alive for the successor (see handOver).
    if (this.#rt.restart.presenceHeld) return;
    this.#orphanTimer = setTimeout(() => {
      this.#orphanTimer = null;
      if (this.#leaving) return;
      this.#log.warn('serving ended without a deregistration step: revoking the etcd lease now');
      void this.leave(REVOKE_CAP_MS);
    }, ORPHAN_GRACE_MS);
  }

  /**
   * Hot restart: the successor holds the key now (its put moved the key to
   * its own lease). Stop keeping this lease alive and close, without revoking:
   * the key never disappears; this lease just expires. Never throws.
   */
  handOver(): void {
    if (this.#leaving || !this.#client) return;
    this.#closing = true;
    this.#abort?.abort();
    this.#send = null;
    const client = this.#client;
    const lease = this.#lease;
    this.#client = null;
    this.#lease = null;
    this.status.registered = false;
    lease?.release();
    void this.#watch.cancel().catch(() => undefined);
    client.close();
    this.#log.info({ key: this.#key, leaseId: this.status.leaseId }, 'etcd: registration left to the hot-restart successor; lease not revoked');
  }

  /** Revoke the lease (the key disappears at once), stop watching, close the client. Never rejects. */
  leave(timeoutMs: number): Promise<LeaveResult> {
    if (this.#orphanTimer) clearTimeout(this.#orphanTimer);
    this.#orphanTimer = null;
    this.#leaving ??= this.#leave(Math.max(0, Math.min(timeoutMs, REVOKE_CAP_MS)));
    return this.#leaving;
  }

  async #leave(budgetMs: number): Promise<LeaveResult> {
    this.#closing = true;
    this.#abort?.abort();
    this.#send = null;
    const client = this.#client;
    if (!client) return { leaseRevoked: false };
    const started = Date.now();
    const lease = this.#lease;
    // Unwatch in parallel: it needs etcd too, and must not delay the revoke.
    const unwatched = withTimeout(this.#watch.cancel(), budgetMs, 'watch cancel').catch(() => undefined);

    let leaseRevoked = false;
    if (!lease) {
      this.#log.info({ key: this.#key }, 'no etcd lease to revoke: this node was never registered');
    } else {
      try {
        await withTimeout(lease.revoke({ deadline: Date.now() + budgetMs }), budgetMs, `no answer from etcd in ${budgetMs} ms`);
        // revoke() returns quietly when the grant itself had failed: then nothing was revoked.
        const leaseId = await lease.grant().then(
          (id) => id,
          () => null,
        );
        leaseRevoked = leaseId !== null;
        if (leaseRevoked) {
          this.#log.info(
            { leaseId, key: this.#key, tookMs: Date.now() - started },
            'etcd lease revoked: key removed',
          );
          this.status.leaseId = null;
          // The chart records the revoke from the deregister outcome (leaseRevoked).
          this.#recordedLeaseId = null;
        }
      } catch (error) {
        const message = errorMessage(error);
        this.status.lastError = message;
        this.#log.warn(
          { leaseId: this.status.leaseId, key: this.#key, tookMs: Date.now() - started, error: message, ttlSec: LEASE_TTL_SEC },
          'etcd lease not revoked: the key stays until its TTL runs out, and the next start revokes it',
        );
      }
    }
    this.status.registered = false;
    this.status.connected = false;
    await unwatched;
    this.#lease = null;
    this.#client = null;
    client.close();
    return { leaseRevoked };
  }

  // ---- registration ---------------------------------------------------------

  async #keepRegistered(signal: AbortSignal): Promise<void> {
    // The retry delay's timer is unref'd: an abandoned wait never keeps a leaving process alive.
    const policy = retry(handleAll, {
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: new ExponentialBackoff(REGISTER_BACKOFF),
    }).dangerouslyUnref();
    const listener = policy.onRetry((r) => {
      if (signal.aborted) return;
      const message = 'error' in r ? errorMessage(r.error) : 'no result';
      const delay = Math.round(r.delay);
      this.status.failedAttempts = r.attempt;
      this.status.lastError = message;
      this.status.connected = false;
      this.#log.warn(
        { attempt: r.attempt, retryInMs: delay, error: message, endpoints: this.#rt.config.etcd },
        'etcd registration failed; serving without it, trying again',
      );
    });
    try {
      await policy.execute(() => this.#register(signal), signal);
    } catch (error) {
      if (!signal.aborted) this.#log.error({ error: errorMessage(error) }, 'etcd registration gave up');
    } finally {
      listener.dispose();
    }
  }

  async #register(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const client = this.#client;
    if (!client) throw new Error('etcd client closed');
    const self = this.#selfRecord();
    await this.#revokeStaleLease(client, signal);
    throwIfAborted(signal);

    const lease = client.lease(LEASE_TTL_SEC);
    // Set before the grant resolves, so a leave meanwhile revokes what is granted.
    this.#lease = lease;
    let leaseId: string;
    try {
      leaseId = await lease.grant();
    } catch (error) {
      if (this.#lease === lease) this.#lease = null;
      throw error;
    }
    throwIfAborted(signal);
    this.#grantedHere.add(leaseId);
    this.status.leaseId = leaseId;
    // Persisted before the put: a crash from here on leaves a lease the next start can revoke.
    this.#persistLeaseId(leaseId);
    try {
      await lease.put(this.#key).value(encodeNodeRecord(self));
    } catch (error) {
      if (this.#lease === lease) this.#lease = null;
      lease.revoke().catch(() => undefined);
      throw error;
    }
    throwIfAborted(signal);

    lease.on('lost', (error) => this.#onLeaseLost(lease, leaseId, error, signal));
    lease.on('keepaliveFailed', (error) => {
      if (this.#keepaliveFailing || this.#lease !== lease) return;
      this.#keepaliveFailing = true;
      this.status.connected = false;
      this.status.lastError = errorMessage(error);
      this.#log.warn(
        { leaseId, error: errorMessage(error), ttlSec: LEASE_TTL_SEC },
        'etcd keep-alive failing; still retrying (the lease lives its TTL without one)',
      );
    });
    lease.on('keepaliveSucceeded', () => {
      if (!this.#keepaliveFailing || this.#lease !== lease) return;
      this.#keepaliveFailing = false;
      this.status.connected = true;
      this.#log.info({ leaseId }, 'etcd keep-alive works again');
    });

    const attempts = this.status.failedAttempts;
    Object.assign(this.status, { registered: true, connected: true, registeredAt: Date.now(), failedAttempts: 0, lastError: null });
    this.#log.info(
      { key: this.#key, leaseId, ttlSec: LEASE_TTL_SEC, record: self, failedAttempts: attempts },
      'registered in etcd',
    );
  }

  #onLeaseLost(lease: Lease, leaseId: string, error: Error, signal: AbortSignal): void {
    if (this.#lease !== lease || signal.aborted) return;
    this.#lease = null;
    this.#keepaliveFailing = false;
    Object.assign(this.status, { registered: false, connected: false, leaseId: null, lastError: errorMessage(error) });
    this.#log.warn({ leaseId, error: errorMessage(error) }, 'etcd lease lost: registering again');
    void this.#keepRegistered(signal);
  }

  /** The record names the address peers can dial: the bound one, from the chart. */
  #selfRecord(): NodeRecord {
    const self = this.#self;
    if (!self) throw new Error('etcd registration not started');
    return {
      id: this.#rt.config.nodeId,
      address: self.proxyAddress,
      meshPort: self.meshPort ?? this.#rt.config.meshPort,
      startedAt: this.#rt.startedAt,
    };
  }

  async #revokeStaleLease(client: Etcd3, signal: AbortSignal): Promise<void> {
    const stale = this.#recordedLeaseId;
    if (!stale) return;
    // Hot restart: that lease is the live predecessor's. Revoking it would
    // delete the key; the put below moves the key to this process's lease.
    if (this.#rt.restart.takeover && !this.#grantedHere.has(stale)) {
      this.#log.info({ previousLeaseId: stale }, 'etcd: lease of the previous process left to expire (hot restart)');
      return;
    }
    const started = Date.now();
    let outcome: 'revoked' | 'already expired' = 'revoked';
    try {
      await client.leaseClient.leaseRevoke({ ID: stale });
    } catch (error) {
      if (!(error instanceof EtcdLeaseInvalidError || error instanceof GRPCNotFoundError)) throw error;
      outcome = 'already expired';
    }
    throwIfAborted(signal);
    this.#persistLeaseId(null);
    if (this.#grantedHere.has(stale)) {
      this.#log.info({ staleLeaseId: stale, outcome, tookMs: Date.now() - started }, "cleaned up this run's lost etcd lease");
      return;
    }
    this.status.staleLease = { id: stale, outcome, at: Date.now() };
    this.#log.info(
      { staleLeaseId: stale, outcome, tookMs: Date.now() - started },
      outcome === 'revoked'
        ? 'revoked the etcd lease left by a previous run that did not shut down: its keys are gone'
        : 'the etcd lease left by a previous run had already expired',
    );
  }

  /** The chart keeps the id in the store (REGISTRY.LEASE → recordLeaseId), synchronously. */
  #persistLeaseId(leaseId: string | null): void {
    this.#recordedLeaseId = leaseId;
    this.#send?.({ type: 'REGISTRY.LEASE', leaseId });
  }

  async #putBack(): Promise<void> {
    const lease = this.#lease;
    if (!lease || !this.status.registered) return; // a lost lease re-registers on its own
    try {
      await lease.put(this.#key).value(encodeNodeRecord(this.#selfRecord()));
      this.#log.info({ key: this.#key }, 'etcd key put back');
    } catch (error) {
      // A revoked lease makes the put fail and is reported as lost: registering again says the rest.
      if (this.#lease !== lease) return;
      this.#log.warn({ error: errorMessage(error) }, 'could not put the etcd key back');
    }
  }
}
