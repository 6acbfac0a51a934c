/**
 * Makes an HTTP/2 compat request look, to the forwarding path, like the
 * HTTP/1.1 request both engines were written for: upstreams stay HTTP/1.1.
 * - `headers` without pseudo-headers (`:method`, `:path`…), `Host` from
 *   `:authority`, and writable (the http-proxy engine replaces it; on
 *   `Http2ServerRequest` it is a getter only, and the assignment threw);
 * - `writeHead` drops the connection-specific fields HTTP/2 forbids
 *   (RFC 9113 §8.2.2; Node throws ERR_HTTP2_INVALID_CONNECTION_HEADERS):
 *   `Connection: close` while draining becomes the session's GOAWAY instead;
 * - `destroyed` (absent on `Http2ServerResponse`) follows the stream.
 */
import type http from 'node:http';
import type http2 from 'node:http2';

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function withoutConnectionSpecific(headers: http.OutgoingHttpHeaders): http.OutgoingHttpHeaders {
  let copy: http.OutgoingHttpHeaders | null = null;
  for (const name in headers) {
    if (CONNECTION_SPECIFIC.has(name.toLowerCase())) {
      copy ??= { ...headers };
      delete copy[name];
    }
  }
  return copy ?? headers;
}

export function adaptHttp2(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  const h = req.headers;
  const out: http.IncomingHttpHeaders = {};
  for (const name in h) if (name.charCodeAt(0) !== 58 /* ':' */) out[name] = h[name] as string | string[];
  if (out.host === undefined && typeof h[':authority'] === 'string') out.host = h[':authority'];
  Object.defineProperty(req, 'headers', { value: out, writable: true, configurable: true, enumerable: true });

  const writeHead = res.writeHead as (this: http2.Http2ServerResponse, status: number, ...rest: unknown[]) => http2.Http2ServerResponse;
  const patched = function (this: http2.Http2ServerResponse, status: number, a?: unknown, b?: unknown) {
    for (const name of CONNECTION_SPECIFIC) if (this.hasHeader(name)) this.removeHeader(name);
    if (typeof a === 'string') return writeHead.call(this, status, a, b ? withoutConnectionSpecific(b as http.OutgoingHttpHeaders) : undefined);
    return writeHead.call(this, status, a ? withoutConnectionSpecific(a as http.OutgoingHttpHeaders) : undefined);
  };
  Object.defineProperty(res, 'writeHead', { value: patched, writable: true, configurable: true });
  Object.defineProperty(res, 'destroyed', { get: () => res.stream.destroyed, configurable: true });
}

/** True for a request that came over HTTP/2. */
export function isHttp2Request(req: http.IncomingMessage): boolean {
  return req.httpVersionMajor === 2;
}
