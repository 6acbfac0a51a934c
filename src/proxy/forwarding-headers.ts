/**
 * Which headers cross the proxy. Hop-by-hop fields (RFC 9110 §7.6.1) belong
 * to one connection and are dropped both ways; X-Forwarded-* tell the target
 * who asked; the hop header marks a request one node already routed.
 */
import type http from 'node:http';

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

/** Headers for the outgoing request to one target. */
export function requestHeadersFor(
  req: http.IncomingMessage,
  opts: { toPeer: boolean; nodeId: string; encrypted: boolean },
): http.OutgoingHttpHeaders {
  const out = withoutHopByHop(req.headers);
  const remote = req.socket.remoteAddress;
  if (remote) out['x-forwarded-for'] = append(req.headers['x-forwarded-for'], remote.startsWith('::ffff:') ? remote.slice(7) : remote);
  // The first proxy knows how the client came in; later hops keep its answer.
  if (!req.headers['x-forwarded-proto']) out['x-forwarded-proto'] = opts.encrypted ? 'https' : 'http';
  if (!req.headers['x-forwarded-host'] && req.headers.host) out['x-forwarded-host'] = req.headers.host;
  if (opts.toPeer) out[HOP_HEADER] = opts.nodeId;
  return out;
}

/** Headers for the client, from the target's response. */
export function responseHeadersFrom(headers: http.IncomingHttpHeaders, closing: boolean): http.OutgoingHttpHeaders {
  const out = withoutHopByHop(headers);
  if (closing) out.connection = 'close';
  return out;
}
