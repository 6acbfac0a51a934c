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
import { sendJson } from '../http/json-response.js';

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

/** This node is leaving and no live peer can take the request: try again elsewhere. */
export function sendDraining(res: http.ServerResponse): void {
  sendJson(
    res,
    503,
    { error: 'this node is shutting down', retry: true },
    { closing: true, headers: { 'retry-after': '1', [DRAINING_HEADER]: '1' } },
  );
}
