/**
 * Forwarding with http-proxy-3 (the maintained node-http-proxy): the library
 * builds and sends the outgoing request from the client's, we hand it the
 * attempt's body stream (`buffer`) and take the response head ourselves
 * (`selfHandleResponse`) so the router can still retry a draining 503.
 */
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { ProxyServer } from 'http-proxy-3';
import type { ForwardAttempt, ForwardEngine, ForwardedResponse } from '../forward-engine.js';
import { ForwardError, readableBody, toForwardError } from '../forward-engine.js';
import { ExactPathAgent } from '../http-rules/exact-path-agent.js';
import { relayInformational } from '../http-rules/informational.js';
import { targetPath } from '../target-path.js';

interface Pending {
  attempt: ForwardAttempt;
  resolve: (r: ForwardedResponse) => void;
  reject: (e: ForwardError) => void;
  proxyReq: http.ClientRequest | null;
  settled: boolean;
  /** The target timeout, armed once the request (body included) was sent. */
  headTimer: NodeJS.Timeout | null;
}

export class HttpProxyEngine implements ForwardEngine {
  readonly name = 'http-proxy' as const;
  readonly #agent = new ExactPathAgent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  readonly #proxy = new ProxyServer({ agent: this.#agent, selfHandleResponse: true, xfwd: false, ws: false });
  /** One attempt at a time per client request; retries replace the entry. */
  readonly #pending = new WeakMap<http.IncomingMessage, Pending>();

  constructor() {
    this.#proxy.on('proxyReq', (proxyReq, req) => {
      const p = this.#pending.get(req);
      if (!p) return;
      p.proxyReq = proxyReq;
      proxyReq.on('information', (info) => relayInformational(p.attempt.response, info.statusCode, info.headers));
      if (p.attempt.signal.aborted) proxyReq.destroy();
      const timeoutMs = p.attempt.headTimeoutMs ?? 0;
      if (timeoutMs > 0) {
        proxyReq.once('finish', () => {
          if (!p.settled) p.headTimer = setTimeout(() => this.#fail(req, new ForwardError('failed', 'ETIMEDOUT', 'no response head in time')), timeoutMs);
        });
      }
    });
    this.#proxy.on('proxyRes', (proxyRes, req) => {
      const p = this.#pending.get(req);
      if (!p || p.settled) {
        proxyRes.resume();
        return;
      }
      p.settled = true;
      if (p.headTimer) clearTimeout(p.headTimer);
      p.resolve({ status: proxyRes.statusCode ?? 502, headers: proxyRes.headers, body: readableBody(proxyRes) });
    });
    // The client vanished mid-request; http-proxy-3 then calls no callback.
    this.#proxy.on('econnreset', (_err, req) => this.#fail(req, new ForwardError('aborted', 'ECONNRESET', 'client went away')));
    this.#proxy.on('error', (err, req) => this.#fail(req, err));
  }

  #fail(req: http.IncomingMessage, error: unknown): void {
    const p = this.#pending.get(req);
    if (!p || p.settled) return;
    p.settled = true;
    if (p.headTimer) clearTimeout(p.headTimer);
    p.proxyReq?.destroy();
    p.reject(toForwardError(error, p.attempt.signal));
  }

  forward(a: ForwardAttempt): Promise<ForwardedResponse> {
    return new Promise((resolve, reject) => {
      const p: Pending = { attempt: a, resolve, reject, proxyReq: null, settled: false, headTimer: null };
      this.#pending.set(a.incoming, p);
      const onAbort = () => this.#fail(a.incoming, new ForwardError('aborted', 'ABORTED', String(a.signal.reason ?? 'aborted')));
      if (a.signal.aborted) return onAbort();
      a.signal.addEventListener('abort', onAbort, { once: true });
      // http-proxy-3 copies the client's headers; give it the cleaned set.
      a.incoming.headers = a.headers as IncomingHttpHeaders;
      const body = a.body ?? Readable.from([]);
      // The attempt's body is destroyed with the client's error ('aborted',
      // a bad chunk) when the client fails mid-body; http-proxy-3 only pipes
      // it, so without this listener that error was uncaught and shut the
      // node down (issue 8, issue 11 item 2). It is this attempt's end.
      body.on('error', (err) => this.#fail(a.incoming, new ForwardError('aborted', 'ECONNRESET', `client request body failed: ${err.message}`)));
      // The request target byte for byte, not http-proxy-3's re-parsed join.
      this.#agent.arm(targetPath(a.target.url, a.incoming.url));
      this.#proxy.web(
        a.incoming,
        a.response,
        {
          target: a.target.url,
          buffer: body,
          prependPath: true,
        },
        (err) => this.#fail(a.incoming, err),
      );
      this.#agent.disarm();
    });
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }
}
