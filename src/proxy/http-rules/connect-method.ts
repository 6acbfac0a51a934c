/**
 * `CONNECT` asks for a tunnel this reverse proxy does not offer. Node hands it
 * to the server's `connect` event (and destroys the socket when nobody
 * listens); RFC 9110 §9.1 lets a server that does not support a method answer
 * 501, which tells the client what happened instead of a bare close.
 */
import type { Duplex } from 'node:stream';

const BODY = '{"error":"not implemented: CONNECT is not supported"}';

export function refuseConnect(socket: Duplex): void {
  socket.on('error', () => undefined);
  if (!socket.writable) return void socket.destroy();
  socket.end(
    'HTTP/1.1 501 Not Implemented\r\n' +
      `date: ${new Date().toUTCString()}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${BODY.length}\r\n` +
      'connection: close\r\n\r\n' +
      BODY,
  );
}
