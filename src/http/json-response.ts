/**
 * The one way the daemon answers with JSON, on an HTTP response (admin and
 * proxy) or on a raw socket that left the HTTP parser (a late WebSocket
 * upgrade, CONNECT). Never cached: every answer describes this moment.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';

export interface JsonOptions {
  /** Ask the client to close the connection (a leaving node, a request not read to its end). */
  closing?: boolean;
  headers?: http.OutgoingHttpHeaders;
}

export function sendJson(res: http.ServerResponse, status: number, body: object, opts: JsonOptions = {}): void {
  // Too late for a status: cutting the response is the only honest answer left.
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

/** The same answer written on a raw socket, which is then closed. */
export function writeRawJson(socket: Duplex, status: number, reason: string, body: object, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(text)}`,
    'cache-control: no-store',
    'connection: close',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  if (socket.writable) socket.end(`${head}\r\n\r\n${text}`);
  else socket.destroy();
}
