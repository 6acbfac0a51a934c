/** `--peer` entries become routing-table peers (source `static`) through the chart. */
import type { LifecycleEvent, PeerInfo } from '../../machines/events.js';
import type { Config } from '../config/schema.js';

export function staticPeerEvents(config: Config, now = Date.now()): Extract<LifecycleEvent, { type: 'PEER.FOUND' }>[] {
  return config.peers.map((p) => {
    const peer: PeerInfo = { address: p.address, meshPort: p.meshPort, id: null, source: 'static', status: 'alive', lastSeen: now };
    return { type: 'PEER.FOUND', peer };
  });
}
