/**
 * The one seam between routing and the bytes: an engine sends a prepared
 * request to one target and hands back the target's response head and a
 * streaming body. Routing, retries, breakers and the client response stay
 * outside, so both engines (undici, http-proxy-3) behave the same from outside.
 */
import type http from 'node:http';
import type { Readable } from 'node:stream';

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
  signal: AbortSignal;
}

export interface ForwardedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Streams the target's body; destroying it releases the connection. */
  body: Readable;
}

/**
 * Why an attempt failed. `refused`: the target never got the request (no
 * connection), so retrying elsewhere is safe whatever the method.
 */
export type ForwardFailure = 'refused' | 'failed' | 'aborted';

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

/** Maps any engine's error to a ForwardError, looking through `cause` chains. */
export function toForwardError(error: unknown, signal: AbortSignal): ForwardError {
  if (error instanceof ForwardError) return error;
  if (signal.aborted) return new ForwardError('aborted', 'ABORTED', String(signal.reason ?? 'aborted'));
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NEVER_CONNECTED.has(code)) return new ForwardError('refused', code, (e as Error).message);
      return new ForwardError('failed', code, (e as Error).message);
    }
    e = (e as { cause?: unknown }).cause;
  }
  return new ForwardError('failed', 'EPROTO', error instanceof Error ? error.message : String(error));
}
