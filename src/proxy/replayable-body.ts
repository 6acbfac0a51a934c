/**
 * A request body that streams to the target as it arrives, while keeping a
 * bounded copy of what was read so far. If the first target never got the
 * request (refused connection, draining 503), a second attempt replays the
 * copy and then carries on with the live stream. Past the limit the copy is
 * dropped and the request can no longer be retried (answered 502 instead).
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

  constructor(
    private readonly source: Readable,
    private readonly limit = REPLAY_LIMIT_BYTES,
  ) {
    source.on('data', (chunk: Buffer) => {
      if (!this.#overflowed) {
        this.#size += chunk.length;
        if (this.#size > this.limit) {
          this.#overflowed = true;
          this.#chunks = [];
        } else this.#chunks.push(chunk);
      }
      if (!this.#current || !this.#current.push(chunk)) source.pause();
    });
    source.on('end', () => {
      this.#ended = true;
      this.#current?.push(null);
    });
    source.on('error', (e) => {
      this.#error = e;
      this.#current?.destroy(e);
    });
    source.pause();
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
        if (this.#current === stream && !this.#ended) this.source.resume();
      },
    });
    for (const c of this.#chunks) stream.push(c);
    if (this.#ended) stream.push(null);
    else if (this.#error) stream.destroy(this.#error);
    this.#current = stream;
    return stream;
  }
}
