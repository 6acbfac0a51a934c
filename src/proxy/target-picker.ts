/**
 * Where a request may go: the configured upstreams and the routing table's
 * live peers, round-robin, skipping targets whose breaker refuses traffic.
 */
import type { PeerTable } from '../routing/peer-table.js';
import type { CockatielBreakerRegistry } from './breaker-registry.js';
import type { Target } from './forward-engine.js';

export interface PickRules {
  /** A request another node already routed never goes to a peer again. */
  peers: boolean;
  /** Once the listener is closed, late requests go to peers only. */
  upstreams: boolean;
  /** Targets already tried for this request. */
  exclude?: ReadonlySet<string>;
}

export type Pick =
  | { kind: 'target'; target: Target }
  /** Nothing is configured (or alive) for these rules. */
  | { kind: 'none' }
  /** Targets exist, but every one's breaker is open (or was tried already). */
  | { kind: 'unavailable' };

export function upstreamTarget(url: string): Target {
  return { key: url, kind: 'upstream', url: new URL(url) };
}

export class TargetPicker {
  readonly #upstreams: Target[];
  #peerVersion = -1;
  #peerTargets: Target[] = [];
  #next = 0;

  constructor(
    upstreams: readonly string[],
    private readonly peers: PeerTable,
    private readonly breakers: CockatielBreakerRegistry,
    /** This node's bound proxy address: never a target of its own (port 0 in config hides it from the table). */
    private readonly self: () => string | null = () => null,
  ) {
    this.#upstreams = upstreams.map(upstreamTarget);
  }

  get upstreamCount(): number {
    return this.#upstreams.length;
  }

  #livePeers(): Target[] {
    if (this.peers.version !== this.#peerVersion) {
      this.#peerVersion = this.peers.version;
      const self = this.self();
      this.#peerTargets = this.peers
        .alive()
        .filter((p) => p.address !== self)
        .map((p) => ({ key: p.address, kind: 'peer' as const, url: new URL(`http://${p.address}/`) }));
    }
    return this.#peerTargets;
  }

  candidates(rules: PickRules): Target[] {
    return [...(rules.upstreams ? this.#upstreams : []), ...(rules.peers ? this.#livePeers() : [])];
  }

  pick(rules: PickRules): Pick {
    const all = this.candidates(rules);
    if (all.length === 0) return { kind: 'none' };
    const now = Date.now();
    const start = this.#next++ % all.length;
    for (let i = 0; i < all.length; i++) {
      const t = all[(start + i) % all.length]!;
      if (rules.exclude?.has(t.key)) continue;
      if (this.breakers.admits(t.key, now)) return { kind: 'target', target: t };
    }
    return { kind: 'unavailable' };
  }
}
