/** The proxy's own answers: short JSON bodies an operator (or a peer) can read. */
import type http from 'node:http';
import { DRAINING_HEADER } from './forwarding-headers.js';

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
