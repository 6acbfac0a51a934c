/**
 * `OPTIONS *` (asterisk-form, RFC 9112 §3.2.4) sent on as `OPTIONS *`. undici
 * refuses any path that does not start with `/` (its request validation), and
 * rewriting it to `/*` asks the target about a resource instead of the server;
 * this rare request goes through `node:http`, which sends the target as given.
 */
import http from 'node:http';
import type { ForwardAttempt, ForwardedResponse } from '../forward-engine.js';
import { readableBody, toForwardError } from '../forward-engine.js';
import { relayInformational } from './informational.js';

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

export function forwardAsteriskForm(a: ForwardAttempt): Promise<ForwardedResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: a.target.url.hostname.replace(/^\[|\]$/g, ''),
      port: a.target.url.port || 80,
      method: a.incoming.method,
      path: '*',
      headers: a.headers,
      agent,
    });
    a.signal.addEventListener('abort', () => req.destroy(new Error(String(a.signal.reason ?? 'aborted'))), { once: true });
    req.on('information', (info) => relayInformational(a.response, info.statusCode, info.headers));
    req.once('response', (r) => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: readableBody(r) }));
    req.once('error', (e) => reject(toForwardError(e, a.signal)));
    if (a.body) a.body.pipe(req);
    else req.end();
  });
}

export function closeAsteriskAgent(): void {
  agent.destroy();
}
