/**
 * Forwarding with undici: one Agent (a keep-alive Pool per origin), the
 * request body streamed in, the response body written straight into the
 * client's response by a dispatch handler — no Readable per response, no
 * pipe, no promise per chunk (docs/performance.md has the measurements).
 *
 * The target timeout is undici's own `headersTimeout` (one coarse shared
 * timer wheel, nothing allocated per request) for requests without a body;
 * for a request with a body it starts only once the body has been sent
 * (`onRequestSent`), so a slow client never counts against the target.
 */
// The Agent module alone, not the package index (see undici-agent.d.ts).
import Agent from 'undici/lib/dispatcher/agent.js';
import type { Dispatcher } from 'undici';
import type http from 'node:http';
import type { AttemptSignal, BodySink, ForwardAttempt, ForwardEngine, ForwardedResponse, ResponseBody } from '../forward-engine.js';
import { ForwardError, toForwardError } from '../forward-engine.js';
import { closeAsteriskAgent, forwardAsteriskForm } from '../http-rules/asterisk-form.js';
import { relayInformational } from '../http-rules/informational.js';
import { targetOrigin, targetPath } from '../target-path.js';

type Resolve = (r: ForwardedResponse) => void;

/** Body bytes held before the forwarder starts the relay; past this the target is paused. */
const HOLD_LIMIT_BYTES = 64 * 1024;
type Reject = (e: ForwardError) => void;

/** Status codes whose response never has a body, whatever Content-Length says (RFC 9112 §6.3). */
function bodiless(status: number): boolean {
  return status === 304 || status === 204;
}

/** undici's raw header list (name, value, name, value … as Buffers) as Node's header object. */
function parseRawHeaders(raw: Buffer[] | string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const prior = out[name];
    if (prior === undefined) out[name] = value;
    else if (Array.isArray(prior)) prior.push(value);
    else out[name] = [prior, value];
  }
  return out;
}

/**
 * One attempt, as undici's (legacy, cheapest) dispatch handler and as the
 * ResponseBody handed to the forwarder. A class instance, not an object
 * literal with closures: V8's allocation-site pretenuring otherwise promotes
 * every per-request object to old space (docs/performance.md).
 */
class RelayHandler implements ResponseBody {
  #resolve: Resolve | null;
  #reject: Reject | null;
  readonly #signal: AttemptSignal;
  readonly #headTimeoutMs: number;
  #abortUpstream: ((reason?: Error) => void) | null = null;
  #resumeUpstream: (() => void) | null = null;
  #headTimer: NodeJS.Timeout | null = null;
  #status = 0;
  #sink: BodySink | null = null;
  #onEnd: ((error: Error | null) => void) | null = null;
  #discarded = false;
  #finished = false;
  /** Body chunks that came before the forwarder called pipeTo. */
  #held: Buffer[] | null = null;
  #heldBytes = 0;
  readonly #onDrain = (): void => this.#resumeUpstream?.();

  /** The client's response, for relaying 1xx heads only. */
  readonly #client: http.ServerResponse;

  constructor(signal: AttemptSignal, headTimeoutMs: number, client: http.ServerResponse, resolve: Resolve, reject: Reject) {
    this.#signal = signal;
    this.#client = client;
    this.#headTimeoutMs = headTimeoutMs;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** The attempt's signal fired (client gone, cut, body timeout): the listener object's entry point. */
  handleEvent(): void {
    this.abort();
  }

  abort(): void {
    this.#abortUpstream?.(new ForwardError('aborted', 'ABORTED', String(this.#signal.reason ?? 'aborted')));
  }

  // --- undici's handler interface ------------------------------------------

  onConnect(abort: (reason?: Error) => void): void {
    this.#abortUpstream = abort;
    if (this.#signal.aborted) this.abort();
  }

  /** Only for requests with a body: the target timeout starts now. */
  onRequestSent(): void {
    if (this.#headTimeoutMs > 0 && this.#resolve !== null) {
      this.#headTimer = setTimeout(() => {
        this.#headTimer = null;
        this.#abortUpstream?.(new ForwardError('failed', 'ETIMEDOUT', 'no response head in time'));
      }, this.#headTimeoutMs);
    }
  }

  onHeaders(status: number, raw: Buffer[] | string[], resume: () => void, _statusText: string): boolean {
    if (status < 200) {
      // 1xx (103 Early Hints…) go on to the client (RFC 9110 §15.2).
      relayInformational(this.#client, status, parseRawHeaders(raw));
      return true;
    }
    if (this.#headTimer) (clearTimeout(this.#headTimer), (this.#headTimer = null));
    this.#status = status;
    this.#resumeUpstream = resume;
    const resolve = this.#resolve!;
    this.#resolve = this.#reject = null;
    resolve({ status, headers: parseRawHeaders(raw), body: this });
    // Not paused: the forwarder decides (relay or drop) a microtask later,
    // and pausing llhttp here would unshift the rest of the packet back into
    // the socket and read it again. What arrives before is held (bounded).
    return true;
  }

  onData(chunk: Buffer): boolean {
    const sink = this.#sink;
    if (sink === null) {
      if (this.#discarded) return false;
      (this.#held ??= []).push(chunk);
      this.#heldBytes += chunk.length;
      return this.#heldBytes < HOLD_LIMIT_BYTES;
    }
    if (sink.destroyed) return false;
    if (sink.write(chunk)) return true;
    sink.once('drain', this.#onDrain);
    return false;
  }

  onComplete(): void {
    this.#finish(null);
  }

  onError(error: Error): void {
    if (this.#headTimer) (clearTimeout(this.#headTimer), (this.#headTimer = null));
    if (this.#reject !== null) {
      const reject = this.#reject;
      this.#resolve = this.#reject = null;
      reject(error instanceof ForwardError && !this.#signal.aborted ? error : toForwardError(error, this.#signal));
      return;
    }
    // undici checks Content-Length at the end of every message except HEAD's,
    // so a 304 (or 204) that carries one — correct for a 304 — fails as a
    // length mismatch after the head. It has no body by definition: relay it.
    if (bodiless(this.#status) && (error as { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      this.#finish(null);
      return;
    }
    this.#finish(error);
  }

  // --- ResponseBody ---------------------------------------------------------

  pipeTo(sink: BodySink, onEnd: (error: Error | null) => void): void {
    this.#sink = sink;
    this.#onEnd = onEnd;
    let writable = true;
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      this.#heldBytes = 0;
      for (const chunk of held) writable = sink.write(chunk);
    }
    if (this.#finished) return this.#deliverEnd(null);
    if (writable) this.#resumeUpstream?.();
    else sink.once('drain', this.#onDrain);
  }

  discard(): void {
    this.#discarded = true;
    this.#held = null;
    if (!this.#finished) this.#abortUpstream?.(new ForwardError('aborted', 'ABORTED', 'response discarded'));
  }

  #pendingEnd: Error | null | undefined = undefined;

  #finish(error: Error | null): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#discarded) return;
    if (this.#sink === null) {
      // Ended (e.g. a bodiless 304) before the forwarder asked for it.
      this.#pendingEnd = error;
      return;
    }
    this.#deliverEnd(error);
  }

  #deliverEnd(error: Error | null): void {
    const err = this.#pendingEnd !== undefined ? this.#pendingEnd : error;
    this.#pendingEnd = undefined;
    const onEnd = this.#onEnd!;
    this.#onEnd = null;
    if (err === null && !this.#sink!.destroyed) this.#sink!.end();
    onEnd(err);
  }
}

export class UndiciEngine implements ForwardEngine {
  readonly name = 'undici' as const;
  readonly #agent = new Agent({
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
    connect: { timeout: 5_000 },
    headersTimeout: 0,
    bodyTimeout: 0,
  });

  forward(a: ForwardAttempt): Promise<ForwardedResponse> {
    const path = targetPath(a.target.url, a.incoming.url);
    // undici refuses a path not starting with '/': `OPTIONS *` goes by node:http.
    if (path === '*') return forwardAsteriskForm(a);
    return new Promise<ForwardedResponse>((resolve, reject) => {
      const timeout = a.headTimeoutMs ?? 0;
      const hasBody = a.body !== null;
      // Without a body, undici's headersTimeout starts as the request is
      // written, which is when it has been sent; with one, the handler's
      // onRequestSent starts the clock instead.
      const handler = new RelayHandler(a.signal, hasBody ? timeout : 0, a.response, resolve, reject);
      a.signal.addEventListener('abort', handler, { once: true });
      this.#agent.dispatch(
        {
          origin: targetOrigin(a.target.url),
          path,
          method: a.incoming.method as Dispatcher.HttpMethod,
          headers: a.headers as Record<string, string | string[]>,
          body: a.body,
          headersTimeout: hasBody ? 0 : timeout,
          bodyTimeout: 0,
          // Never pipeline behind another request to the same target.
          blocking: true,
        },
        handler as unknown as Dispatcher.DispatchHandler,
      );
    });
  }

  async close(): Promise<void> {
    closeAsteriskAgent();
    await this.#agent.destroy();
  }
}
