/**
 * One client request, from the routing decision to the last byte: pick a
 * target, forward through the engine under that target's breaker, retry once
 * on another target when the first never processed it, and stream the answer
 * back. Every way out sets the request's outcome; nothing here throws.
 */
import type { DrainPhase } from '../../machines/events.js';
import type http from 'node:http';
import { BrokenCircuitError, IsolatedCircuitError } from 'cockatiel';
import type { Logger } from '../log/logger.js';
import type { BreakerRegistry } from './breaker-registry.js';
import { redactTarget, sendDraining, sendGatewayError } from './error-responses.js';
import { sendJson } from '../http/json-response.js';
import type { ForwardEngine, ForwardedResponse, ResponseBody, Target } from './forward-engine.js';
import { AttemptAbort, ForwardError } from './forward-engine.js';
import { DRAINING_HEADER, HOP_HEADER, requestHeadersFor, responseHeadersFrom } from './forwarding-headers.js';
import type { PeerAddressCheck } from './mesh-peer-hosts.js';
import type { RequestRecord } from './in-flight-tracker.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';
import { refusalAtNode, refusalOutcome, refuse } from './http-rules/request-rules.js';
import { ReplayableBody } from './replayable-body.js';
import type { PickRules, TargetPicker } from './target-picker.js';

export { RequestRecord } from './in-flight-tracker.js';

/**
 * The proxy's part of the drain timeline (`DrainPhase`, machines/events.ts):
 * serving → delaying (`Connection: close` on every answer) → waiting
 * (listener closed: late requests go to peers or get the draining 503) →
 * cutting; or, on a hot restart, handedOver (listener passed on; open
 * connections finish, to any target, with `Connection: close`).
 */
export type ProxyPhase = Exclude<DrainPhase, 'drained'>;

export interface ForwarderDeps {
  nodeId: string;
  engine: ForwardEngine;
  picker: TargetPicker;
  breakers: BreakerRegistry;
  phase: () => ProxyPhase;
  /** Longest wait for a target's response head once the request was sent (504 after). */
  targetTimeoutMs: number;
  /** Longest pause of a client sending its request body (408 after). */
  requestBodyTimeoutMs: number;
  /** Counts an attempt that failed for want of a local resource, by code. */
  countLocalError: (code: string) => void;
  /** Logs local resource errors at most every few seconds. */
  localErrorLog: RateLimitedLog;
  logger: Logger;
  /** `--trusted-proxy` addresses (null: none): their X-Forwarded-* / Forwarded are kept. */
  trustedProxies?: import('node:net').BlockList | null;
  /** Mesh peers by address: a request one forwarded (hop header) keeps its forwarding headers too. */
  meshPeers?: PeerAddressCheck | null;
}

/**
 * One attempt's abort handle: the engine's signal, and once the response is
 * being relayed, its body (dropped on abort). A class, not a closure on the
 * record (docs/performance.md: pretenuring).
 */
class Attempt extends AttemptAbort {
  body: ResponseBody | null = null;

  override abort(reason: unknown): void {
    super.abort(reason);
    const b = this.body;
    this.body = null;
    b?.discard();
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
  const refusal = refusalAtNode(req, deps.nodeId);
  if (refusal) {
    record.outcome = refusalOutcome(refusal);
    return refuse(res, refusal, deps.logger);
  }
  const closing = () => deps.phase() !== 'serving';
  const isHop = req.headers[HOP_HEADER] !== undefined;
  const phase = deps.phase();
  const rules: PickRules = { peers: !isHop, upstreams: phase === 'serving' || phase === 'delaying' || phase === 'handedOver' };

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

  const body = hasBody(req) ? new ReplayableBody(req, undefined, deps.requestBodyTimeoutMs, () => onBodyTimeout(res, record)) : null;
  // Made on the first retry only: most requests never need it.
  let tried: Set<string> | null = null;
  let target: Target = first.target;
  let retryReason: string | null = null;

  for (let attempt = 1; ; attempt++) {
    const result = await attemptOnce(deps, req, res, record, target, body);
    if (body?.timedOut && !res.headersSent && !res.destroyed && !record.cut) {
      // The client stopped sending its body: its fault, not the target's.
      if (result.kind === 'response') result.response.body.discard();
      record.outcome = 'body_timeout';
      return sendJson(res, 408, { error: 'request body timeout' }, { closing: true });
    }
    if (res.destroyed || record.cut) {
      // The client left (or the cut came) while we waited.
      if (result.kind === 'response') result.response.body.discard();
      return;
    }

    let retryable = false;
    if (result.kind === 'breaker-open') retryable = true;
    else if (result.kind === 'error') retryable = result.error.failure === 'refused';
    else if (isDrainingAnswer(result.response)) retryable = true;

    const canReplay = body === null || body.replayable;
    // A breaker that opened between pick and call cost no attempt.
    const attemptsLeft = result.kind === 'breaker-open' || attempt < 2;
    if (result.kind === 'error' && result.error.failure === 'local') {
      // Out of file descriptors (or buffers) here: another target would fail
      // the same way, and the target is not to blame (no breaker touched).
      const code = result.error.code;
      deps.countLocalError(code);
      deps.localErrorLog.hit(code, (suppressed) =>
        deps.logger.warn({ code, target: redactTarget(target.key), suppressed }, 'out of a local resource while connecting to a target: answering 503'),
      );
      record.outcome = 'local_resource';
      return sendJson(res, 503, { error: 'this node is out of resources, try again' }, { closing: closing(), headers: { 'retry-after': '1' } });
    }
    if (retryable && canReplay && attemptsLeft) {
      tried ??= new Set<string>();
      tried.add(target.key);
      rules.exclude = tried;
      const next = deps.picker.pick(rules);
      if (next.kind === 'target') {
        if (result.kind === 'response') result.response.body.discard();
        retryReason = result.kind === 'error' ? result.error.code : result.kind === 'breaker-open' ? 'breaker open' : 'target draining';
        deps.logger.debug({ from: redactTarget(target.key), to: redactTarget(next.target.key), reason: retryReason }, 'retrying on another target');
        target = next.target;
        if (result.kind === 'breaker-open') attempt--;
        continue;
      }
    }

    if (retryable && !canReplay) {
      // The target did not process it, but more than the replay copy was sent.
      if (result.kind === 'response') result.response.body.discard();
      record.outcome = 'bad_gateway';
      const why = result.kind === 'error' ? result.error.code : 'target draining';
      return sendGatewayError(res, deps.logger, 502, `bad gateway: ${why}; the body was too large to retry on another target`, target.key, {
        closing: closing(),
      });
    }
    if (result.kind === 'breaker-open') {
      record.outcome = 'breaker_open';
      return sendJson(res, 503, { error: "every target's circuit breaker is open" }, { closing: closing(), headers: { 'retry-after': '1' } });
    }
    if (result.kind === 'error') {
      const e = result.error;
      if (e.code === 'ETIMEDOUT') {
        record.outcome = 'timeout';
        return sendGatewayError(res, deps.logger, 504, 'target timed out', target.key, { closing: closing() });
      }
      record.outcome = 'bad_gateway';
      return sendGatewayError(res, deps.logger, 502, `bad gateway: ${e.code}`, target.key, { closing: closing() });
    }
    if (isDrainingAnswer(result.response)) {
      // Every target we could try is leaving: say so, but not as our own draining.
      result.response.body.discard();
      record.outcome = 'target_draining';
      return sendJson(res, 503, { error: 'every target is shutting down' }, { closing: closing(), headers: { 'retry-after': '1' } });
    }
    record.outcome = attempt > 1 || retryReason ? 'retried' : 'ok';
    return streamBack(deps, res, record, result.response, closing());
  }
}

/** The client stopped sending its body for too long (ReplayableBody's idle timer). */
function onBodyTimeout(res: http.ServerResponse, record: RequestRecord): void {
  // Before the head, the forwarder answers 408 once the attempt returns;
  // after it, the relay is cut (the client cannot be told anything else).
  record.abortAttempt('request body timeout');
  if (res.headersSent) res.destroy();
}

async function attemptOnce(
  deps: ForwarderDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  record: RequestRecord,
  target: Target,
  body: ReplayableBody | null,
): Promise<AttemptResult> {
  const signal = new Attempt();
  record.attempt = signal;
  const headers = requestHeadersFor(req, {
    toPeer: target.kind === 'peer',
    nodeId: deps.nodeId,
    encrypted: Boolean((req.socket as { encrypted?: boolean }).encrypted),
    trusted: deps.trustedProxies ?? null,
    meshPeers: deps.meshPeers ?? null,
  });
  const engine = deps.engine;
  try {
    const response = await deps.breakers.run(target.key, () =>
      engine.forward({
        target,
        incoming: req,
        response: res,
        headers,
        body: body?.open() ?? null,
        signal,
        headTimeoutMs: deps.targetTimeoutMs,
      }),
    );
    return { kind: 'response', response };
  } catch (error) {
    if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) return { kind: 'breaker-open' };
    if (error instanceof ForwardError) return { kind: 'error', error };
    deps.logger.error({ err: error, target: redactTarget(target.key) }, 'unexpected forwarding error');
    return { kind: 'error', error: new ForwardError('failed', 'EPROTO', String(error)) };
  }
}

const ignoreError = (): void => undefined;

function streamBack(deps: ForwarderDeps, res: http.ServerResponse, record: RequestRecord, r: ForwardedResponse, closing: boolean): void {
  try {
    res.writeHead(r.status, responseHeadersFrom(r.headers, closing));
  } catch (error) {
    // A target's header Node refuses to send (invalid characters).
    r.body.discard();
    record.outcome = 'bad_gateway';
    deps.logger.warn({ err: error }, 'target sent a response head that cannot be relayed');
    sendJson(res, 502, { error: 'bad gateway: invalid response head' }, { closing });
    return;
  }
  // A response that closes early (client gone, cut) aborts the attempt,
  // which drops the target's body: see Attempt.abort.
  const attempt = record.attempt as Attempt | null;
  if (attempt !== null) attempt.body = r.body;
  res.on('error', ignoreError);
  r.body.pipeTo(res, (error) => {
    if (error === null || res.writableFinished) return;
    if (!record.cut && !res.destroyed) record.outcome = 'upstream_aborted';
    res.destroy();
  });
}
