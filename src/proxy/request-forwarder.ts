/**
 * One client request, from the routing decision to the last byte: pick a
 * target, forward through the engine under that target's breaker, retry once
 * on another target when the first never processed it, and stream the answer
 * back. Every way out sets the request's outcome; nothing here throws.
 */
import type http from 'node:http';
import { BrokenCircuitError, IsolatedCircuitError } from 'cockatiel';
import type { Logger } from '../log/logger.js';
import type { CockatielBreakerRegistry } from './breaker-registry.js';
import { sendDraining, sendJson } from './error-responses.js';
import type { ForwardEngine, ForwardedResponse, Target } from './forward-engine.js';
import { ForwardError } from './forward-engine.js';
import { DRAINING_HEADER, HOP_HEADER, requestHeadersFor, responseHeadersFrom } from './forwarding-headers.js';
import { refusalFor, refusalOutcome, refuse } from './http-rules/request-rules.js';
import { ReplayableBody } from './replayable-body.js';
import type { PickRules, TargetPicker } from './target-picker.js';

/**
 * serving → closing (shutdown started: `Connection: close` on every answer)
 * → stopped (listener closed: late requests go to peers or get the draining 503)
 * → cut (the deadline: what is left is destroyed).
 */
export type ProxyPhase = 'serving' | 'closing' | 'stopped' | 'cut';

/** What the server keeps per request in flight. */
export interface RequestRecord {
  /** Set once an answer is chosen; counted when the response closes. */
  outcome: string | null;
  /** Set by the cut, so the close is counted as `cut`, not `aborted`. */
  cut: boolean;
  /** Aborts the attempt in progress (client gone, cut). */
  abortAttempt: ((reason: string) => void) | null;
}

export interface ForwarderDeps {
  nodeId: string;
  engine: ForwardEngine;
  picker: TargetPicker;
  breakers: CockatielBreakerRegistry;
  phase: () => ProxyPhase;
  /** Longest wait for a target's response head (504 after). */
  targetTimeoutMs: number;
  logger: Logger;
  /** `--trusted-proxy` addresses (null: none): their X-Forwarded-* / Forwarded are kept. */
  trustedProxies?: import('node:net').BlockList | null;
}

class TargetTimeout extends Error {
  constructor() {
    super('target timeout');
  }
}

type AttemptResult =
  | { kind: 'response'; response: ForwardedResponse }
  | { kind: 'error'; error: ForwardError }
  | { kind: 'breaker-open' };

function hasBody(req: http.IncomingMessage): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

function isDrainingAnswer(r: ForwardedResponse): boolean {
  return r.status === 503 && String(r.headers[DRAINING_HEADER] ?? '') === '1';
}

export async function forwardRequest(
  deps: ForwarderDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  record: RequestRecord,
): Promise<void> {
  const refusal = refusalFor(req);
  if (refusal) {
    record.outcome = refusalOutcome(refusal);
    return refuse(res, refusal, deps.logger);
  }
  const closing = () => deps.phase() !== 'serving';
  const isHop = req.headers[HOP_HEADER] !== undefined;
  const phase = deps.phase();
  const rules: PickRules = { peers: !isHop, upstreams: phase === 'serving' || phase === 'closing' };

  const first = deps.picker.pick(rules);
  if (first.kind === 'none') {
    if (!rules.upstreams) {
      record.outcome = 'draining_503';
      return sendDraining(res);
    }
    if (isHop && deps.picker.upstreamCount === 0) {
      record.outcome = 'hop_refused';
      return sendJson(res, 503, { error: 'no upstream for a request another node forwarded' }, { closing: closing() });
    }
    record.outcome = 'no_target';
    return sendJson(res, 503, { error: 'no target is configured' }, { closing: closing() });
  }
  if (first.kind === 'unavailable') {
    record.outcome = 'breaker_open';
    return sendJson(res, 503, { error: "every target's circuit breaker is open" }, { closing: closing(), headers: { 'retry-after': '1' } });
  }

  const body = hasBody(req) ? new ReplayableBody(req) : null;
  // Made on the first retry only: most requests never need it.
  let tried: Set<string> | null = null;
  let target: Target = first.target;
  let retryReason: string | null = null;

  for (let attempt = 1; ; attempt++) {
    const result = await attemptOnce(deps, req, res, record, target, body);
    if (res.destroyed || record.cut) {
      // The client left (or the cut came) while we waited.
      if (result.kind === 'response') discardBody(result.response.body);
      return;
    }

    let retryable = false;
    if (result.kind === 'breaker-open') retryable = true;
    else if (result.kind === 'error') retryable = result.error.failure === 'refused';
    else if (isDrainingAnswer(result.response)) retryable = true;

    const canReplay = body === null || body.replayable;
    // A breaker that opened between pick and call cost no attempt.
    const attemptsLeft = result.kind === 'breaker-open' || attempt < 2;
    if (retryable && canReplay && attemptsLeft) {
      tried ??= new Set<string>();
      tried.add(target.key);
      rules.exclude = tried;
      const next = deps.picker.pick(rules);
      if (next.kind === 'target') {
        if (result.kind === 'response') discardBody(result.response.body);
        retryReason = result.kind === 'error' ? result.error.code : result.kind === 'breaker-open' ? 'breaker open' : 'target draining';
        deps.logger.debug({ from: target.key, to: next.target.key, reason: retryReason }, 'retrying on another target');
        target = next.target;
        if (result.kind === 'breaker-open') attempt--;
        continue;
      }
    }

    if (retryable && !canReplay) {
      // The target did not process it, but more than the replay copy was sent.
      if (result.kind === 'response') discardBody(result.response.body);
      record.outcome = 'bad_gateway';
      const why = result.kind === 'error' ? result.error.code : 'target draining';
      return sendJson(
        res,
        502,
        { error: `bad gateway: ${why}; the body was too large to retry on another target`, target: target.key },
        { closing: closing() },
      );
    }
    if (result.kind === 'breaker-open') {
      record.outcome = 'breaker_open';
      return sendJson(res, 503, { error: "every target's circuit breaker is open" }, { closing: closing(), headers: { 'retry-after': '1' } });
    }
    if (result.kind === 'error') {
      const e = result.error;
      if (e.code === 'ETIMEDOUT') {
        record.outcome = 'timeout';
        return sendJson(res, 504, { error: 'target timed out', target: target.key }, { closing: closing() });
      }
      record.outcome = 'bad_gateway';
      return sendJson(res, 502, { error: `bad gateway: ${e.code}`, target: target.key }, { closing: closing() });
    }
    if (isDrainingAnswer(result.response)) {
      // Every target we could try is leaving: say so, but not as our own draining.
      discardBody(result.response.body);
      record.outcome = 'target_draining';
      return sendJson(res, 503, { error: 'every target is shutting down' }, { closing: closing(), headers: { 'retry-after': '1' } });
    }
    record.outcome = attempt > 1 || retryReason ? 'retried' : 'ok';
    return streamBack(deps, res, record, result.response, closing());
  }
}

/**
 * Drops a target's response body we will not relay. undici reports the
 * destroy of an unfinished body as an 'error' (RequestAbortedError); with no
 * listener that is an uncaught exception, which shut the node down.
 */
function discardBody(body: ForwardedResponse['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

async function attemptOnce(
  deps: ForwarderDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  record: RequestRecord,
  target: Target,
  body: ReplayableBody | null,
): Promise<AttemptResult> {
  const ac = new AbortController();
  record.abortAttempt = (reason) => ac.abort(reason);
  const timer = setTimeout(() => ac.abort(new TargetTimeout()), deps.targetTimeoutMs);
  const headers = requestHeadersFor(req, {
    toPeer: target.kind === 'peer',
    nodeId: deps.nodeId,
    encrypted: Boolean((req.socket as { encrypted?: boolean }).encrypted),
    trusted: deps.trustedProxies ?? null,
  });
  try {
    const response = await deps.breakers.get(target.key).execute(async () => {
      try {
        return await deps.engine.forward({ target, incoming: req, response: res, headers, body: body?.open() ?? null, signal: ac.signal });
      } catch (error) {
        if (ac.signal.reason instanceof TargetTimeout) throw new ForwardError('failed', 'ETIMEDOUT', 'no response head in time');
        throw error;
      }
    });
    return { kind: 'response', response };
  } catch (error) {
    if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) return { kind: 'breaker-open' };
    if (error instanceof ForwardError) return { kind: 'error', error };
    deps.logger.error({ err: error, target: target.key }, 'unexpected forwarding error');
    return { kind: 'error', error: new ForwardError('failed', 'EPROTO', String(error)) };
  } finally {
    clearTimeout(timer);
  }
}

const ignoreError = (): void => undefined;

function streamBack(deps: ForwarderDeps, res: http.ServerResponse, record: RequestRecord, r: ForwardedResponse, closing: boolean): void {
  record.abortAttempt = (reason) => r.body.destroy(new Error(reason));
  try {
    res.writeHead(r.status, responseHeadersFrom(r.headers, closing));
  } catch (error) {
    // A target's header Node refuses to send (invalid characters).
    discardBody(r.body);
    record.outcome = 'bad_gateway';
    deps.logger.warn({ err: error }, 'target sent a response head that cannot be relayed');
    sendJson(res, 502, { error: 'bad gateway: invalid response head' }, { closing });
    return;
  }
  // pipe() rather than stream.pipeline: on Node 20 pipeline makes an
  // AbortController per call and aborts it on finish, building a DOMException
  // with a stack trace for every response (~6% of CPU at 100 B). The client
  // side is already covered: a response that closes early runs
  // record.abortAttempt (set above), which destroys the target's body.
  const body = r.body;
  res.on('error', ignoreError);
  body.on('error', () => {
    if (res.writableFinished) return;
    if (!record.cut && !res.destroyed) record.outcome = 'upstream_aborted';
    res.destroy();
  });
  body.on('close', () => {
    // A body that closed before its end (target reset) must not leave the client hanging.
    if (!body.readableEnded && !res.writableFinished) {
      if (!record.cut && !res.destroyed) record.outcome = 'upstream_aborted';
      res.destroy();
    }
  });
  body.pipe(res);
}
