/**
 * Gives traffic back only to peers that prove they serve. While the node is
 * serving:
 *  - `suspect` peers (restored from disk, say) are probed every PROBE_INTERVAL_MS;
 *    a signed mesh ping answered by a pong makes them `alive`. Without a mesh
 *    key no ping can be trusted, so a TCP connect to their proxy port is the
 *    probe instead (it proves a listener, which a draining node closes).
 *  - `left` peers are pinged now and then (key only): a node only answers pings
 *    while it is serving, so a pong means it came back (a restart).
 *  - `alive` peers are pinged once when this node starts serving, then, while
 *    their id is unknown, once in a while, to learn it and refresh `lastSeen`.
 *    The first ping also tells a peer that had this node as `left` (it
 *    stopped, then started again) that it is back: that peer probes it at
 *    once (`probeSoon`) instead of after its backoff. A missing pong never
 *    demotes an alive peer: the proxy's breakers judge traffic, this only
 *    decides when to give it back.
 * Every change goes to the chart as PEER.STATUS / PEER.FOUND.
 */
import net from 'node:net';
import type { AnyEventObject } from 'xstate';
import type { LifecycleEvent, PeerInfo, PeerStatus } from '../../machines/events.js';
import { parseHostPort } from '../config/host-port.js';
import type { Logger } from '../log/logger.js';
import type { MeshEndpoint } from './endpoint.js';
import type { MeshMessage } from './wire.js';

export const PROBE_INTERVAL_MS = 250;
export const PROBE_TIMEOUT_MS = 500;
const LEFT_PROBE_EVERY_MS = 2_000;
const REFRESH_EVERY_MS = 5_000;
/**
 * Unanswered probes back off per peer (doubling, up to this), so a node that
 * restored thousands of long-gone peers does not ping each of them 4 times a
 * second forever. A success resets the peer to the base interval.
 */
export const PROBE_BACKOFF_MAX_MS = 30_000;
/**
 * Probes in flight at once. A node restoring 10,000 peers would otherwise
 * open 10,000 sockets (or send 10,000 pings) in its first tick, right when it
 * starts serving; the rest simply wait for a later tick.
 */
export const MAX_PROBES_IN_FLIGHT = 64;

/** How long to wait before probing a peer again after `misses` unanswered probes. */
export function probeInterval(baseMs: number, misses: number): number {
  return Math.min(PROBE_BACKOFF_MAX_MS, baseMs * 2 ** Math.min(misses, 16));
}

export interface ProberDeps {
  endpoint: () => MeshEndpoint | null;
  hasKey: boolean;
  peers: () => PeerInfo[];
  peer: (address: string) => PeerInfo | undefined;
  logger: Logger;
  sendBack: (event: LifecycleEvent | AnyEventObject) => void;
}

export interface PeerProber {
  /**
   * Probe this peer at the next tick, forgetting its backoff: it just showed
   * a sign of life (an authentic ping). Only the probe's answer changes its status.
   */
  probeSoon(address: string): void;
  stop(): void;
}

export function startPeerProber(deps: ProberDeps): PeerProber {
  const inFlight = new Set<string>();
  const lastProbe = new Map<string, number>();
  const misses = new Map<string, number>();
  const cancels = new Set<() => void>();
  let stopped = false;

  const due = (p: PeerInfo, now: number): boolean => {
    const last = lastProbe.get(p.address) ?? 0;
    const missed = misses.get(p.address) ?? 0;
    if (p.status === 'suspect') return now - last >= probeInterval(PROBE_INTERVAL_MS, missed);
    if (!deps.hasKey) return false;
    if (p.status === 'left') return now - last >= probeInterval(LEFT_PROBE_EVERY_MS, missed);
    // Never probed by this run: once, so a peer that saw this node leave learns it is back.
    if (!lastProbe.has(p.address)) return true;
    return p.id === null && now - last >= REFRESH_EVERY_MS;
  };

  const onMiss = (probed: PeerInfo) => misses.set(probed.address, (misses.get(probed.address) ?? 0) + 1);

  const onSuccess = (probed: PeerInfo, how: string, msg: MeshMessage | null) => {
    misses.delete(probed.address);
    const now = deps.peer(probed.address);
    // The peer changed meanwhile (a leave notice overtook our probe): the newer news wins.
    if (!now || now.status !== probed.status) return;
    if (msg && now.id !== null && msg.id !== now.id) {
      deps.logger.warn({ peer: now.address, expected: now.id, answered: msg.id }, 'peer answered under another id: not trusted');
      return;
    }
    if (msg && now.id === null) {
      deps.sendBack({ type: 'PEER.FOUND', peer: { ...now, id: now.id ?? msg.id, lastSeen: Date.now() } });
    }
    if (now.status !== 'alive') {
      deps.logger.info({ peer: now.address, probe: how, was: now.status }, 'probe succeeded: peer alive');
      deps.sendBack({ type: 'PEER.STATUS', address: now.address, status: 'alive' satisfies PeerStatus });
    }
  };

  const probe = (p: PeerInfo) => {
    let host: string;
    let port: number;
    try {
      ({ host, port } = parseHostPort(p.address));
    } catch {
      return;
    }
    const endpoint = deps.endpoint();
    // The mesh socket may still be binding when serving starts: no ping was
    // sent, so none is counted (the first one is owed to every peer).
    if (deps.hasKey && !endpoint) return;
    inFlight.add(p.address);
    lastProbe.set(p.address, Date.now());
    const done = () => inFlight.delete(p.address);
    if (deps.hasKey && endpoint) {
      const seq = endpoint.send('ping', { host, port: p.meshPort });
      let timer: NodeJS.Timeout | undefined = undefined;
      const cancel = endpoint.expectReply(seq, 'pong', (msg) => {
        clearTimeout(timer);
        cancels.delete(cancelAll);
        done();
        if (!stopped) onSuccess(p, 'mesh ping', msg);
      });
      const cancelAll = () => {
        clearTimeout(timer);
        cancel();
      };
      cancels.add(cancelAll);
      timer = setTimeout(() => {
        cancel();
        cancels.delete(cancelAll);
        done();
        onMiss(p);
        deps.logger.debug({ peer: p.address, status: p.status, timeoutMs: PROBE_TIMEOUT_MS }, 'no pong in time');
      }, PROBE_TIMEOUT_MS);
      return;
    }
    const socket = net.connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      cancels.delete(destroy);
      done();
      if (ok && !stopped) onSuccess(p, 'tcp connect', null);
      else if (!ok) onMiss(p);
    };
    const destroy = () => socket.destroy();
    cancels.add(destroy);
    socket.setTimeout(PROBE_TIMEOUT_MS, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  };

  const tick = () => {
    const now = Date.now();
    for (const p of deps.peers()) {
      if (inFlight.size >= MAX_PROBES_IN_FLIGHT) break;
      if (!inFlight.has(p.address) && due(p, now)) probe(p);
    }
  };
  tick();
  const interval = setInterval(tick, PROBE_INTERVAL_MS);
  return {
    probeSoon: (address) => {
      const p = deps.peer(address);
      if (stopped || !p || p.status === 'alive') return;
      misses.delete(address);
      lastProbe.set(address, 0);
    },
    stop: () => {
      stopped = true;
      clearInterval(interval);
      for (const cancel of cancels) cancel();
    },
  };
}
