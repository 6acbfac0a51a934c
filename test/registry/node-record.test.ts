/** The etcd node record: what a node writes, and what is refused when read back. */
import { describe, expect, it } from 'vitest';
import { MAX_RECORD_BYTES, decodeNodeRecord, encodeNodeRecord, peerFromRecord } from '../../src/registry/node-record.js';

const record = { id: 'node-a', address: '127.0.0.1:8081', meshPort: 7947, startedAt: 1_700_000_000_000 };

describe('node record', () => {
  it('round-trips and becomes an alive etcd peer', () => {
    const decoded = decodeNodeRecord(Buffer.from(encodeNodeRecord(record)));
    expect(decoded).toEqual({ ok: true, record });
    expect(peerFromRecord(record, 5)).toEqual({
      address: '127.0.0.1:8081',
      meshPort: 7947,
      id: 'node-a',
      source: 'etcd',
      status: 'alive',
      lastSeen: 5,
    });
  });

  it('normalises an IPv6 address', () => {
    const decoded = decodeNodeRecord(JSON.stringify({ ...record, address: '[::1]:8081' }));
    expect(decoded.ok && decoded.record.address).toBe('[::1]:8081');
  });

  it.each([
    ['not JSON', 'hello', /not JSON/],
    ['JSON but not an object', '42', /value/],
    ['missing address', JSON.stringify({ id: 'x', meshPort: 1, startedAt: 1 }), /address/],
    ['address without port', JSON.stringify({ ...record, address: '127.0.0.1' }), /address: expected HOST:PORT/],
    ['mesh port out of range', JSON.stringify({ ...record, meshPort: 70000 }), /meshPort/],
    ['empty id', JSON.stringify({ ...record, id: '' }), /id/],
    ['oversized', 'x'.repeat(MAX_RECORD_BYTES + 1), /bytes/],
  ])('refuses %s with a reason', (_name, value, reason) => {
    const decoded = decodeNodeRecord(Buffer.from(value));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toMatch(reason);
  });
});
