/**
 * The proxy's listening server: plain HTTP/1.1, or with `--tls-cert/--tls-key`
 * TLS with ALPN `h2` and `http/1.1` (`http2.createSecureServer({ allowHTTP1 })`).
 * Either way requests reach the same handler as HTTP/1.1-shaped req/res
 * (HTTP/2 adapted by http2-compat.ts); upstreams stay HTTP/1.1.
 *
 * Bad TLS input (a plain-HTTP client, random bytes, a truncated handshake, a
 * handshake that never finishes) costs its own socket only: refused, counted
 * in `graceful_edge_tls_handshake_failures_total{reason}`, logged at most once
 * per reason every 5 s; handshakes time out after TLS_HANDSHAKE_TIMEOUT_MS.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from '../../log/logger.js';
import { RateLimitedLog } from '../../log/rate-limited-log.js';
import type { Shared } from '../../runtime.js';
import { adaptHttp2 } from './http2-compat.js';
import { Http2Sessions } from './http2-sessions.js';

export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface ProxyListener {
  server: http.Server | http2.Http2SecureServer;
  scheme: 'http' | 'https';
  /** The event whose socket is a request's `req.socket` (`secureConnection` under TLS). */
  connectionEvent: 'connection' | 'secureConnection';
  /** HTTP/2 sessions (TLS only). */
  sessions: Http2Sessions | null;
}

/** Sorts a handshake failure into a few stable reasons. */
export function handshakeFailureReason(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  const text = `${code} ${err.message}`;
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (/HTTP_REQUEST|WRONG_VERSION_NUMBER|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE/i.test(text)) return 'not_tls';
  if (code === 'ECONNRESET' || /socket hang up|disconnected before secure/i.test(text)) return 'truncated';
  if (/NO_SHARED|UNSUPPORTED_PROTOCOL|VERSION_TOO_LOW|NO_PROTOCOLS/i.test(text)) return 'no_common_protocol';
  return 'other';
}

export const TLS_FAILURES_METRIC = 'graceful_edge_tls_handshake_failures_total';

/** Also the node's own with `--workers N`: it adds up what the workers count (src/workers/). */
export function failureCounter(rt: Shared): { inc: (labels: { reason: string }, n?: number) => void } {
  const name = TLS_FAILURES_METRIC;
  const existing = rt.metrics.registry.getSingleMetric(name);
  if (existing) return existing as unknown as { inc: (labels: { reason: string }, n?: number) => void };
  return new rt.metrics.client.Counter({
    name,
    help: 'TLS handshakes refused on the proxy listener, by reason (not_tls, truncated, timeout, no_common_protocol, other)',
    labelNames: ['reason'],
    registers: [rt.metrics.registry],
  });
}

export function createProxyListener(rt: Shared, handler: Handler, log: Logger, plainOptions: http.ServerOptions = {}): ProxyListener {
  const files = rt.config.tls;
  if (!files) return { server: http.createServer(plainOptions, handler), scheme: 'http', connectionEvent: 'connection', sessions: null };

  const sessions = new Http2Sessions();
  const failures = failureCounter(rt);
  const limiter = new RateLimitedLog(5_000);
  const server = http2.createSecureServer(
    {
      cert: files.cert,
      key: files.key,
      allowHTTP1: true,
      ALPNProtocols: ['h2', 'http/1.1'],
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      if (req.httpVersionMajor === 2) adaptHttp2(req, res);
      handler(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
    },
  );
  server.on('session', (s: http2.ServerHttp2Session) => sessions.add(s));
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    const reason = handshakeFailureReason(err);
    failures.inc({ reason });
    const suppressed = limiter.admit(reason);
    if (suppressed !== null) {
      log.warn({ reason, code: err.code, remote: socket.remoteAddress, suppressed }, 'TLS handshake refused');
    }
    socket.destroy();
  });
  return { server, scheme: 'https', connectionEvent: 'secureConnection', sessions };
}

/** True for a TLS socket that negotiated HTTP/2 (its streams are tracked per session, not per socket). */
export function isHttp2Socket(socket: net.Socket): boolean {
  return (socket as tls.TLSSocket).alpnProtocol === 'h2';
}
