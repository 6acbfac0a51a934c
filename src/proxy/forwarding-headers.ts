/**
 * Which headers cross the proxy. Hop-by-hop fields (RFC 9110 §7.6.1) belong
 * to one connection and are dropped both ways; X-Forwarded-* and RFC 7239
 * `Forwarded` tell the target who asked, how and for which host; the hop
 * header marks a request one node already routed; `Via` names every node
 * the request passed (http-rules/via.ts: loop detection).
 *
 * At the edge, client-supplied `X-Forwarded-Proto` / `-Host` / `Forwarded`
 * are a spoofing path (an origin that trusts them can be told a plain request
 * was HTTPS, or another host's name): they are replaced by what this node saw,
 * and kept only from a `--trusted-proxy` address (a load balancer in front),
 * or from a mesh peer forwarding a request (the hop header, sent from an
 * address in the routing table: mesh-peer-hosts.ts). `X-Forwarded-For` is
 * always appended to (origins read it from the right).
 *
 * WebSocket upgrades get the same headers (`upgradeHeadersFor`): an origin
 * sees the same client facts on a tunnel as on any request.
 */
import type http from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { PeerAddressCheck } from './mesh-peer-hosts.js';
import { absoluteFormAuthority } from './target-path.js';
import { viaEntry, viaWith } from './http-rules/via.js';

export const HOP_HEADER = 'x-graceful-edge-hop';
export const DRAINING_HEADER = 'x-graceful-edge-draining';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node answers `Expect: 100-continue` itself before the body is read.
  'expect',
]);

/**
 * Extra field names a `Connection` header declares hop-by-hop. Most clients
 * send just `keep-alive` or `close` (or nothing): no Set is built for them.
 */
/** True for a field that belongs to one connection only. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a single address; throws with a reason. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const v = isIP(address);
  if (v === 0) throw new Error(`"${text}" is not an IP address or CIDR range`);
  const max = v === 4 ? 32 : 128;
  const prefix = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1)))) {
    throw new Error(`"${text}" has a bad prefix length (0-${max})`);
  }
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** Addresses whose X-Forwarded-* / Forwarded values are kept (null: none). */
export function trustedProxyList(cidrs: readonly string[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const c of cidrs) {
    const { address, prefix, family } = parseCidr(c);
    list.addSubnet(address, prefix, family);
  }
  return list;
}

function namedByConnection(value: string | string[] | undefined): Set<string> | null {
  if (!value) return null;
  if (typeof value === 'string') {
    const v = value.length <= 10 ? value.toLowerCase() : '';
    if (v === 'keep-alive' || v === 'close') return null;
  }
  const named = new Set<string>();
  for (const t of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = t.trim().toLowerCase();
    if (name) named.add(name);
  }
  return named;
}

function withoutHopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = namedByConnection(headers.connection);
  const out: http.OutgoingHttpHeaders = {};
  // for…in over Node's header object (a plain object, own keys only) avoids
  // the per-request [name, value] arrays of Object.entries.
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (named !== null && named.has(name))) continue;
    out[name] = value;
  }
  return out;
}

function append(existing: string | string[] | undefined, value: string): string {
  const prior = Array.isArray(existing) ? existing.join(', ') : existing;
  return prior ? `${prior}, ${value}` : value;
}

/** `for=` / `host=` value of a Forwarded element: a token, or a quoted string (RFC 7239 §4, §6). */
function forwardedValue(v: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`;
}

function forwardedElement(remote: string, host: string | undefined, proto: string): string {
  const node = remote.includes(':') ? `"[${remote}]"` : remote;
  return host ? `for=${node};host=${forwardedValue(host)};proto=${proto}` : `for=${node};proto=${proto}`;
}

/** What the header rules need to know about the node and the target of one forwarded request. */
export interface ForwardingContext {
  toPeer: boolean;
  nodeId: string;
  /** The client's connection is TLS (X-Forwarded-Proto / Forwarded say https). */
  encrypted: boolean;
  trusted?: BlockList | null;
  meshPeers?: PeerAddressCheck | null;
}

/** Headers for the outgoing request to one target. */
export function requestHeadersFor(req: http.IncomingMessage, opts: ForwardingContext): http.OutgoingHttpHeaders {
  const out = withoutHopByHop(req.headers);
  const raw = req.socket.remoteAddress;
  const remote = raw?.startsWith('::ffff:') ? raw.slice(7) : raw;
  // An absolute-form target names the host; its Host field is ignored (RFC 9112 §3.2.2).
  const url = req.url;
  if (url !== undefined && url.charCodeAt(0) !== 47 && url !== '*') {
    const authority = absoluteFormAuthority(url);
    if (authority) out.host = authority;
  }
  const host = typeof out.host === 'string' ? out.host : undefined;
  const proto = opts.encrypted ? 'https' : 'http';
  const keep =
    remote !== undefined &&
    ((opts.trusted != null && opts.trusted.check(remote, remote.includes(':') ? 'ipv6' : 'ipv4')) ||
      (opts.meshPeers != null && req.headers[HOP_HEADER] !== undefined && opts.meshPeers.isPeer(remote)));
  if (remote) out['x-forwarded-for'] = append(req.headers['x-forwarded-for'], remote);
  if (keep) {
    // A trusted proxy (or the peer) in front already said how the client came in.
    if (!req.headers['x-forwarded-proto']) out['x-forwarded-proto'] = proto;
    if (!req.headers['x-forwarded-host'] && host) out['x-forwarded-host'] = host;
    if (remote) out.forwarded = append(req.headers.forwarded, forwardedElement(remote, host, proto));
  } else {
    out['x-forwarded-proto'] = proto;
    if (host) out['x-forwarded-host'] = host;
    else delete out['x-forwarded-host'];
    if (remote) out.forwarded = forwardedElement(remote, host, proto);
    else delete out.forwarded;
  }
  out.via = viaWith(req.headers.via, viaEntry(req, opts.nodeId));
  if (opts.toPeer) out[HOP_HEADER] = opts.nodeId;
  return out;
}

/**
 * Headers for a WebSocket upgrade to one target: the same rules as any
 * request, plus the handshake's own fields. `Connection` and `Upgrade` are
 * hop-by-hop, so this hop states them anew, offering only what is tunnelled;
 * `Sec-WebSocket-*` are end-to-end (RFC 6455 §4.1) and kept even when a
 * client named one in `Connection`, since the handshake fails without them.
 */
export function upgradeHeadersFor(req: http.IncomingMessage, opts: ForwardingContext): http.OutgoingHttpHeaders {
  const out = requestHeadersFor(req, opts);
  out.connection = 'Upgrade';
  out.upgrade = 'websocket';
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined && name.startsWith('sec-websocket-')) out[name] = value;
  }
  return out;
}

/** Headers for the client, from the target's response. */
export function responseHeadersFrom(headers: http.IncomingHttpHeaders, closing: boolean): http.OutgoingHttpHeaders {
  const out = withoutHopByHop(headers);
  if (closing) out.connection = 'close';
  return out;
}
