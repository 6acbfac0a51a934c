/**
 * Optional mirror of the lifecycle's inspection events to a Stately inspector
 * over WebSocket (`--inspector-url ws://…`), e.g. one started with
 * `@statelyai/inspect/server`'s `createInspectorServer`.
 *
 * `@statelyai/inspect` turns XState inspection events into Stately's format
 * (`createInspector` + its serialisation); the transport is our own adapter
 * instead of its `WebSocketAdapter` because the daemon needs what that one
 * does not give: a failure is logged once (not silently retried forever), the
 * retry timer never keeps the process alive, a slow inspector cannot grow
 * memory without bound, and `stop()` really stops. Nothing here can throw
 * into the chart: the inspector is a spectator.
 */
import { createInspector } from '@statelyai/inspect';
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import type { InspectionEvent } from 'xstate';
import WebSocket from 'ws';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../../machines/error-message.js';

export interface InspectorBridge {
  inspect(event: InspectionEvent): void;
  stop(): void;
}

/** Events held while not connected; the oldest are dropped first. */
const MAX_DEFERRED = 500;
/** Above this many unsent bytes the inspector is not keeping up: drop, don't buffer. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
const CLOSE_GRACE_MS = 500;

/**
 * `@xstate.actor` events carry the live snapshot, whose children are actor
 * refs pointing back at their parents: JSON without cycles, refs by id.
 */
function toJson(event: StatelyInspectionEvent): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(event, (key, value: unknown) => {
    if (typeof value === 'function') return undefined;
    if (value && typeof value === 'object') {
      const ref = value as { send?: unknown; sessionId?: unknown; id?: unknown };
      if (key !== '' && typeof ref.send === 'function' && typeof ref.sessionId === 'string') return { id: ref.id, sessionId: ref.sessionId };
      if (seen.has(value)) return '[seen]';
      seen.add(value);
    }
    return value;
  });
}

class WebSocketTransport {
  #ws: WebSocket | null = null;
  #open = false;
  /** stop() was called: no more retries, but events already queued still go out. */
  #closing = false;
  #stopped = false;
  #deferred: string[] = [];
  #retryMs = RETRY_MIN_MS;
  #retryTimer: NodeJS.Timeout | null = null;
  #failureReported = false;
  #dropped = 0;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.#closing || this.#stopped) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, { handshakeTimeout: 5_000 });
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#ws = ws;
    ws.on('open', () => {
      this.#open = true;
      this.#retryMs = RETRY_MIN_MS;
      this.logger.info({ inspectorUrl: this.url }, 'inspection events go to the inspector');
      this.#failureReported = false;
      const pending = this.#deferred;
      this.#deferred = [];
      for (const text of pending) this.#write(text);
    });
    ws.on('error', (error) => this.#fail(error));
    ws.on('close', () => {
      const wasOpen = this.#open;
      this.#open = false;
      this.#ws = null;
      if (wasOpen && !this.#stopped) this.logger.warn({ inspectorUrl: this.url }, 'inspector closed the connection; will retry');
      this.#scheduleRetry();
    });
    // Its `message`s (if any) are of no interest; we only send.
  }

  send(event: StatelyInspectionEvent): void {
    if (this.#stopped) return;
    let text: string;
    try {
      text = toJson(event);
    } catch {
      return;
    }
    if (this.#open) this.#write(text);
    else {
      this.#deferred.push(text);
      if (this.#deferred.length > MAX_DEFERRED) this.#deferred.shift();
    }
  }

  /**
   * The last snapshots (persisting, stopped) are converted on a zero timer by
   * @statelyai/inspect, so close on the next timer turn, after them; a close
   * handshake the inspector does not answer is cut after CLOSE_GRACE_MS.
   */
  stop(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    setTimeout(() => {
      this.#stopped = true;
      this.#deferred = [];
      const ws = this.#ws;
      this.#ws = null;
      if (ws && ws.readyState === WebSocket.OPEN) {
        const cut = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
        ws.once('close', () => clearTimeout(cut));
        ws.close(1001, 'node stopped');
      } else ws?.terminate();
    }, 0);
  }

  #write(text: string): void {
    const ws = this.#ws;
    if (!ws) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      if (this.#dropped++ === 0) this.logger.warn({ inspectorUrl: this.url }, 'inspector is not keeping up; dropping inspection events');
      return;
    }
    ws.send(text, (error) => error && this.#fail(error));
  }

  #fail(error: unknown): void {
    if (this.#closing || this.#stopped) return;
    if (!this.#failureReported) {
      this.#failureReported = true;
      const reason = errorMessage(error);
      this.logger.warn(
        { inspectorUrl: this.url, reason },
        'inspector unreachable; the node runs on and retries quietly',
      );
    }
  }

  #scheduleRetry(): void {
    if (this.#closing || this.#stopped || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.start();
    }, this.#retryMs);
    // A spectator must never keep the process alive.
    this.#retryTimer.unref();
    this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
  }
}

export function createInspectorBridge(url: string | null, logger: Logger): InspectorBridge | null {
  if (!url) return null;
  const transport = new WebSocketTransport(url, logger);
  const inspector = createInspector({ send: (event) => transport.send(event) }, { autoStart: false });
  transport.start();
  return {
    inspect(event) {
      try {
        inspector.inspect.next?.(event);
      } catch (error) {
        logger.debug({ err: error }, 'inspection event not forwarded');
      }
    },
    stop() {
      transport.stop();
    },
  };
}
