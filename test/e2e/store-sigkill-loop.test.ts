/**
 * SIGKILL at random moments while snapshots are written every 50 ms, many
 * times in a row, on a node with 10,000 peers (a save takes ~10-20 ms, so a
 * good share of kills land inside a write). After every kill:
 *  - the file passes `PRAGMA integrity_check`;
 *  - every peer row belongs to the one snapshot the snapshot row names
 *    (generation), their number is that snapshot's count, and all carry the
 *    same lastSeen (one run's) — the previous snapshot or the new one, never a mix;
 *  - the next start restores exactly that snapshot (seen on /state).
 * Bounded: 25 kills.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { checkStateDb } from '../store/db-inspect.js';

const { nodes, cleanups } = testScope();

const PEERS = 10_000;
const KILLS = 25;

describe('SIGKILL during snapshot writes', () => {
  it(`${KILLS} random kills: every next start restores one whole snapshot`, { timeout: 240_000 }, async () => {
    const dataDir = cleanups.tempDir('ge-sigkill-');
    const peers = Array.from({ length: PEERS }, (_, i) => `127.0.${3 + Math.floor(i / 250)}.${1 + (i % 250)}:${40_000 + (i % 7)}/7946`);
    const config = path.join(dataDir, 'peers.json');
    writeFileSync(config, JSON.stringify({ peer: peers, 'snapshot-interval': 0.05, 'log-level': 'debug' }));

    let snapshotsBeforeKill = 0;
    let lastGeneration = 0;
    for (let i = 0; i < KILLS; i++) {
      const n = await startNode({ dataDir, args: ['--config', config] });
      nodes.push(n);
      const live = await adminState(n);
      if (i > 0) {
        // What the previous kill left is what this start restored.
        expect(live.restored?.fresh).toBe(false);
        expect(live.restored?.peers).toBe(PEERS);
      }
      // /state pages its peers (1000 by default): ask for them all.
      const all = (await (await fetch(`${n.adminUrl}/state?limit=${PEERS}`)).json()) as { peers: unknown[] };
      expect(all.peers).toHaveLength(PEERS);
      // Let a few snapshots start, then kill somewhere in a 0-300 ms window.
      await n.waitForLog((l) => l.msg === 'snapshot saved', 20_000);
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      n.kill('SIGKILL');
      expect((await n.exited).signal).toBe('SIGKILL');
      snapshotsBeforeKill += n.logs.filter((l) => l.msg === 'snapshot saved').length;
      nodes.length = 0;

      const check = checkStateDb(dataDir);
      expect(check.integrity).toBe('ok');
      expect(check.snapshot).not.toBeNull();
      expect(check.snapshot!.generation).toBeGreaterThanOrEqual(lastGeneration);
      lastGeneration = check.snapshot!.generation;
      expect(check.snapshot!.shutdown_at).toBeNull();
      expect(check.strayRows).toBe(0);
      expect(check.peersOfSnapshot).toBe(check.snapshot!.peer_count);
      expect(check.peersOfSnapshot).toBe(PEERS);
      expect(check.lastSeenValues).toHaveLength(1);
    }
    console.log(`${KILLS} SIGKILLs, ${snapshotsBeforeKill} snapshots of ${PEERS} peers written in between, last generation ${lastGeneration}`);

    // And a last node still stops gracefully on the survivor of all that.
    const n = await startNode({ dataDir, args: ['--config', config] });
    nodes.push(n);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const final = checkStateDb(dataDir);
    expect(final.integrity).toBe('ok');
    expect(final.snapshot!.shutdown_at).toEqual(expect.any(Number));
    expect(final.peersOfSnapshot).toBe(PEERS);
  });
});
