import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { passedThrough, viaEntry, viaWith } from '../../src/proxy/http-rules/via.js';

const req = (major: number, minor: number) => ({ httpVersionMajor: major, httpVersionMinor: minor }) as http.IncomingMessage;

describe('Via (RFC 9110 §7.6.3)', () => {
  it("names the protocol version the node received and its node id, after the client's entries", () => {
    expect(viaEntry(req(1, 1), 'node-a')).toBe('1.1 node-a');
    expect(viaEntry(req(1, 0), 'node-a')).toBe('1.0 node-a');
    expect(viaEntry(req(2, 0), 'node-a')).toBe('2 node-a');
    expect(viaWith(undefined, '1.1 node-a')).toBe('1.1 node-a');
    expect(viaWith('', '1.1 node-a')).toBe('1.1 node-a');
    expect(viaWith('1.0 lb', '1.1 node-a')).toBe('1.0 lb, 1.1 node-a');
    expect(viaWith(['1.0 lb', 'HTTP/1.1 cdn (Cache)'], '1.1 node-a')).toBe('1.0 lb, HTTP/1.1 cdn (Cache), 1.1 node-a');
  });

  it('sees this node in any entry, with or without a protocol name or a comment; not a node whose id only contains it', () => {
    expect(passedThrough(undefined, 'node-a')).toBe(false);
    expect(passedThrough('1.1 node-a', 'node-a')).toBe(true);
    expect(passedThrough('1.0 lb, HTTP/1.1 node-a (graceful-edge)', 'node-a')).toBe(true);
    expect(passedThrough(['1.0 lb', '2 node-a'], 'node-a')).toBe(true);
    expect(passedThrough('1.1 node-ab, 1.1 xnode-a', 'node-a')).toBe(false);
    expect(passedThrough('1.1 lb (node-a, said the comment)', 'node-a')).toBe(false);
    expect(passedThrough('1.1\tnode-a', 'node-a')).toBe(true);
  });
});
