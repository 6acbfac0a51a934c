/**
 * `Upgrade` offers other than WebSocket (e.g. the `h2c` offer of
 * `curl --http2 http://…`). Node hands every request with `Upgrade` +
 * `Connection: upgrade` to the server's `upgrade` event and detaches the HTTP
 * parser, so without this the connection just closed unanswered. A server may
 * ignore `Upgrade` but must answer (RFC 9110 §7.8): the request head is written
 * back in front of the socket's unread bytes without the upgrade offer, and
 * the socket is handed to the HTTP server again as a fresh connection, so it
 * is parsed, routed and answered like any request, keep-alive included.
 */
import type { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { Duplex } from 'node:stream';

/** RFC 6455 §4.1: `Upgrade: websocket` (any case, possibly among other offers). */
export function isWebSocketUpgrade(req: http.IncomingMessage): boolean {
  const u = req.headers.upgrade;
  if (!u) return false;
  if (u.length === 9) return u.toLowerCase() === 'websocket';
  return u.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/** The request head again, minus `Upgrade` and the `upgrade` token of `Connection`. */
export function headWithoutUpgrade(req: http.IncomingMessage): string {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === 'upgrade') continue;
    let value = raw[i + 1]!;
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '' && t.toLowerCase() !== 'upgrade')
        .join(', ');
      if (value === '') continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/** Serves a non-WebSocket upgrade request as the plain request it also is. */
export function serveAsPlainRequest(server: EventEmitter, req: http.IncomingMessage, socket: Duplex, bodyHead: Buffer): void {
  socket.unshift(Buffer.concat([Buffer.from(headWithoutUpgrade(req), 'latin1'), bodyHead]));
  // Under TLS the HTTP/1.1 parser is attached on `secureConnection` (the TCP
  // `connection` would start a second handshake).
  server.emit((socket as { encrypted?: boolean }).encrypted ? 'secureConnection' : 'connection', socket);
}
