/** The pure parts of restoring and persisting: what comes back, and what the shutdown record says. */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { PeerTable } from '../../src/routing/peer-table.js';
import type { BreakerRecord, BreakerRegistry, BreakerStateName } from '../../src/proxy/breaker-registry.js';
import type { Shared } from '../../src/runtime.js';
import { PEER_RETENTION_MS, restoreFrom, restoreVerdict, restoredPeer } from '../../src/store/restore.js';
import type { SavedSnapshot } from '../../machines/events.js';
import { shutdownRecordOf } from '../../src/store/area.js';
import { retryDelayMs } from '../../src/store/snapshot-timer.js';
import type { PeerInfo } from '../../machines/events.js';

/** Restore only hands records over; a map that keeps them is enough to check what it handed. */
class RecordBreakerRegistry implements Pick<BreakerRegistry, 'exportAll' | 'restoreAll' | 'list'> {
  #records = new Map<string, BreakerRecord>();
  exportAll(): BreakerRecord[] {
    return [...this.#records.values()];
  }
  restoreAll(records: BreakerRecord[]): void {
    for (const r of records) this.#records.set(r.target, r);
  }
  list(): Array<{ target: string; state: BreakerStateName }> {
    return this.exportAll().map(({ target, state }) => ({ target, state }));
  }
}

/** restoreFrom decides; the chart's applyRestored (as the daemon provides it) writes. Both, as a node runs them. */
/** What the composition root applies a restore to (its applyRestored action). */
type RestoreTarget = Shared & { peers: PeerTable; breakers: RecordBreakerRegistry };

function restoreInto(rt: RestoreTarget, saved: (SavedSnapshot & { shutdowns: unknown[]; transitions: number }) | null, freshReason: string | null, now?: number) {
  const { summary, payload } = restoreFrom({ logger: rt.logger, dataDir: rt.config.dataDir, selfAddress: rt.peers.selfAddress }, saved, freshReason, now);
  for (const peer of payload.peers) rt.peers.upsert(peer);
  rt.breakers.restoreAll(payload.breakers);
  return summary;
}

const p = (address: string, over: Partial<PeerInfo> = {}): PeerInfo => ({
  address,
  meshPort: 7946,
  id: null,
  source: 'mdns',
  status: 'alive',
  lastSeen: 5,
  ...over,
});

function runtime() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  const rt = {
    config: { dataDir: '/d' },
    logger,
    peers: new PeerTable('127.0.0.1:8080'),
    breakers: new RecordBreakerRegistry(),
  } as unknown as RestoreTarget;
  return { rt, lines };
}

describe('restore', () => {
  it('saved peers come back restored + suspect; a peer that left does not; static ones keep their source', () => {
    expect(restoredPeer(p('a:1', { status: 'left' }))).toBeNull();
    const { rt, lines } = runtime();
    rt.peers.upsert(p('s:1', { source: 'static' }));
    const summary = restoreInto(
      rt,
      {
        nodeId: 'n',
        savedAt: 100,
        shutdownAt: 90,
        peers: [p('s:1', { source: 'static' }), p('m:1', { id: 'x' }), p('l:1', { status: 'left' })],
        breakers: [{ target: 'http://o:1', state: 'open', data: {}, updatedAt: 1 }],
        shutdowns: [],
        transitions: 0,
      },
      null,
      200,
    );
    expect(summary).toEqual({ fresh: false, reason: null, peers: 2, breakers: 1, lastShutdownAt: 90, savedAt: 100 });
    expect(rt.peers.get('s:1')).toMatchObject({ source: 'static', status: 'alive' });
    expect(rt.peers.get('m:1')).toMatchObject({ source: 'restored', status: 'suspect', id: 'x', lastSeen: 5 });
    expect(rt.peers.get('l:1')).toBeUndefined();
    expect(rt.breakers.list()).toEqual([{ target: 'http://o:1', state: 'open' }]);
    expect(lines.at(-1)).toMatchObject({ msg: 'last shutdown found: its state restored', lastShutdownAt: 90, peers: 2, breakers: 1 });
  });

  it('forgets remembered peers nobody vouched for within the retention window', () => {
    const day = PEER_RETENTION_MS;
    const savedAt = 10 * day;
    // Alive at the last save: seen then, even with an old lastSeen.
    expect(restoreVerdict(p('a:1', { lastSeen: 0 }), savedAt, savedAt + day - 1)).toBe('restore');
    expect(restoreVerdict(p('a:1', { lastSeen: 0 }), savedAt, savedAt + day + 1)).toBe('forgotten');
    // Suspect (never confirmed since it was restored): its own lastSeen counts.
    expect(restoreVerdict(p('s:1', { status: 'suspect', lastSeen: savedAt - day }), savedAt, savedAt + 1)).toBe('forgotten');
    expect(restoreVerdict(p('s:1', { status: 'suspect', lastSeen: null }), savedAt, savedAt + 100 * day)).toBe('restore');
    expect(restoreVerdict(p('l:1', { status: 'left' }), savedAt, savedAt)).toBe('left');

    const { rt, lines } = runtime();
    const summary = restoreInto(
      rt,
      {
        nodeId: 'n',
        savedAt,
        shutdownAt: savedAt,
        peers: [p('old:1', { status: 'suspect', lastSeen: 1 }), p('new:1', { lastSeen: savedAt })],
        breakers: [],
        shutdowns: [],
        transitions: 0,
      },
      null,
      savedAt + 60_000,
    );
    expect(summary.peers).toBe(1);
    expect(rt.peers.get('old:1')).toBeUndefined();
    expect(lines.some((l) => l.msg === 'remembered peers not seen for too long forgotten' && (l as { forgotten?: number }).forgotten === 1)).toBe(true);
  });

  it('says when the last run did not shut down gracefully, and why a fresh start is fresh', () => {
    const { rt, lines } = runtime();
    restoreInto(rt, { nodeId: 'n', savedAt: 100, shutdownAt: null, peers: [], breakers: [], shutdowns: [], transitions: 0 }, null, 200);
    expect(lines.at(-1)).toMatchObject({ level: 40, msg: expect.stringMatching(/^the last run did not shut down gracefully/) });
    const fresh = restoreInto(rt, null, 'state file was corrupt; moved aside to /d/x');
    expect(fresh).toMatchObject({ fresh: true, reason: 'state file was corrupt; moved aside to /d/x' });
  });
});

describe('shutdown record', () => {
  it('comes from the chart: drain, deregister, signals; none without a signal', () => {
    expect(shutdownRecordOf({ shutdownAt: null, drain: null, deregister: null, signals: [] })).toBeNull();
    expect(
      shutdownRecordOf(
        {
          shutdownAt: 10,
          drain: { drained: 4, cut: 1 },
          deregister: { goodbyeSent: true, noticesSent: 3, acked: 2, leaseRevoked: null },
          signals: ['SIGTERM', 'SIGINT'],
        },
      ),
    ).toEqual({ at: 10, drained: 4, cut: 1, noticesSent: 3, acked: 2, signals: ['SIGTERM', 'SIGINT'] });
    // No drain outcome reached the chart (the proxy never bound, or did not answer the cut): none counted.
    expect(shutdownRecordOf({ shutdownAt: 10, drain: null, deregister: null, signals: ['SIGINT'] })).toMatchObject({
      drained: 0,
      cut: 0,
      noticesSent: null,
    });
  });
});

describe('snapshot retry delay', () => {
  it('doubles from 250 ms and is capped at 60 s', () => {
    expect([1, 2, 3, 4].map(retryDelayMs)).toEqual([250, 500, 1000, 2000]);
    expect(retryDelayMs(30)).toBe(60_000);
  });
});
