/** The mesh wire format and its verification, as pure functions. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, decodeFrame, encodeMessage } from '../../src/mesh/wire.js';
import type { MeshMessage } from '../../src/mesh/wire.js';
import { NoticeVerifier } from '../../src/mesh/notice-verifier.js';
import { ReplayCache } from '../../src/mesh/replay-cache.js';
import { SequenceSource } from '../../src/mesh/sequence.js';
import { RateLimitedLog } from '../../src/log/rate-limited-log.js';
import { matchPeer } from '../../src/mesh/peer-match.js';
import type { PeerInfo } from '../../machines/events.js';

const KEY = Buffer.from('a-shared-mesh-key-of-32-bytes!!!');
const NOW = 1_700_000_000_000;
const leave = (over: Partial<MeshMessage> = {}): MeshMessage => ({ k: 'leave', id: 'node-b', addr: '127.0.0.1:8082', seq: 1, ts: NOW, ...over });

describe('wire format', () => {
  it('round-trips a signed message and signs exactly the transmitted header + body', () => {
    const buf = encodeMessage(leave({ re: 7 }), KEY);
    expect(buf.subarray(0, 3)).toEqual(Buffer.from([0x47, 0x45, 1]));
    const frame = decodeFrame(buf);
    expect(frame.message).toEqual(leave({ re: 7 }));
    expect(frame.signature).toEqual(createHmac('sha256', KEY).update(frame.signed).digest());
    expect(buf.length).toBeLessThan(200);
  });

  it('an unsigned message decodes with no signature', () => {
    expect(decodeFrame(encodeMessage(leave(), null)).signature).toBeNull();
  });

  it('names what is wrong with a broken frame', () => {
    const good = encodeMessage(leave(), KEY);
    expect(() => decodeFrame(good.subarray(0, 3))).toThrow(/too short/);
    expect(() => decodeFrame(Buffer.from('XX\u0001\u0000\u0000'))).toThrow(/bad magic/);
    const v2 = Buffer.from(good);
    v2[2] = 2;
    expect(() => decodeFrame(v2)).toThrow(/unsupported version 2/);
    expect(() => decodeFrame(good.subarray(0, 20))).toThrow(/truncated body/);
    expect(() => decodeFrame(good.subarray(0, good.length - 5))).toThrow(/truncated signature/);
    expect(() => decodeFrame(Buffer.concat([good, Buffer.from([1])]))).toThrow(/trailing/);
  });
});

describe('NoticeVerifier', () => {
  const verifier = () => new NoticeVerifier(KEY);

  it('accepts a genuine message once; the same bytes again are a replay', () => {
    const v = verifier();
    const buf = encodeMessage(leave(), KEY);
    expect(v.verify(buf, NOW)).toMatchObject({ ok: true, message: { k: 'leave', id: 'node-b' } });
    expect(v.verify(buf, NOW + 10)).toMatchObject({ ok: false, verdict: 'replay', kind: 'leave' });
  });

  it.each([
    ['oversized', () => Buffer.alloc(64 * 1024, 0x41)],
    ['oversized', () => Buffer.alloc(MAX_MESSAGE_BYTES + 1)],
    ['malformed', () => encodeMessage(leave(), KEY).subarray(0, 30)],
    ['malformed', () => Buffer.from('{"k":"leave"}')],
    ['malformed', () => Buffer.concat([Buffer.from([0x47, 0x45, 1, 0, 4]), Buffer.from('null')])],
    ['unsigned', () => encodeMessage(leave(), null)],
    ['bad_signature', () => encodeMessage(leave(), Buffer.from('another-key-entirely-0123456789'))],
    ['stale', () => encodeMessage(leave({ ts: NOW - 31_000 }), KEY)],
    ['stale', () => encodeMessage(leave({ ts: NOW + 31_000 }), KEY)],
  ] as const)('rejects %s', (verdict, make) => {
    const r = verifier().verify(make(), NOW);
    expect(r).toMatchObject({ ok: false, verdict });
    if (!r.ok) expect(r.reason.length).toBeGreaterThan(3);
  });

  it('a flipped body byte breaks the signature', () => {
    const buf = Buffer.from(encodeMessage(leave(), KEY));
    const i = buf.indexOf('node-b');
    buf[i] = 'm'.charCodeAt(0);
    expect(verifier().verify(buf, NOW)).toMatchObject({ ok: false, verdict: 'bad_signature' });
  });

  it('without a key nothing is accepted', () => {
    expect(new NoticeVerifier(null).verify(encodeMessage(leave(), KEY), NOW)).toMatchObject({ ok: false, verdict: 'no_key' });
  });

  it('a rejected message does not poison the replay cache', () => {
    const v = verifier();
    expect(v.verify(encodeMessage(leave(), Buffer.from('wrong-key-wrong-key-wrong')), NOW)).toMatchObject({ verdict: 'bad_signature' });
    expect(v.verify(encodeMessage(leave(), KEY), NOW)).toMatchObject({ ok: true });
  });

  it('accepts messages just inside the window', () => {
    const v = verifier();
    expect(v.verify(encodeMessage(leave({ ts: NOW - 29_000, seq: 1 }), KEY), NOW).ok).toBe(true);
    expect(v.verify(encodeMessage(leave({ ts: NOW + 29_000, seq: 2 }), KEY), NOW).ok).toBe(true);
  });
});

describe('ReplayCache', () => {
  it('forgets entries once they could only be stale', () => {
    const c = new ReplayCache(1_000);
    expect(c.checkAndRemember('a', 1, NOW, NOW)).toBe(false);
    expect(c.checkAndRemember('a', 1, NOW, NOW + 500)).toBe(true);
    c.checkAndRemember('b', 1, NOW + 2_000, NOW + 2_000);
    expect(c.size).toBe(1);
  });

  it('stays bounded, and evicting never lets an evicted message back in', () => {
    const c = new ReplayCache(60_000, 3);
    for (let i = 1; i <= 5; i++) expect(c.checkAndRemember('a', i, NOW + i, NOW)).toBe(false);
    expect(c.size).toBe(3);
    expect(c.checkAndRemember('a', 1, NOW + 1, NOW)).toBe(true);
    expect(c.checkAndRemember('a', 2, NOW + 2, NOW)).toBe(true);
    expect(c.checkAndRemember('a', 6, NOW + 6, NOW)).toBe(false);
  });
});

describe('SequenceSource', () => {
  it('is monotonic within a run even when the clock goes back, and a restart starts above', () => {
    let t = NOW;
    const s = new SequenceSource(() => t);
    const a = s.next();
    t -= 5_000;
    const b = s.next();
    expect(b).toBeGreaterThan(a);
    const restarted = new SequenceSource(() => NOW + 1);
    expect(restarted.next()).toBeGreaterThan(b);
    expect(Number.isSafeInteger(restarted.next())).toBe(true);
  });
});

describe('RateLimitedLog.admit', () => {
  it('lets the first line of each key through, then one per interval with the suppressed count', () => {
    const l = new RateLimitedLog(1_000);
    expect(l.admit('stale', 0)).toBe(0);
    expect(l.admit('replay', 0)).toBe(0);
    expect(l.admit('stale', 0)).toBeNull();
    expect(l.admit('stale', 0)).toBeNull();
    expect(l.admit('stale', 1_000)).toBe(2);
  });
});

describe('matchPeer', () => {
  const peer = (over: Partial<PeerInfo>): PeerInfo => ({ address: '127.0.0.1:8082', meshPort: 7947, id: null, source: 'static', status: 'alive', lastSeen: null, ...over });
  it('matches by address, then id, then source host + proxy port', () => {
    expect(matchPeer([peer({})], { id: 'b', addr: '127.0.0.1:8082' }, '127.0.0.1').peer?.address).toBe('127.0.0.1:8082');
    expect(matchPeer([peer({ id: 'b' })], { id: 'b', addr: '10.0.0.1:1' }, '10.0.0.1').peer?.address).toBe('127.0.0.1:8082');
    expect(matchPeer([peer({})], { id: 'b', addr: '0.0.0.0:8082' }, '127.0.0.1').peer?.address).toBe('127.0.0.1:8082');
  });
  it('refuses an address that belongs to another known id, and strangers', () => {
    expect(matchPeer([peer({ id: 'c' })], { id: 'b', addr: '127.0.0.1:8082' }, '127.0.0.1').peer).toBeNull();
    expect(matchPeer([peer({})], { id: 'x', addr: '127.0.0.9:9' }, '127.0.0.9').peer).toBeNull();
  });
});

describe('probe back-off', () => {
  it('doubles per unanswered probe up to the cap, and starts from the base', async () => {
    const { probeInterval, PROBE_BACKOFF_MAX_MS } = await import('../../src/mesh/peer-prober.js');
    expect(probeInterval(250, 0)).toBe(250);
    expect(probeInterval(250, 1)).toBe(500);
    expect(probeInterval(250, 4)).toBe(4_000);
    expect(probeInterval(250, 40)).toBe(PROBE_BACKOFF_MAX_MS);
  });
});
