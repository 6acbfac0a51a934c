/**
 * A request body that streams to the target as it arrives, while keeping a
 * bounded copy of what was read so far. If the first target never got the
 * request (refused connection, draining 503), a second attempt replays the
 * copy and then carries on with the live stream. Past the limit the copy is
 * dropped and the request can no longer be retried (answered 502 instead).
 *
 * It also bounds a slow client: when no byte of the body arrives for
 * `idleTimeoutMs` before its end, `onIdle` runs (the forwarder answers 408).
 * That is the client's clock; the target's starts once the body was sent.
 */
import { Readable } from 'node:stream';

/** Up to this much of a body is kept for a retry. */
export const REPLAY_LIMIT_BYTES = 64 * 1024;

export class ReplayableBody {
  #chunks: Buffer[] = [];
  #size = 0;
  #overflowed = false;
  #ended = false;
  #error: Error | null = null;
  #current: Readable | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #timedOut = false;
  /** True while the source is paused because the target is not reading: not the client's time. */
  #heldBack = true;

  constructor(
    private readonly source: Readable,
    private readonly limit = REPLAY_LIMIT_BYTES,
    idleTimeoutMs = 0,
    onIdle: () => void = () => undefined,
  ) {
    if (idleTimeoutMs > 0) {
      const timer = setTimeout(() => {
        // The target (or no attempt yet) holds the body back: the client is not idle.
        if (this.#heldBack) return void timer.refresh();
        this.#idleTimer = null;
        this.#timedOut = true;
        onIdle();
      }, idleTimeoutMs);
      this.#idleTimer = timer;
    }
    source.on('data', (chunk: Buffer) => {
      this.#idleTimer?.refresh();
      if (!this.#overflowed) {
        this.#size += chunk.length;
        if (this.#size > this.limit) {
          this.#overflowed = true;
          this.#chunks = [];
        } else this.#chunks.push(chunk);
      }
      if (!this.#current || !this.#current.push(chunk)) {
        this.#heldBack = true;
        source.pause();
      }
    });
    source.on('end', () => {
      this.#stopIdleTimer();
      this.#ended = true;
      this.#current?.push(null);
    });
    source.on('error', (e) => {
      this.#stopIdleTimer();
      this.#error = e;
      this.#current?.destroy(e);
    });
    // A client that left mid-body: nothing more will come.
    source.on('close', () => this.#stopIdleTimer());
    source.pause();
  }

  /** Whether the client paused longer than the idle timeout while sending. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  #stopIdleTimer(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  /** Whether a new attempt can still send the whole body. */
  get replayable(): boolean {
    return !this.#overflowed && this.#error === null;
  }

  /** A fresh stream for one attempt; the previous attempt's stream is detached. */
  open(): Readable {
    const previous = this.#current;
    if (previous) {
      this.#current = null;
      previous.destroy();
    }
    const stream = new Readable({
      read: () => {
        if (this.#current === stream && !this.#ended) {
          // From here on, waiting for bytes is waiting for the client.
          if (this.#heldBack) {
            this.#heldBack = false;
            this.#idleTimer?.refresh();
          }
          this.source.resume();
        }
      },
    });
    for (const c of this.#chunks) stream.push(c);
    if (this.#ended) stream.push(null);
    else if (this.#error) stream.destroy(this.#error);
    this.#current = stream;
    return stream;
  }
}
