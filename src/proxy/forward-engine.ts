/**
 * The one seam between routing and the bytes: an engine sends a prepared
 * request to one target and hands back the target's response head and a
 * streaming body. Routing, retries, breakers and the client response stay
 * outside, so both engines (undici, http-proxy-3) behave the same from outside.
 */
import type http from 'node:http';
import type { Readable } from 'node:stream';
import { errorMessage } from '../../machines/error-message.js';

/**
 * What an engine needs of an abort signal. A real AbortSignal fits; the
 * forwarder passes its own minimal one (Node 20's AbortController costs a
 * DOMException, an EventTarget and retained objects per request).
 */
export interface AttemptSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: AbortListener, options?: { once?: boolean }): void;
}

/** A function, or an object whose `handleEvent` is called (no closure needed). */
export type AbortListener = (() => void) | { handleEvent(): void };

/**
 * The forwarder's signal for one attempt: two fields and one listener (one
 * engine listens per attempt). Aborting twice is a no-op.
 */
export class AttemptAbort implements AttemptSignal {
  aborted = false;
  reason: unknown = undefined;
  #listener: AbortListener | null = null;

  addEventListener(_type: 'abort', listener: AbortListener): void {
    if (this.aborted) return void callListener(listener);
    this.#listener = listener;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const l = this.#listener;
    this.#listener = null;
    if (l) callListener(l);
  }
}

function callListener(l: AbortListener): void {
  if (typeof l === 'function') l();
  else l.handleEvent();
}

/** Where a response body goes: the client's ServerResponse (or any writable). */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): void;
  once(event: 'drain', listener: () => void): unknown;
  readonly destroyed: boolean;
}

/**
 * A target's response body, not yet flowing. Exactly one of `pipeTo` and
 * `discard` is called. `pipeTo` calls `onEnd(null)` after the last byte was
 * handed to the sink (and `sink.end()` called), or `onEnd(error)` when the
 * target's body failed (the sink is then left for the caller to destroy).
 */
export interface ResponseBody {
  pipeTo(sink: BodySink, onEnd: (error: Error | null) => void): void;
  /** Drops the body, releasing (or closing) the target connection. */
  discard(): void;
}

export type TargetKind = 'upstream' | 'peer';

export interface Target {
  /** Breaker and log key: the upstream URL as configured, or the peer's `host:port`. */
  key: string;
  kind: TargetKind;
  /** Where to send: `http://host:port` (+ an upstream's base path, if any). */
  url: URL;
}

export interface ForwardAttempt {
  target: Target;
  /** The client's request: method and path are read from it. */
  incoming: http.IncomingMessage;
  /** The client's response. Engines never write to it. */
  response: http.ServerResponse;
  /** Headers to send, already cleaned of hop-by-hop fields. */
  headers: http.OutgoingHttpHeaders;
  /** The request body for this attempt, or null when there is none. */
  body: Readable | null;
  /** Aborts the attempt (client gone, timeout, cut). */
  signal: AttemptSignal;
  /**
   * Longest wait for the response head, counted from the moment the whole
   * request (body included) was sent; the engine fails the attempt with
   * `ETIMEDOUT` after it. 0: no limit. A slow client is not the target's fault.
   */
  headTimeoutMs?: number;
}

export interface ForwardedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: ResponseBody;
}

/** A Node Readable (http-proxy-3's IncomingMessage) as a ResponseBody. */
export function readableBody(body: Readable): ResponseBody {
  return {
    pipeTo(sink, onEnd) {
      let settled = false;
      const settle = (error: Error | null) => {
        if (settled) return;
        settled = true;
        onEnd(error);
      };
      body.on('error', (e) => settle(e));
      // A body that closed before its end (target reset) must not leave the client hanging.
      body.on('close', () => {
        if (!body.readableEnded) settle(new Error('target closed the body early'));
      });
      body.on('end', () => settle(null));
      // pipe() rather than stream.pipeline: on Node 20 pipeline makes an
      // AbortController per call (a DOMException with a stack per response).
      body.pipe(sink as unknown as NodeJS.WritableStream);
    },
    discard() {
      // undici reports the destroy of an unfinished body as an 'error': with
      // no listener that would be an uncaught exception.
      body.on('error', () => undefined);
      body.destroy();
    },
  };
}

/**
 * Why an attempt failed. `refused`: the target never got the request (no
 * connection), so retrying elsewhere is safe whatever the method. `local`:
 * this node ran out of a resource (file descriptors, buffers, memory) while
 * connecting: the node's fault, never counted against the target.
 */
export type ForwardFailure = 'refused' | 'failed' | 'aborted' | 'local';

export class ForwardError extends Error {
  constructor(
    readonly failure: ForwardFailure,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ForwardError';
  }
}

export interface ForwardEngine {
  readonly name: 'undici' | 'http-proxy';
  /** Resolves at the response head; rejects with a ForwardError. */
  forward(attempt: ForwardAttempt): Promise<ForwardedResponse>;
  close(): Promise<void>;
}

/** Connection-level errors where no byte of the request reached a server. */
const NEVER_CONNECTED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Errors of this host, not of the target (issue 11 item 5). */
export const LOCAL_RESOURCE_ERRORS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/** Maps any engine's error to a ForwardError, looking through `cause` chains. */
export function toForwardError(error: unknown, signal: AttemptSignal): ForwardError {
  if (error instanceof ForwardError) return error;
  if (signal.aborted) return new ForwardError('aborted', 'ABORTED', String(signal.reason ?? 'aborted'));
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NEVER_CONNECTED.has(code)) return new ForwardError('refused', code, (e as Error).message);
      if (LOCAL_RESOURCE_ERRORS.has(code)) return new ForwardError('local', code, (e as Error).message);
      if (code === 'UND_ERR_HEADERS_TIMEOUT') return new ForwardError('failed', 'ETIMEDOUT', 'no response head in time');
      return new ForwardError('failed', code, (e as Error).message);
    }
    e = (e as { cause?: unknown }).cause;
  }
  return new ForwardError('failed', 'EPROTO', errorMessage(error));
}
