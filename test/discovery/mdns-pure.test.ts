/** The pure parts of mDNS discovery: TXT reading, TTL bookkeeping, goodbye plan, address records, names. */
import { describe, expect, it } from 'vitest';
import { RecordLifetimes } from '../../src/discovery/record-lifetimes.js';
import { encodeTxt, readAdvert } from '../../src/discovery/service-txt.js';
import { goodbyeRecords, planGoodbye } from '../../src/discovery/goodbye.js';
import { addressRecords, serviceRecords } from '../../src/discovery/service-records.js';
import { candidateNames, fqdnOf, probePacket } from '../../src/discovery/instance-probe.js';
import { ConflictRateLimit, SeenClaims, findConflict, sameRdata, tiebreak } from '../../src/discovery/name-conflict.js';
import type { DnsRecord } from '../../src/discovery/bonjour-transport.js';
import { createRequire } from 'node:module';
import { Bonjour } from 'bonjour-service';

// The codec multicast-dns uses: what the node's socket really decodes.
const dnsPacket = createRequire(import.meta.url)('dns-packet') as {
  encode(p: { type: string; answers: DnsRecord[] }): Buffer;
  decode(b: Buffer): { answers: DnsRecord[] };
};

describe('TXT record', () => {
  const txt = encodeTxt({ nodeId: 'node-a', proxy: '127.0.0.1:8081', meshPort: 7947 });

  it('round-trips what a peer needs', () => {
    expect(txt).toEqual({ v: '1', id: 'node-a', address: '127.0.0.1:8081', proxyPort: '8081', meshPort: '7947' });
    expect(readAdvert(txt, 8081, '127.0.0.1')).toEqual({ ok: true, peer: { id: 'node-a', address: '127.0.0.1:8081', meshPort: 7947 } });
  });

  it('uses the packet source when the advertised host is unspecified or loopback of another machine', () => {
    const wildcard = encodeTxt({ nodeId: 'n', proxy: '0.0.0.0:8081', meshPort: 7946 });
    expect(readAdvert(wildcard, 8081, '192.0.2.7')).toMatchObject({ ok: true, peer: { address: '192.0.2.7:8081' } });
    expect(readAdvert(txt, 8081, '192.0.2.7')).toMatchObject({ ok: true, peer: { address: '192.0.2.7:8081' } });
    const v6 = encodeTxt({ nodeId: 'n', proxy: '[::]:8081', meshPort: 7946 });
    expect(readAdvert(v6, 8081, 'fe80::1')).toMatchObject({ ok: true, peer: { address: '[fe80::1]:8081' } });
  });

  it.each([
    [{}, 'TXT id is missing'],
    [{ ...txt, id: '../etc' }, 'TXT id is not a valid node id'],
    [{ ...txt, proxyPort: 'abc' }, 'TXT proxyPort is not a port number'],
    [{ ...txt, proxyPort: '70000' }, 'TXT proxyPort is out of range'],
    [{ ...txt, meshPort: undefined }, 'TXT meshPort is missing'],
    [{ ...txt, address: 'nonsense' }, 'TXT address "nonsense" is not HOST:PORT'],
    [{ ...txt, address: '127.0.0.1:9' }, 'TXT address port differs from proxyPort'],
  ])('rejects %j: %s', (bad, reason) => {
    expect(readAdvert(bad, undefined, '127.0.0.1')).toEqual({ ok: false, reason });
  });

  it('rejects a SRV port that contradicts the TXT, no TXT at all, and no usable address', () => {
    expect(readAdvert(txt, 9999, '127.0.0.1')).toMatchObject({ ok: false, reason: expect.stringContaining('SRV port 9999') });
    expect(readAdvert(undefined, 8081, '127.0.0.1')).toEqual({ ok: false, reason: 'no TXT record' });
    const { address: _a, ...noAddress } = txt;
    expect(readAdvert(noAddress, 8081, undefined)).toMatchObject({ ok: false, reason: expect.stringContaining('no usable address') });
  });
});

describe('record lifetimes (RFC 6762 §5.2)', () => {
  it('asks again at 80/85/90/95 % of the TTL and expires at 100 %', () => {
    const l = new RecordLifetimes();
    l.refresh('A.local', 10, 0);
    expect(l.tick(7_000)).toEqual({ expired: [], query: false });
    expect(l.tick(8_000)).toEqual({ expired: [], query: true });
    expect(l.tick(8_100)).toEqual({ expired: [], query: false });
    expect(l.tick(9_600)).toEqual({ expired: [], query: true });
    expect(l.tick(10_000)).toEqual({ expired: ['a.local'], query: false });
    expect(l.size).toBe(0);
  });

  it('a refresh restarts the clock; forget drops it', () => {
    const l = new RecordLifetimes();
    l.refresh('a', 2, 0);
    l.refresh('a', 2, 1_900);
    expect(l.tick(3_000).expired).toEqual([]);
    expect(l.tick(3_900).expired).toEqual(['a']);
    l.refresh('b', 2, 0);
    l.forget('B');
    expect(l.has('b')).toBe(false);
  });
});

describe('goodbye', () => {
  it('three sends 125 ms apart, squeezed into a short budget', () => {
    expect(planGoodbye(2_000)).toEqual({ repeats: 3, spacingMs: 125 });
    expect(planGoodbye(200)).toEqual({ repeats: 3, spacingMs: 50 });
    expect(planGoodbye(0)).toEqual({ repeats: 3, spacingMs: 0 });
  });

  it('re-sends every record with TTL 0', () => {
    const out = goodbyeRecords([
      { name: 'x', type: 'PTR', ttl: 28800, data: 'y' },
      { name: 'y', type: 'SRV', ttl: 120, data: {} },
    ]);
    expect(out.map((r) => r.ttl)).toEqual([0, 0]);
  });
});

describe('address records follow where the proxy listens', () => {
  const lib = [
    { name: 'n.local', type: 'A', ttl: 120, data: '192.0.2.5' },
    { name: 'n.local', type: 'AAAA', ttl: 120, data: 'fe80::5' },
    { name: 'svc', type: 'SRV', ttl: 120, data: {} },
  ];
  it('a proxy on one address is announced at that address only', () => {
    expect(addressRecords('n.local', '127.0.0.1', lib, null)).toEqual([{ name: 'n.local', type: 'A', ttl: 120, data: '127.0.0.1' }]);
    expect(addressRecords('n.local', '::1', lib, null)).toEqual([{ name: 'n.local', type: 'AAAA', ttl: 120, data: '::1' }]);
  });
  it('a wildcard proxy uses the interfaces, or the pinned one', () => {
    expect(addressRecords('n.local', '0.0.0.0', lib, null).map((r) => r.data)).toEqual(['192.0.2.5', 'fe80::5']);
    expect(addressRecords('n.local', '0.0.0.0', lib, '192.0.2.5').map((r) => r.data)).toEqual(['192.0.2.5']);
    expect(addressRecords('n.local', '0.0.0.0', lib, '10.0.0.9').map((r) => r.data)).toEqual(['10.0.0.9']);
  });
  it('replaces the library address records', () => {
    const ours = addressRecords('n.local', '127.0.0.1', lib, null);
    expect(serviceRecords(lib, ours).map((r) => `${r.type}:${String(r.data)}`)).toEqual(['SRV:[object Object]', 'A:127.0.0.1']);
  });
});

describe('instance names', () => {
  it('dots become dashes and conflicts get a suffix', () => {
    expect(candidateNames('edge.eu-1').slice(0, 3)).toEqual(['edge-eu-1', 'edge-eu-1-2', 'edge-eu-1-3']);
    expect(fqdnOf('a', 'graceful-edge')).toBe('a._graceful-edge._tcp.local');
  });
});

describe('name conflicts (RFC 6762 §9): rdata decides, not the sender', () => {
  const fqdn = 'node-a._graceful-edge._tcp.local';
  // The node's own records, built as the session builds them.
  const service = new Bonjour.Service(
    { name: 'node-a', type: 'graceful-edge', protocol: 'tcp', port: 8081, host: 'node-a.local', txt: encodeTxt({ nodeId: 'node-a', proxy: '127.0.0.1:8081', meshPort: 7947 }) },
    () => undefined,
    () => undefined,
  );
  const ours = service.records() as DnsRecord[];
  const srv = (port: number, target = 'node-a.local'): DnsRecord => ({ name: fqdn, type: 'SRV', ttl: 120, data: { port, target, priority: 0, weight: 0 } });

  it('our own records, after a trip through the wire codec (multicast loopback), are no conflict', () => {
    const looped = dnsPacket.decode(dnsPacket.encode({ type: 'response', answers: ours })).answers;
    expect(looped.some((r) => r.type === 'TXT')).toBe(true);
    expect(findConflict(looped, ours)).toBeNull();
  });

  it('the same name with another port, target or TXT is a conflict; case and trailing dots do not matter', () => {
    expect(findConflict([srv(9999)], ours)).toMatchObject({ record: { type: 'SRV' }, detail: 'SRV node-a.local:9999' });
    expect(findConflict([srv(8081, 'other.local')], ours)).not.toBeNull();
    expect(findConflict([{ name: fqdn.toUpperCase(), type: 'TXT', ttl: 4500, data: [Buffer.from('id=x')] }], ours)).toMatchObject({ detail: 'TXT of 5 bytes' });
    expect(findConflict([srv(8081, 'NODE-A.local.')], ours)).toBeNull();
    expect(findConflict([{ ...srv(8081), name: `${fqdn}.` }], ours)).toBeNull();
  });

  it('goodbyes, other names, shared and address records are never conflicts', () => {
    expect(findConflict([{ ...srv(9999), ttl: 0 }], ours)).toBeNull();
    expect(findConflict([{ ...srv(9999), name: 'node-b._graceful-edge._tcp.local' }], ours)).toBeNull();
    expect(findConflict([{ name: '_graceful-edge._tcp.local', type: 'PTR', ttl: 4500, data: 'x._graceful-edge._tcp.local' }], ours)).toBeNull();
    expect(findConflict([{ name: 'node-a.local', type: 'A', ttl: 120, data: '192.0.2.1' }], ours)).toBeNull();
    expect(findConflict([srv(9999)], [])).toBeNull();
  });

  it('TXT rdata compares as wire bytes (strings and buffers alike)', () => {
    expect(sameRdata('TXT', ['a=1', 'b=2'], [Buffer.from('a=1'), Buffer.from('b=2')])).toBe(true);
    expect(sameRdata('TXT', ['a=1', 'b=2'], ['a=1b=2'])).toBe(false);
    expect(sameRdata('TXT', ['a=1'], { bogus: true })).toBe(false);
  });

  it('a probe asks for the name and proposes only the records of that name', () => {
    const packet = probePacket(fqdn, ours);
    expect(packet.questions).toEqual([{ name: fqdn, type: 'ANY' }]);
    expect(packet.authorities.map((r) => r.type).sort()).toEqual(['SRV', 'TXT']);
  });

  it('names heard in use are remembered for their TTL; a goodbye withdraws the claim', () => {
    const seen = new SeenClaims();
    seen.remember([srv(9999)], 0);
    expect(seen.conflictWith(ours, 1_000)).not.toBeNull();
    expect(seen.conflictWith(ours, 120_000)).toBeNull();
    seen.remember([srv(9999)], 0);
    seen.remember([{ ...srv(9999), ttl: 0 }], 10);
    expect(seen.conflictWith(ours, 20)).toBeNull();
    seen.remember(ours, 0);
    expect(seen.conflictWith(ours, 10)).toBeNull();
  });

  it('simultaneous probes (RFC 6762 §8.2): records compare by type, then rdata bytes; identical is a tie', () => {
    const probe = (port: number, txt = 'id=a'): DnsRecord[] => [srv(port), { name: fqdn, type: 'TXT', ttl: 4500, data: [Buffer.from(txt)] }];
    // TXT (16) sorts before SRV (33): the TXT bytes decide first.
    expect(tiebreak(probe(8081, 'id=a'), probe(1, 'id=b'), fqdn)).toBe(-1);
    expect(tiebreak(probe(8081, 'id=b'), probe(9999, 'id=a'), fqdn)).toBe(1);
    // Same TXT: the SRV port (before the target in the rdata) decides.
    expect(tiebreak(probe(8081), probe(8082), fqdn)).toBe(-1);
    expect(tiebreak(probe(8082), probe(8081), fqdn)).toBe(1);
    expect(tiebreak(probe(8081), probe(8081), fqdn)).toBe(0);
    // Records left over win; records of other names do not count.
    expect(tiebreak(probe(8081), probe(8081).slice(1), fqdn)).toBe(1);
    expect(tiebreak(probe(8081), [...probe(8081), { ...srv(1), name: 'other.local' }], fqdn)).toBe(0);
    // The node's own probe, looped back through the codec, ties with itself.
    const looped = dnsPacket.decode(dnsPacket.encode({ type: 'response', answers: ours })).answers;
    expect(tiebreak(ours, looped, fqdn)).toBe(0);
  });

  it('fifteen conflicts within ten seconds mean five seconds between probes, until the window passes', () => {
    const limit = new ConflictRateLimit();
    for (let i = 0; i < 14; i++) limit.record(i * 100);
    expect(limit.delayBeforeProbe(1_400)).toBe(0);
    limit.record(1_400);
    expect(limit.delayBeforeProbe(1_500)).toBe(5_000);
    expect(limit.delayBeforeProbe(10_050)).toBe(0);
  });
});
