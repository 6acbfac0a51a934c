/**
 * A recipient with a clock that forwards a response without `Date` MUST add
 * one (RFC 9110 §6.6.1). Node adds it to every response the proxy writes
 * through `ServerResponse`; the WebSocket `101` is written by http-proxy-3 from
 * the target's headers, so it gets it here.
 */
import type http from 'node:http';

export function addDateIfMissing(headers: http.IncomingHttpHeaders): void {
  if (headers.date === undefined) headers.date = new Date().toUTCString();
}
