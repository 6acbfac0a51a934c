/**
 * 1xx responses from a target (103 Early Hints, 102 Processing, a 100 the
 * target chose to send…) relayed to the client before the final answer: a
 * proxy MUST forward them unless it asked for them itself (RFC 9110 §15.2).
 * Not to an HTTP/1.0 client (same section), not 101 (that is the upgrade
 * path), and only while this response owns the connection (a pipelined
 * request waiting its turn has no socket yet; its hints are dropped).
 */
import http from 'node:http';
import { isHopByHop } from '../forwarding-headers.js';

type Headers = Record<string, string | string[] | undefined>;

export function informationalHead(status: number, headers: Headers): string {
  let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Informational'}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isHopByHop(name)) continue;
    if (Array.isArray(value)) for (const v of value) head += `${name}: ${v}\r\n`;
    else head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/** Relays one informational response to the client of `res`, when that is allowed. */
export function relayInformational(res: http.ServerResponse, status: number, headers: Headers): void {
  if (status < 100 || status > 199 || status === 101 || res.headersSent) return;
  const stream = (res as unknown as { stream?: import('node:http2').ServerHttp2Stream }).stream;
  if (stream) {
    // HTTP/2: an informational HEADERS frame on the stream.
    if (stream.destroyed || stream.headersSent) return;
    const h: Record<string, string | string[] | number> = { ':status': status };
    for (const name in headers) {
      const v = headers[name];
      if (v !== undefined && !isHopByHop(name)) h[name] = v;
    }
    try {
      stream.additionalHeaders(h);
    } catch {
      // A field HTTP/2 forbids: the hint is dropped, the answer is not.
    }
    return;
  }
  const req = res.req as http.IncomingMessage | undefined;
  if (!req || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return;
  const socket = res.socket;
  if (!socket || !socket.writable || (socket as { _httpMessage?: unknown })._httpMessage !== res) return;
  socket.write(informationalHead(status, headers), 'latin1');
}
