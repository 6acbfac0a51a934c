/** The pure parts of the HTTP rules: request targets, refusals, forwarding headers, trusted-proxy config. */
import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/schema.js';
import { parseCidr, requestHeadersFor, trustedProxyList, upgradeHeadersFor } from '../../src/proxy/forwarding-headers.js';
import { hasOtherCoding, refusalFor } from '../../src/proxy/http-rules/request-rules.js';
import { headWithoutUpgrade, isWebSocketUpgrade } from '../../src/proxy/http-rules/plain-upgrade.js';
import { informationalHead } from '../../src/proxy/http-rules/informational.js';
import { absoluteFormAuthority, targetPath } from '../../src/proxy/target-path.js';
import { MeshPeerHosts } from '../../src/proxy/mesh-peer-hosts.js';
import { runCli } from '../helpers/daemon.js';

function fakeReq(raw: string[], opts: { version?: string; url?: string; method?: string; remote?: string } = {}): http.IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) headers[raw[i]!.toLowerCase()] ??= raw[i + 1]!;
  const [major, minor] = (opts.version ?? '1.1').split('.').map(Number);
  return {
    rawHeaders: raw,
    headers,
    httpVersion: opts.version ?? '1.1',
    httpVersionMajor: major,
    httpVersionMinor: minor,
    url: opts.url ?? '/',
    method: opts.method ?? 'GET',
    socket: { remoteAddress: opts.remote ?? '127.0.0.1' },
  } as unknown as http.IncomingMessage;
}

describe('targetPath', () => {
  const bare = new URL('http://127.0.0.1:1');
  const based = new URL('http://127.0.0.1:1/api/');
  it.each([
    ['/a/./b/../c', '/a/./b/../c'],
    ["/x'y?q=%7e&", "/x'y?q=%7e&"],
    ['//double', '//double'],
    ['*', '*'],
    ["http://h.test/a/%2e%2e/b?q=%41'", "/a/%2e%2e/b?q=%41'"],
    ['http://h.test?only', '/?only'],
    ['http://h.test', '/'],
    ['http://user@h.test:8/p#frag', '/p'],
  ])('%s → %s', (target, expected) => expect(targetPath(bare, target)).toBe(expected));
  it('prefixes an upstream base path', () => expect(targetPath(based, '/x/../y')).toBe('/api/x/../y'));
  it('reads the authority of an absolute-form target', () => {
    expect(absoluteFormAuthority('http://user:pw@h.test:8080/x')).toBe('h.test:8080');
    expect(absoluteFormAuthority('/x')).toBeNull();
  });
});

describe('refusalFor', () => {
  it('passes an ordinary request', () => expect(refusalFor(fakeReq(['Host', 'a', 'Accept', '*/*']))).toBeNull());
  it('refuses two Host lines, any case', () => expect(refusalFor(fakeReq(['Host', 'a', 'HOST', 'b']))?.rule).toBe('duplicate-host'));
  it('refuses Transfer-Encoding on HTTP/1.0', () =>
    expect(refusalFor(fakeReq(['Host', 'a', 'Transfer-Encoding', 'chunked'], { version: '1.0' }))?.status).toBe(400));
  it('answers 501 to a coding other than chunked', () => {
    expect(refusalFor(fakeReq(['Host', 'a', 'transfer-encoding', 'gzip, chunked']))?.status).toBe(501);
    expect(hasOtherCoding('Chunked')).toBe(false);
    expect(hasOtherCoding('chunked , chunked')).toBe(false);
    expect(hasOtherCoding('identity')).toBe(true);
  });
});

describe('plain upgrade', () => {
  it('tells a websocket offer from others', () => {
    expect(isWebSocketUpgrade(fakeReq([], {}) as never)).toBe(false);
    expect(isWebSocketUpgrade({ headers: { upgrade: 'WebSocket' } } as unknown as http.IncomingMessage)).toBe(true);
    expect(isWebSocketUpgrade({ headers: { upgrade: 'h2c' } } as unknown as http.IncomingMessage)).toBe(false);
  });
  it('rebuilds the head without the offer', () => {
    const req = fakeReq(['Host', 'a', 'Connection', 'Upgrade, HTTP2-Settings', 'Upgrade', 'h2c', 'HTTP2-Settings', 'xyz'], { url: '/p?q' });
    expect(headWithoutUpgrade(req)).toBe('GET /p?q HTTP/1.1\r\nHost: a\r\nConnection: HTTP2-Settings\r\nHTTP2-Settings: xyz\r\n\r\n');
  });
});

describe('informational heads', () => {
  it('keeps end-to-end fields, drops hop-by-hop ones', () =>
    expect(informationalHead(103, { link: ['</a>; rel=preload', '</b>; rel=preload'], connection: 'x' })).toBe(
      'HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\nlink: </b>; rel=preload\r\n\r\n',
    ));
});

describe('forwarding headers', () => {
  const spoof = ['Host', 'real.test', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil.test', 'Forwarded', 'for=6.6.6.6'];
  it('replaces what an untrusted client claims', () => {
    const out = requestHeadersFor(fakeReq(spoof), { toPeer: false, nodeId: 'n', encrypted: true, trusted: null });
    expect(out).toMatchObject({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'real.test', forwarded: 'for=127.0.0.1;host=real.test;proto=https' });
  });
  it('keeps a trusted proxy’s values and appends to Forwarded; quotes IPv6', () => {
    const out = requestHeadersFor(fakeReq(spoof, { remote: '::1' }), { toPeer: false, nodeId: 'n', encrypted: false, trusted: trustedProxyList(['::1/128']) });
    expect(out).toMatchObject({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test', forwarded: 'for=6.6.6.6, for="[::1]";host=real.test;proto=http' });
  });
  it('keeps a mesh peer’s values only when it sent the hop header from an address in the routing table', () => {
    const table = { version: 1, list: () => [{ address: '10.0.0.2:8080' }, { address: '[2001:db8::7]:8080' }, { address: 'edge-c.internal:8080' }] };
    const meshPeers = new MeshPeerHosts(table as unknown as ConstructorParameters<typeof MeshPeerHosts>[0]);
    const hop = [...spoof, 'X-Graceful-Edge-Hop', 'node-b'];
    const opts = { toPeer: false, nodeId: 'n', encrypted: false, trusted: null, meshPeers };
    expect(requestHeadersFor(fakeReq(hop, { remote: '10.0.0.2' }), opts)).toMatchObject({ 'x-forwarded-proto': 'https', forwarded: 'for=6.6.6.6, for=10.0.0.2;host=real.test;proto=http' });
    expect(requestHeadersFor(fakeReq(hop, { remote: '2001:db8:0:0::7' }), opts)).toMatchObject({ 'x-forwarded-proto': 'https' });
    // The header alone, from elsewhere: a client claiming to be a peer.
    expect(requestHeadersFor(fakeReq(hop, { remote: '10.0.0.3' }), opts)).toMatchObject({ 'x-forwarded-proto': 'http', forwarded: 'for=10.0.0.3;host=real.test;proto=http' });
    // A peer's address without the header: a client on the peer's host, not a forwarded request.
    expect(requestHeadersFor(fakeReq(spoof, { remote: '10.0.0.2' }), opts)).toMatchObject({ 'x-forwarded-proto': 'http', 'x-forwarded-host': 'real.test' });
    expect(meshPeers.isPeer('edge-c.internal')).toBe(false);
  });
  it('gives an upgrade the same rules and restates the handshake’s hop-by-hop fields', () => {
    const raw = [
      ...spoof,
      'Connection', 'keep-alive, Upgrade, X-Private, Sec-WebSocket-Key',
      'Upgrade', 'websocket, foo/1',
      'X-Private', '1',
      'Proxy-Authorization', 'Basic x',
      'Sec-WebSocket-Key', 'k',
      'Sec-WebSocket-Version', '13',
      'Via', '1.0 lb',
    ];
    const out = upgradeHeadersFor(fakeReq(raw), { toPeer: true, nodeId: 'n', encrypted: false, trusted: null });
    expect(out).toMatchObject({
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'k',
      'sec-websocket-version': '13',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'real.test',
      forwarded: 'for=127.0.0.1;host=real.test;proto=http',
      via: '1.0 lb, 1.1 n',
      'x-graceful-edge-hop': 'n',
    });
    for (const name of ['x-private', 'proxy-authorization', 'keep-alive']) expect(out, name).not.toHaveProperty(name);
  });
  it('parses CIDRs and refuses bad ones', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('2001:db8::1')).toMatchObject({ prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', 'ten', '10.0.0.0/', '10.0.0.0/8x']) expect(() => parseCidr(bad), bad).toThrow();
    expect(trustedProxyList(['10.0.0.0/8'])!.check('10.1.2.3')).toBe(true);
  });
});

describe('--trusted-proxy', () => {
  it('is repeatable, from env as a list, and validated', () => {
    expect(loadConfig({ flags: { trustedProxy: ['10.0.0.0/8', '::1'] }, env: {} }).trustedProxies).toEqual(['10.0.0.0/8', '::1']);
    expect(loadConfig({ flags: {}, env: { GRACEFUL_EDGE_TRUSTED_PROXY: '10.0.0.0/8, 192.168.0.1' } }).trustedProxies).toEqual(['10.0.0.0/8', '192.168.0.1']);
    expect(() => loadConfig({ flags: { trustedProxy: ['nope'] }, env: {} })).toThrow(ConfigError);
  });
  it('a bad value exits 2 naming the option', async () => {
    const r = await runCli(['run', '--trusted-proxy', '10.0.0.0/99']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--trusted-proxy');
  });
});
