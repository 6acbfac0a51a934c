/**
 * Where a request may go: the configured upstreams and the routing table's
 * live peers, round-robin, skipping targets whose breaker refuses traffic.
 */
import type { ReadonlyPeers } from '../routing/peer-table.js';
import type { BreakerRegistry } from './breaker-registry.js';
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

const NONE: Pick = { kind: 'none' };
const UNAVAILABLE: Pick = { kind: 'unavailable' };
const NO_TARGETS: readonly never[] = [];

/** A target with its pick result made once, so picking allocates nothing. */
type PickableTarget = Target & { readonly pick: Pick };

function pickable(t: Target): PickableTarget {
  // Not enumerable: a target logged or serialised must not become circular.
  Object.defineProperty(t, 'pick', { value: { kind: 'target', target: t }, enumerable: false });
  return t as PickableTarget;
}

export function upstreamTarget(url: string): Target {
  return { key: url, kind: 'upstream', url: new URL(url) };
}

export class TargetPicker {
  readonly #upstreams: PickableTarget[];
  #peerVersion = -1;
  #peerTargets: PickableTarget[] = [];
  #next = 0;
  #bothFor: PickableTarget[] | null = null;
  #both: PickableTarget[] = [];

  constructor(
    upstreams: readonly string[],
    private readonly peers: ReadonlyPeers,
    private readonly breakers: BreakerRegistry,
    /** This node's bound proxy address: never a target of its own (port 0 in config hides it from the table). */
    private readonly self: () => string | null = () => null,
  ) {
    this.#upstreams = upstreams.map((u) => pickable(upstreamTarget(u)));
  }

  get upstreamCount(): number {
    return this.#upstreams.length;
  }

  #livePeers(): PickableTarget[] {
    if (this.peers.version !== this.#peerVersion) {
      this.#peerVersion = this.peers.version;
      const self = this.self();
      this.#peerTargets = this.peers
        .alive()
        .filter((p) => p.address !== self)
        .map((p) => pickable({ key: p.address, kind: 'peer', url: new URL(`http://${p.address}/`) }));
    }
    return this.#peerTargets;
  }

  candidates(rules: PickRules): readonly PickableTarget[] {
    if (!rules.peers) return rules.upstreams ? this.#upstreams : NO_TARGETS;
    const peers = this.#livePeers();
    if (!rules.upstreams) return peers;
    // Upstreams + peers, rebuilt only when the peer table changed.
    if (this.#bothFor !== peers) {
      this.#bothFor = peers;
      this.#both = [...this.#upstreams, ...peers];
    }
    return this.#both;
  }

  pick(rules: PickRules): Pick {
    const all = this.candidates(rules);
    if (all.length === 0) return NONE;
    const start = this.#next++ % all.length;
    for (let i = 0; i < all.length; i++) {
      const t = all[(start + i) % all.length]!;
      if (rules.exclude?.has(t.key)) continue;
      // No clock read here: the registry reads it only for an open breaker.
      if (this.breakers.admits(t.key)) return t.pick;
    }
    return UNAVAILABLE;
  }
}
