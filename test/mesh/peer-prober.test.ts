/** The prober's schedule, on fake timers: who is pinged when, and what a nudge changes. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PeerInfo } from '../../machines/events.js';
import { createLogger } from '../../src/log/logger.js';
import type { MeshEndpoint } from '../../src/mesh/endpoint.js';
import { startPeerProber } from '../../src/mesh/peer-prober.js';
import type { PeerProber } from '../../src/mesh/peer-prober.js';

/** An endpoint that records pings and never gets a pong. */
function silentEndpoint() {
  const pinged: string[] = [];
  let seq = 0;
  const endpoint = {
    send: (_kind: string, to: { host: string; port: number }) => (pinged.push(`${to.host}/${to.port}`), ++seq),
    expectReply: () => () => undefined,
  } as unknown as MeshEndpoint;
  return { endpoint, pinged };
}

const peer = (address: string, status: PeerInfo['status'], id: string | null): PeerInfo => ({ address, meshPort: 7000, id, source: 'static', status, lastSeen: null });

describe('peer prober', () => {
  let prober: PeerProber | null = null;
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => {
    prober?.stop();
    vi.useRealTimers();
  });

  function start(peers: PeerInfo[], endpoint: () => MeshEndpoint | null) {
    prober = startPeerProber({
      endpoint,
      hasKey: true,
      peers: () => peers,
      peer: (address) => peers.find((p) => p.address === address),
      logger: createLogger('fatal', 'test'),
      sendBack: () => undefined,
    });
    return prober;
  }

  it('pings an alive peer with a known id once when it starts serving, not again', () => {
    const { endpoint, pinged } = silentEndpoint();
    start([peer('10.0.0.2:8080', 'alive', 'node-b')], () => endpoint);
    expect(pinged).toEqual(['10.0.0.2/7000']);
    vi.advanceTimersByTime(60_000);
    expect(pinged).toHaveLength(1);
  });

  it('owes that first ping until the mesh socket is bound', () => {
    const { endpoint, pinged } = silentEndpoint();
    let bound: MeshEndpoint | null = null;
    start([peer('10.0.0.2:8080', 'alive', 'node-b')], () => bound);
    vi.advanceTimersByTime(1_000);
    expect(pinged).toEqual([]);
    bound = endpoint;
    vi.advanceTimersByTime(250);
    expect(pinged).toEqual(['10.0.0.2/7000']);
  });

  it('a left peer is pinged with backoff; probeSoon (it pinged us) probes it at the next tick', () => {
    const { endpoint, pinged } = silentEndpoint();
    const p = start([peer('10.0.0.2:8080', 'left', 'node-b')], () => endpoint);
    expect(pinged).toHaveLength(1);
    // Unanswered: the next left probe waits 4 s, then 8 s.
    vi.advanceTimersByTime(3_000);
    expect(pinged).toHaveLength(1);
    vi.advanceTimersByTime(1_500);
    expect(pinged).toHaveLength(2);
    vi.advanceTimersByTime(2_000);
    expect(pinged).toHaveLength(2);
    p.probeSoon('10.0.0.2:8080');
    vi.advanceTimersByTime(250);
    expect(pinged).toHaveLength(3);
    // An alive or unknown peer is not nudged.
    p.probeSoon('10.0.0.9:8080');
    vi.advanceTimersByTime(250);
    expect(pinged).toHaveLength(3);
  });
});
