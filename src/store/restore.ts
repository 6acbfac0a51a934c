/**
 * Decides what of a saved snapshot comes back: peers become routing
 * candidates of source `restored` and status `suspect` (probed before they get
 * traffic; a live source such as a static `--peer` keeps its own source), and
 * breakers are returned for the registry, which knows the library's timers.
 * Nothing is written here: the chart applies the result (`applyRestored`).
 */
import type { BreakerRecord, PeerInfo, RestoreOutput, SavedSnapshot } from '../../machines/events.js';
import type { Logger } from '../log/logger.js';
import { quote } from './restore-limits.js';

/**
 * A breaker saved as opened in the future (the clock was stepped back, or the
 * file was crafted) would stay open until then plus its cool-down — hours or
 * years. Its open time is clamped to now: it stays open for at most its own
 * half-open delay, then tries again. Returns the records and the targets
 * that were clamped.
 */
export function clampFutureBreakers(records: BreakerRecord[], now: number): { records: BreakerRecord[]; clamped: string[] } {
  const clamped: string[] = [];
  const out = records.map((r) => {
    const own = (r.data as { ownState?: { openedAt?: unknown } } | null)?.ownState;
    if (typeof own?.openedAt !== 'number' || own.openedAt <= now) return r;
    clamped.push(r.target);
    const data = r.data as { ownState: Record<string, unknown> };
    return { ...r, data: { ...data, ownState: { ...data.ownState, openedAt: now } }, updatedAt: Math.min(r.updatedAt, now) };
  });
  return { records: out, clamped };
}

/**
 * A remembered peer nobody has vouched for in this long is forgotten at
 * restore: autoscaled meshes churn, and every remembered address is probed.
 * Live sources (static, mDNS, etcd) bring a peer that still exists back anyway.
 */
export const PEER_RETENTION_MS = 24 * 60 * 60 * 1000;

export type RestoreVerdict = 'restore' | 'left' | 'forgotten';

export function restoreVerdict(saved: PeerInfo, savedAt: number, now: number): RestoreVerdict {
  // A peer that said goodbye is not brought back to life by our memory of it.
  if (saved.status === 'left') return 'left';
  // Alive at the last save counts as seen then; otherwise when we last heard from it.
  const seenAt = saved.status === 'alive' ? Math.max(savedAt, saved.lastSeen ?? 0) : saved.lastSeen;
  if (seenAt !== null && now - seenAt > PEER_RETENTION_MS) return 'forgotten';
  return 'restore';
}

export function restoredPeer(saved: PeerInfo): PeerInfo | null {
  if (saved.status === 'left') return null;
  return { ...saved, source: 'restored', status: 'suspect' };
}

export interface RestoreContext {
  logger: Logger;
  dataDir: string;
  /** This node's configured proxy address: the routing table never holds it. */
  selfAddress: string;
}

export function restoreFrom(
  ctx: RestoreContext,
  saved: SavedSnapshot | null,
  freshReason: string | null,
  now = Date.now(),
  /** Hot restart: the snapshot is the predecessor's of a moment ago; keep source and status. */
  keepStatus = false,
): RestoreOutput {
  const log = ctx.logger;
  if (!saved) {
    const reason = freshReason ?? 'no saved state';
    log.info({ dataDir: ctx.dataDir, reason }, 'starting fresh');
    return { summary: { fresh: true, reason, peers: 0, breakers: 0, lastShutdownAt: null, savedAt: null }, payload: { peers: [], breakers: [] } };
  }
  const restoredPeers: PeerInfo[] = [];
  let skippedLeft = 0;
  let forgotten = 0;
  for (const p of saved.peers) {
    const verdict = restoreVerdict(p, saved.savedAt, now);
    if (verdict === 'left') skippedLeft++;
    else if (verdict === 'forgotten') forgotten++;
    else if (p.address !== ctx.selfAddress) restoredPeers.push(keepStatus ? p : restoredPeer(p)!);
  }
  const peers = restoredPeers.length;
  if (forgotten > 0) {
    log.info(
      { forgotten, retentionHours: PEER_RETENTION_MS / 3_600_000 },
      'remembered peers not seen for too long forgotten',
    );
  }
  const { records: breakers, clamped } = clampFutureBreakers(saved.breakers, now);
  if (clamped.length > 0) {
    log.warn(
      { breakers: clamped.length, targets: clamped.slice(0, 5).map(quote) },
      'restored breakers opened in the future (clock stepped back?): open time clamped to now',
    );
  }
  const fields = {
    lastShutdownAt: saved.shutdownAt,
    savedAt: saved.savedAt,
    savedBy: saved.nodeId,
    peers,
    skippedLeft,
    forgotten,
    breakers: saved.breakers.length,
  };
  if (keepStatus) log.info(fields, 'hot restart: state of the previous process restored');
  else if (saved.shutdownAt !== null) log.info(fields, 'last shutdown found: its state restored');
  else log.warn(fields, 'the last run did not shut down gracefully: its last snapshot restored');
  return {
    summary: {
      fresh: false,
      reason: null,
      peers,
      breakers: saved.breakers.length,
      lastShutdownAt: saved.shutdownAt,
      savedAt: saved.savedAt,
    },
    payload: { peers: restoredPeers, breakers },
  };
}
