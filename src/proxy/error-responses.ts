/**
 * The proxy's own answers: short JSON bodies an operator (or a peer) can
 * read. They never name a target: an upstream URL may carry credentials and
 * is none of an anonymous client's business (issue 11, item 15); the log
 * says which target failed, with its credentials removed.
 */
import type http from 'node:http';
import type { Logger } from '../log/logger.js';
import { DRAINING_HEADER } from './forwarding-headers.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';

/** A target key fit for a log line: an upstream URL without its user and password. */
export function redactTarget(key: string): string {
  if (!key.includes('@')) return key;
  try {
    const u = new URL(key);
    if (!u.username && !u.password) return key;
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    // Not a URL (a peer's host:port never holds '@'): drop anything before it.
    return key.slice(key.lastIndexOf('@') + 1);
  }
}

const gatewayErrors = new RateLimitedLog(1_000);

/**
 * A 502/504 for a target that failed: the client learns what happened, the
 * log learns where (one line per target and status a second, `suppressed`
 * counting the rest).
 */
export function sendGatewayError(
  res: http.ServerResponse,
  logger: Logger,
  status: 502 | 504,
  error: string,
  targetKey: string,
  opts: { closing: boolean },
): void {
  const target = redactTarget(targetKey);
  gatewayErrors.hit(`${status} ${targetKey}`, (suppressed) =>
    logger.warn({ status, target, error, suppressed }, 'answered a gateway error for a target'),
  );
  sendJson(res, status, { error }, opts);
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: Record<string, unknown>,
  opts: { closing: boolean; headers?: http.OutgoingHttpHeaders },
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(opts.closing ? { connection: 'close' } : {}),
    ...opts.headers,
  });
  res.end(text);
}

/** This node is leaving and no live peer can take the request: try again elsewhere. */
export function sendDraining(res: http.ServerResponse): void {
  sendJson(
    res,
    503,
    { error: 'this node is shutting down', retry: true },
    { closing: true, headers: { 'retry-after': '1', [DRAINING_HEADER]: '1' } },
  );
}

/** The same answer on a raw socket (a WebSocket upgrade that came too late). */
export function writeRawJson(socket: import('node:net').Socket, status: number, reason: string, body: Record<string, unknown>, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(text)}`,
    'connection: close',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  if (socket.writable) socket.end(`${head}\r\n\r\n${text}`);
  else socket.destroy();
}
