/** Pure parts of the admin's hardening: loopback judgement, Host names, /state paging. */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { hostNameOf, isLoopbackAddress, loopbackHostAllowed } from '../../src/admin/host-guard.js';
import { DEFAULT_PEERS_LIMIT, peersPageOf } from '../../src/admin/state-view.js';
import { isLoopbackHost } from '../../src/config/host-port.js';

const req = (host?: string) => ({ headers: host === undefined ? {} : { host } }) as IncomingMessage;

describe('loopback', () => {
  it('judges bound addresses', () => {
    for (const a of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', 'localhost']) expect(isLoopbackAddress(a), a).toBe(false);
  });

  it('a name that starts with 127. is not a loopback literal', () => {
    expect(isLoopbackHost('127.admin.internal')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.nip.io')).toBe(false);
    expect(isLoopbackHost('127.0.0.2')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
  });
});

describe('Host header', () => {
  it('parses names, ports and IPv6 brackets', () => {
    expect(hostNameOf('Example.COM:9090')).toBe('example.com');
    expect(hostNameOf('[::1]:9090')).toBe('::1');
    expect(hostNameOf('[::1')).toBeNull();
    expect(hostNameOf('localhost')).toBe('localhost');
  });

  it('allows loopback names only', () => {
    for (const h of ['localhost', 'localhost:1', 'a.localhost:2', '127.0.0.1:3', '[::1]:4', undefined]) expect(loopbackHostAllowed(req(h)), String(h)).toBe(true);
    for (const h of ['evil.test', '127.0.0.1.nip.io', 'localhost.evil.test', '10.0.0.1:9090', '[::2]:1', '']) expect(loopbackHostAllowed(req(h)), h).toBe(false);
  });
});

describe('/state peers page', () => {
  const q = (s: string) => peersPageOf(new URLSearchParams(s));
  it('defaults, bounds and rejects', () => {
    expect(q('')).toEqual({ limit: DEFAULT_PEERS_LIMIT, offset: 0 });
    expect(q('limit=5&offset=10')).toEqual({ limit: 5, offset: 10 });
    expect(q('limit=10000')).toEqual({ limit: 10_000, offset: 0 });
    expect(q('limit=10001')).toMatch(/limit must be/);
    expect(q('limit=-1')).toMatch(/limit must be/);
    expect(q('offset=x')).toMatch(/offset must be/);
  });
});
