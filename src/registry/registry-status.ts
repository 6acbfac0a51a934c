/** What `/state` shows about the etcd registration (`registry.etcd`). */
export interface EtcdRegistryStatus {
  endpoints: string[];
  /** This node's key: `<prefix><node id>`. */
  key: string;
  leaseTtlSec: number;
  /** True while this node's key is in etcd under a live lease. */
  registered: boolean;
  /** False while etcd does not answer (start-up retries, failing keep-alives). */
  connected: boolean;
  leaseId: string | null;
  registeredAt: number | null;
  /** True while the prefix watch is established. */
  watching: boolean;
  /** Failed registration attempts since the last success. */
  failedAttempts: number;
  lastError: string | null;
  /** Other nodes' keys currently seen under the prefix. */
  peers: number;
  /** Keys under the prefix ignored because their value is not a node record. */
  rejectedKeys: number;
  /** The lease a crashed previous run left behind, and what start-up did about it. */
  staleLease: { id: string; outcome: 'revoked' | 'already expired'; at: number } | null;
}

/** The lease's time to live: a node that dies leaves the mesh within this. */
export const LEASE_TTL_SEC = 10;

/** The status before the first attempt (kept apart from the etcd client so /state needs no etcd3 loaded). */
export function initialEtcdStatus(endpoints: string[], key: string, leaseTtlSec: number): EtcdRegistryStatus {
  return {
    endpoints,
    key,
    leaseTtlSec,
    registered: false,
    connected: false,
    leaseId: null,
    registeredAt: null,
    watching: false,
    failedAttempts: 0,
    lastError: null,
    peers: 0,
    rejectedKeys: 0,
    staleLease: null,
  };
}

/** Store meta key holding the current etcd lease id, for the next start after a crash. */
export const LEASE_META_KEY = 'etcd.leaseId';
