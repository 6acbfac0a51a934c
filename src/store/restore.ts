/**
 * Puts a saved snapshot back into the running node: peers become routing
 * candidates of source `restored` and status `suspect` (probed before they get
 * traffic; a live source such as a static `--peer` keeps its own source), and
 * breakers are handed to the registry, which knows the library's timers.
 */
import type { PeerInfo, RestoreSummary } from '../../machines/events.js';
import type { NodeRuntime } from '../runtime.js';
import type { SavedState } from './state-store.js';

export const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function restoredPeer(saved: PeerInfo): PeerInfo | null {
  // A peer that said goodbye is not brought back to life by our memory of it.
  if (saved.status === 'left') return null;
  return { ...saved, source: 'restored', status: 'suspect' };
}

export function restoreInto(rt: NodeRuntime, saved: SavedState | null, freshReason: string | null): RestoreSummary {
  const log = rt.logger;
  if (!saved) {
    const reason = freshReason ?? 'no saved state';
    log.info({ dataDir: rt.config.dataDir, reason }, `starting fresh: ${reason}`);
    return { fresh: true, reason, peers: 0, breakers: 0, lastShutdownAt: null, savedAt: null };
  }
  let peers = 0;
  let skippedLeft = 0;
  for (const p of saved.peers) {
    const peer = restoredPeer(p);
    if (!peer) skippedLeft++;
    else if (rt.peers.upsert(peer)) peers++;
  }
  rt.breakers.restoreAll(saved.breakers);
  const fields = {
    lastShutdownAt: saved.shutdownAt,
    savedAt: saved.savedAt,
    savedBy: saved.nodeId,
    peers,
    skippedLeft,
    breakers: saved.breakers.length,
  };
  const what = `${count(peers, 'peer')} and ${count(saved.breakers.length, 'breaker')} restored`;
  if (saved.shutdownAt !== null) {
    log.info(fields, `last shutdown at ${new Date(saved.shutdownAt).toISOString()}; ${what}`);
  } else {
    log.warn(
      fields,
      `the last run did not shut down gracefully (last snapshot saved at ${new Date(saved.savedAt).toISOString()}); ${what}`,
    );
  }
  return {
    fresh: false,
    reason: null,
    peers,
    breakers: saved.breakers.length,
    lastShutdownAt: saved.shutdownAt,
    savedAt: saved.savedAt,
  };
}
