/**
 * `CONNECT` asks for a tunnel this reverse proxy does not offer. Node hands it
 * to the server's `connect` event (and destroys the socket when nobody
 * listens); RFC 9110 §9.1 lets a server that does not support a method answer
 * 501, which tells the client what happened instead of a bare close.
 */
import type { Duplex } from 'node:stream';
import { writeRawJson } from '../../http/json-response.js';

export function refuseConnect(socket: Duplex): void {
  socket.on('error', () => undefined);
  writeRawJson(socket, 501, 'Not Implemented', { error: 'not implemented: CONNECT is not supported' }, { date: new Date().toUTCString() });
}
