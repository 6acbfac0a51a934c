/**
 * Request shapes the proxy refuses instead of relaying (RFC 9112). Node's
 * parser already rejects the smuggling shapes (CL+TE, conflicting
 * Content-Lengths, bad chunk sizes, obs-fold) with a 400 and a close; what it
 * lets through and this module catches is checked in one pass over
 * `req.rawHeaders`, allocating nothing for an ordinary request.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../log/logger.js';
import { RateLimitedLog } from '../../log/rate-limited-log.js';
import { sendJson, writeRawJson } from '../../http/json-response.js';
import { LOOP_DETECTED, passedThrough } from './via.js';

export interface Refusal {
  status: 400 | 501 | 508;
  /** Stable name for logs and docs. */
  rule: string;
  rfc: string;
  /** The JSON body's `error`. */
  error: string;
}

const TWO_HOSTS: Refusal = {
  status: 400,
  rule: 'duplicate-host',
  rfc: 'RFC 9112 §3.2',
  error: 'bad request: more than one Host header field',
};
const NO_HOST: Refusal = {
  status: 400,
  rule: 'missing-host',
  rfc: 'RFC 9112 §3.2',
  error: 'bad request: an HTTP/1.1 request needs a Host header field',
};
const TE_ON_HTTP10: Refusal = {
  status: 400,
  rule: 'transfer-encoding-http10',
  rfc: 'RFC 9112 §6.1',
  error: 'bad request: Transfer-Encoding in an HTTP/1.0 request (faulty framing)',
};
const UNKNOWN_CODING: Refusal = {
  status: 501,
  rule: 'unknown-transfer-coding',
  rfc: 'RFC 9112 §6.1',
  error: 'not implemented: a transfer coding other than chunked',
};

/** True when a comma-separated Transfer-Encoding value names anything but `chunked`. */
export function hasOtherCoding(value: string): boolean {
  if (value.length === 7 && value.toLowerCase() === 'chunked') return false;
  for (const token of value.split(',')) {
    const t = token.trim();
    if (t !== '' && t.toLowerCase() !== 'chunked') return true;
  }
  return false;
}

const isName = (raw: string, lower: string): boolean =>
  raw.length === lower.length && (raw === lower || raw.toLowerCase() === lower);

/** The rule a request breaks, or null. Called once per request, before any target is picked. */
export function refusalFor(req: http.IncomingMessage): Refusal | null {
  const raw = req.rawHeaders;
  let hosts = 0;
  let te = false;
  let otherCoding = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Only names of these two lengths can matter: most fields cost one compare.
    if (name.length === 4) {
      if (isName(name, 'host')) hosts++;
    } else if (name.length === 17 && isName(name, 'transfer-encoding')) {
      te = true;
      if (hasOtherCoding(raw[i + 1]!)) otherCoding = true;
    }
  }
  if (hosts > 1) return TWO_HOSTS;
  const http10 = req.httpVersionMajor === 1 && req.httpVersionMinor === 0;
  if (hosts === 0 && !http10 && req.httpVersionMajor === 1) return NO_HOST;
  if (te && http10) return TE_ON_HTTP10;
  if (otherCoding) return UNKNOWN_CODING;
  return null;
}

/**
 * What this node refuses of a request, plain or an upgrade: the rules above,
 * then a loop back through the node (its `Via` names it: via.ts).
 */
export function refusalAtNode(req: http.IncomingMessage, nodeId: string): Refusal | null {
  return refusalFor(req) ?? (passedThrough(req.headers.via, nodeId) ? LOOP_DETECTED : null);
}

/** The outcome label a refusal is counted under. */
export function refusalOutcome(r: Refusal): 'bad_request' | 'not_implemented' | 'loop_detected' {
  return r.status === 400 ? 'bad_request' : r.status === 508 ? 'loop_detected' : 'not_implemented';
}

const limiter = new RateLimitedLog(5_000);

/** One log line per rule every 5 s at most: a flood of bad requests costs a counter, not a line each. */
function logRefusal(r: Refusal, remote: string | undefined, logger: Logger): void {
  const suppressed = limiter.admit(r.rule);
  if (suppressed !== null) {
    logger.warn({ rule: r.rule, status: r.status, rfc: r.rfc, remote, suppressed }, 'request refused by an HTTP rule');
  }
}

/**
 * Answers a refused request and closes the connection: after faulty framing
 * nothing more on it can be trusted.
 */
export function refuse(res: http.ServerResponse, r: Refusal, logger: Logger): void {
  logRefusal(r, res.req?.socket.remoteAddress, logger);
  sendJson(res, r.status, { error: r.error, rule: r.rule }, { closing: true });
}

/**
 * The same answer on a socket Node has handed over (a WebSocket upgrade):
 * no ServerResponse adds `Date` there, so it is added here.
 */
export function refuseOnSocket(socket: Duplex, remote: string | undefined, r: Refusal, logger: Logger): void {
  logRefusal(r, remote, logger);
  writeRawJson(socket, r.status, http.STATUS_CODES[r.status] ?? 'Refused', { error: r.error, rule: r.rule }, { date: new Date().toUTCString() });
}
