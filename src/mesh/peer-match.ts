/**
 * Which routing-table peer an authentic mesh message comes from. The message
 * names the sender's proxy address and node id; the table may know the peer
 * under the same address, by id, or (when the sender listens on a wildcard
 * address) only by the datagram's source host and the proxy port.
 */
import type { PeerInfo } from '../../machines/events.js';
import { parseHostPort } from '../config/host-port.js';
import type { MeshMessage } from './wire.js';

export type PeerMatch = { peer: PeerInfo } | { peer: null; reason: string };

export function matchPeer(peers: PeerInfo[], msg: Pick<MeshMessage, 'id' | 'addr'>, sourceHost: string): PeerMatch {
  const byAddress = peers.find((p) => p.address === msg.addr);
  if (byAddress) {
    // Same address, another id: a different node now lives there; its notice says nothing of ours.
    if (byAddress.id !== null && byAddress.id !== msg.id) {
      return { peer: null, reason: `address ${msg.addr} belongs to node ${byAddress.id}, not ${msg.id}` };
    }
    return { peer: byAddress };
  }
  const byId = peers.find((p) => p.id === msg.id);
  if (byId) return { peer: byId };
  let port: number | null = null;
  try {
    port = parseHostPort(msg.addr).port;
  } catch {
    port = null;
  }
  const bySource = peers.find((p) => {
    try {
      const hp = parseHostPort(p.address);
      return hp.port === port && normaliseHost(hp.host) === normaliseHost(sourceHost);
    } catch {
      return false;
    }
  });
  if (bySource && (bySource.id === null || bySource.id === msg.id)) return { peer: bySource };
  return { peer: null, reason: `no peer known as ${msg.addr} or ${msg.id}` };
}

function normaliseHost(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('::ffff:')) return h.slice(7);
  if (h === 'localhost') return '127.0.0.1';
  return h;
}
