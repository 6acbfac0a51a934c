/**
 * The admin reads the node through read-only views: `npx tsc --noEmit`
 * checks this file, and every `@ts-expect-error` must meet an error, so a
 * view that lets a reader change its owner's state fails the typecheck.
 */
import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../src/admin/node-status.js';
import { PeerTable } from '../../src/routing/peer-table.js';
import { InFlightTracker } from '../../src/proxy/in-flight-tracker.js';

function misuse(status: NodeStatus): void {
  // @ts-expect-error the routing table is written by the chart's actions only
  status.peers.upsert({ address: 'x:1', meshPort: 1, id: null, source: 'static', status: 'alive', lastSeen: null });
  // @ts-expect-error the proxy's counts are its own
  status.inFlight.requests = 0;
  // @ts-expect-error breakers are seeded by the chart's applyRestored only
  status.breakers.restoreAll([]);
}

describe('NodeStatus', () => {
  it('the owners\' objects fit the views (what the composition root passes)', () => {
    const peers = new PeerTable('127.0.0.1:8080');
    const tracker = new InFlightTracker();
    const view: Pick<NodeStatus, 'peers' | 'inFlight'> = { peers, inFlight: tracker };
    tracker.begin('request');
    expect(view.inFlight.count).toBe(1);
    expect(view.peers.list()).toEqual([]);
    expect(typeof misuse).toBe('function');
  });
});
