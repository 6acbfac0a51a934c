/** Test-side reading of a node's `state.db`, read-only, as an operator's tool would. */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export interface DbCheck {
  integrity: string;
  snapshot: { generation: number; peer_count: number; breaker_count: number; saved_at: number; shutdown_at: number | null } | null;
  peersOfSnapshot: number;
  strayRows: number;
  /** Distinct lastSeen values among the snapshot's peers. */
  lastSeenValues: number[];
  peerAddresses: string[];
}

/** Opens read-only (a crashed node's WAL is read, never checkpointed) and checks one-snapshot consistency. */
export function checkStateDb(dataDir: string): DbCheck {
  const db = new Database(path.join(dataDir, 'state.db'), { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const snapshot = (db.prepare('SELECT generation, peer_count, breaker_count, saved_at, shutdown_at FROM snapshot WHERE id = 1').get() ??
      null) as DbCheck['snapshot'];
    const gen = snapshot?.generation ?? -1;
    const peers = db.prepare('SELECT address, last_seen FROM peers WHERE generation = ? ORDER BY address').all(gen) as Array<{
      address: string;
      last_seen: number;
    }>;
    const stray = db
      .prepare('SELECT (SELECT count(*) FROM peers WHERE generation <> ?) + (SELECT count(*) FROM breakers WHERE generation <> ?) AS n')
      .get(gen, gen) as { n: number };
    return {
      integrity,
      snapshot,
      peersOfSnapshot: peers.length,
      strayRows: stray.n,
      lastSeenValues: [...new Set(peers.map((p) => p.last_seen))],
      peerAddresses: peers.map((p) => p.address),
    };
  } finally {
    db.close();
  }
}
