/** Remembered peers nobody vouched for within the retention window are not restored. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PeerInfo } from '../../machines/events.js';
import { SqliteStateStore } from '../../src/store/sqlite-store.js';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';

const scope = testScope();
const HOUR = 3_600_000;

describe('peer retention at restore', () => {
  it('a peer last seen days ago is forgotten with one log line; one alive at the last save comes back', async () => {
    const dir = scope.cleanups.tempDir('ge-retention-');
    const now = Date.now();
    // Loopback addresses where nothing listens: probes are refused at once and stay on this machine.
    const peer = (address: string, over: Partial<PeerInfo>): PeerInfo => ({
      address, meshPort: 9, id: address, source: 'mdns', status: 'alive', lastSeen: now - 72 * HOUR, ...over,
    });
    const store = SqliteStateStore.open(path.join(dir, 'state.db'));
    store.saveSnapshot({
      nodeId: 'retention',
      savedAt: now - HOUR,
      peers: [peer('127.77.0.1:9', { status: 'suspect' }), peer('127.77.0.2:9', { status: 'alive' })],
      breakers: [],
    });
    store.close();

    const n = await startNode({ dataDir: dir, args: ['--node-id', 'retention'] });
    scope.nodes.push(n);
    const line = await n.waitForLog((l) => l.msg === 'remembered peers not seen for too long forgotten');
    expect(line).toMatchObject({ forgotten: 1 });
    const peers = (await adminState(n)).peers.map((p) => [p.address, p.source]);
    expect(peers).toEqual([['127.77.0.2:9', 'restored']]);
    n.kill('SIGTERM');
    expect((await n.exited).code).toBe(0);
  });
});
