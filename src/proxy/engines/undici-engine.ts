/**
 * Forwarding with undici: one Agent (a keep-alive Pool per origin), the
 * request body streamed in, the response body streamed out, nothing buffered.
 * Timeouts are the router's (one header deadline for both engines), so
 * undici's own are turned off.
 */
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import type { ForwardAttempt, ForwardEngine, ForwardedResponse } from '../forward-engine.js';
import { toForwardError } from '../forward-engine.js';
import { forwardAsteriskForm } from '../http-rules/asterisk-form.js';
import { relayInformational } from '../http-rules/informational.js';
import { targetOrigin, targetPath } from '../target-path.js';

export class UndiciEngine implements ForwardEngine {
  readonly name = 'undici' as const;
  readonly #agent = new Agent({
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
    connect: { timeout: 5_000 },
    headersTimeout: 0,
    bodyTimeout: 0,
  });

  async forward(a: ForwardAttempt): Promise<ForwardedResponse> {
    const path = targetPath(a.target.url, a.incoming.url);
    if (path === '*') return forwardAsteriskForm(a);
    try {
      const r = await this.#agent.request({
        origin: targetOrigin(a.target.url),
        path,
        method: a.incoming.method as Dispatcher.HttpMethod,
        headers: a.headers as Record<string, string | string[]>,
        body: a.body,
        signal: a.signal,
        // Never pipeline behind another request to the same target.
        blocking: true,
        // 1xx (103 Early Hints…) go on to the client (RFC 9110 §15.2).
        onInfo: (info) => relayInformational(a.response, info.statusCode, info.headers as Record<string, string | string[]>),
      });
      return { status: r.statusCode, headers: r.headers, body: r.body };
    } catch (error) {
      throw toForwardError(error, a.signal);
    }
  }

  async close(): Promise<void> {
    await this.#agent.destroy();
  }
}
