/** The leave step against real mesh endpoints on loopback UDP (no daemon). */
import dgram from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { MeshEndpoint } from '../../src/mesh/endpoint.js';
import { SUSPECT_GRACE_MS, sendLeaveNotices } from '../../src/mesh/leave-step.js';
import { NoticeVerifier } from '../../src/mesh/notice-verifier.js';
import { encodeMessage } from '../../src/mesh/wire.js';
import type { PeerInfo } from '../../machines/events.js';
import { freeUdpPort } from '../helpers/ports.js';

const KEY = Buffer.from('unit-test-mesh-key-0123456789');
const logger = pino({ level: 'silent' });
const open: MeshEndpoint[] = [];
afterEach(() => open.splice(0).forEach((e) => e.close()));

async function endpoint(id: string, onLeave: (addr: string) => void = () => undefined) {
  const metrics = createMetrics();
  const ep = new MeshEndpoint(
    {
      key: KEY,
      nodeId: id,
      selfAddress: () => `127.0.0.1:${id.length}`,
      logger,
      metrics,
      sent: { inc: () => undefined },
      handlers: { onLeave: (msg) => (onLeave(msg.addr), 'accepted'), answerPing: () => true },
    },
    '127.0.0.1',
  );
  open.push(ep);
  const port = await ep.bind('127.0.0.1', 0);
  return { ep, port, metrics };
}

const peer = (address: string, meshPort: number, status: PeerInfo['status'] = 'alive'): PeerInfo => ({
  address,
  meshPort,
  id: null,
  source: 'static',
  status,
  lastSeen: null,
});

describe('sendLeaveNotices', () => {
  it('returns as soon as every peer acked', async () => {
    const me = await endpoint('me');
    const heard: string[] = [];
    const b = await endpoint('b', (a) => heard.push(a));
    const c = await endpoint('c', (a) => heard.push(a));
    const t0 = Date.now();
    const out = await sendLeaveNotices(
      { endpoint: me.ep, hasKey: true, peers: () => [peer('127.0.0.1:1', b.port), peer('127.0.0.1:2', c.port)], logger },
      2_000,
    );
    expect(out).toEqual({ noticesSent: 2, acked: 2 });
    expect(heard).toHaveLength(2);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('retries an alive peer that does not ack until the timeout', async () => {
    const me = await endpoint('me');
    const silent = await freeUdpPort();
    const t0 = Date.now();
    const out = await sendLeaveNotices({ endpoint: me.ep, hasKey: true, peers: () => [peer('127.0.0.1:1', silent)], logger }, 600);
    expect(out).toEqual({ noticesSent: 1, acked: 0 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
  });

  it('a retry after a lost ack carries a fresh sequence number, so it is not taken for a replay', async () => {
    const me = await endpoint('me');
    // A peer whose first ack is "lost": it answers only the second notice.
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const verifier = new NoticeVerifier(KEY);
    const verdicts: string[] = [];
    sock.on('message', (buf, rinfo) => {
      const v = verifier.verify(buf);
      verdicts.push(v.ok ? 'accepted' : v.verdict);
      if (v.ok && verdicts.length >= 2) {
        const ack = encodeMessage({ k: 'ack', id: 'b', addr: '127.0.0.1:1', seq: verdicts.length, ts: Date.now(), re: v.message.seq }, KEY);
        sock.send(ack, rinfo.port, rinfo.address);
      }
    });
    try {
      const out = await sendLeaveNotices({ endpoint: me.ep, hasKey: true, peers: () => [peer('127.0.0.1:1', sock.address().port)], logger }, 1_000);
      expect(out).toEqual({ noticesSent: 1, acked: 1 });
      expect(verdicts).toEqual(['accepted', 'accepted']);
    } finally {
      sock.close();
    }
  });

  it('does not wait the whole slice for suspect peers', async () => {
    const me = await endpoint('me');
    const silent = await freeUdpPort();
    const t0 = Date.now();
    const out = await sendLeaveNotices({ endpoint: me.ep, hasKey: true, peers: () => [peer('127.0.0.1:1', silent, 'suspect')], logger }, 2_000);
    expect(out).toEqual({ noticesSent: 1, acked: 0 });
    expect(Date.now() - t0).toBeLessThan(SUSPECT_GRACE_MS + 1_000);
  });

  it('sends nothing without a key, or to peers that left', async () => {
    const me = await endpoint('me');
    expect(await sendLeaveNotices({ endpoint: me.ep, hasKey: false, peers: () => [peer('127.0.0.1:1', 1)], logger }, 500)).toEqual({ noticesSent: 0, acked: 0 });
    expect(await sendLeaveNotices({ endpoint: me.ep, hasKey: true, peers: () => [peer('127.0.0.1:1', 1, 'left')], logger }, 500)).toEqual({ noticesSent: 0, acked: 0 });
  });
});
