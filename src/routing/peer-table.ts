/**
 * The routing table of mesh peers. The chart owns it: only the chart's
 * actions (applyPeerFound / applyPeerLeft / applyPeerStatus) change it, so a
 * peer appears and disappears for a reason the chart saw and logged.
 */
import type { PeerInfo, PeerSource, PeerStatus } from '../../machines/events.js';

/** Lower wins when two sources report the same address. */
const SOURCE_RANK: Record<PeerSource, number> = { static: 0, etcd: 1, mdns: 2, restored: 3 };

export class PeerTable {
  readonly #peers = new Map<string, PeerInfo>();
  /** Bumped on every change so routers can cache their target list. */
  version = 0;

  constructor(readonly selfAddress: string) {}

  /** Adds or refreshes a peer. Never adds this node itself. */
  upsert(peer: PeerInfo): PeerInfo | null {
    if (peer.address === this.selfAddress) return null;
    const known = this.#peers.get(peer.address);
    const merged: PeerInfo = known
      ? {
          ...known,
          id: peer.id ?? known.id,
          meshPort: peer.meshPort || known.meshPort,
          source: SOURCE_RANK[peer.source] < SOURCE_RANK[known.source] ? peer.source : known.source,
          // A peer that announced itself again after leaving is back; a restored
          // record never overrides what live discovery said.
          status: peer.source === 'restored' ? known.status : peer.status,
          lastSeen: Math.max(peer.lastSeen ?? 0, known.lastSeen ?? 0) || null,
        }
      : { ...peer };
    this.#peers.set(peer.address, merged);
    this.version++;
    return merged;
  }

  markLeft(address: string): PeerInfo | null {
    const known = this.#peers.get(address);
    if (!known || known.status === 'left') return null;
    const left: PeerInfo = { ...known, status: 'left', lastSeen: Date.now() };
    this.#peers.set(address, left);
    this.version++;
    return left;
  }

  setStatus(address: string, status: PeerStatus): PeerInfo | null {
    const known = this.#peers.get(address);
    if (!known || known.status === status) return null;
    const next: PeerInfo = { ...known, status, lastSeen: status === 'alive' ? Date.now() : known.lastSeen };
    this.#peers.set(address, next);
    this.version++;
    return next;
  }

  /**
   * A worker's copy (`--workers N`): the primary's table, as it is, replaces
   * this one. Not for the primary: its changes go through the chart.
   */
  replaceAll(peers: PeerInfo[]): void {
    this.#peers.clear();
    for (const p of peers) if (p.address !== this.selfAddress) this.#peers.set(p.address, { ...p });
    this.version++;
  }

  get(address: string): PeerInfo | undefined {
    return this.#peers.get(address);
  }

  findById(id: string): PeerInfo | undefined {
    for (const p of this.#peers.values()) if (p.id === id) return p;
    return undefined;
  }

  list(): PeerInfo[] {
    return [...this.#peers.values()];
  }

  /** Peers that may receive traffic now. */
  alive(): PeerInfo[] {
    return this.list().filter((p) => p.status === 'alive');
  }

  get size(): number {
    return this.#peers.size;
  }
}

/** What readers of the table (proxy, mesh, store, admin) may use: nothing that changes it. */
export type ReadonlyPeers = Readonly<Pick<PeerTable, 'selfAddress' | 'version' | 'get' | 'findById' | 'list' | 'alive' | 'size'>>;
