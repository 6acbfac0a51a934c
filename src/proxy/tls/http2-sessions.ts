/**
 * HTTP/2 sessions and the shutdown timeline. At the signal every session gets
 * a GOAWAY whose last-stream-id is the last stream it accepted (Node's
 * `session.close()`): those streams complete (they are in-flight requests for
 * the drain, counted by the tracker like any request), streams the client
 * opens after it are refused with REFUSED_STREAM, which RFC 9113 §8.7 makes
 * safe to retry on a new connection. A session opened while closing serves
 * the requests it sent and gets its GOAWAY after the first one, the HTTP/2
 * form of `Connection: close`. At the drain deadline the rest are destroyed
 * (their streams reset), counted as cut by the proxy.
 */
import type http from 'node:http';
import http2 from 'node:http2';

export class Http2Sessions {
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  /** Open streams, so the cut can reset each with CANCEL before the session goes. */
  readonly #streams = new Set<http2.ServerHttp2Stream>();
  #goaways = 0;

  add(session: http2.ServerHttp2Session): void {
    this.#sessions.add(session);
    session.on('error', () => undefined);
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      this.#streams.add(stream);
      stream.once('close', () => this.#streams.delete(stream));
    });
    session.once('close', () => this.#sessions.delete(session));
  }

  get open(): number {
    return this.#sessions.size;
  }

  /** GOAWAYs sent since start (for logs and tests). */
  get goaways(): number {
    return this.#goaways;
  }

  #goAway(session: http2.ServerHttp2Session): void {
    if (session.closed || session.destroyed) return;
    this.#goaways++;
    session.close();
  }

  /** GOAWAY to every open session; returns how many got one now. */
  goAwayAll(): number {
    const before = this.#goaways;
    for (const s of this.#sessions) this.#goAway(s);
    return this.#goaways - before;
  }

  /** While closing: the session of this HTTP/2 request gets its GOAWAY after this stream. */
  goAwayAfter(req: http.IncomingMessage): void {
    const stream = (req as unknown as { stream?: http2.ServerHttp2Stream }).stream;
    if (stream?.session) this.#goAway(stream.session as http2.ServerHttp2Session);
  }

  /**
   * The cut: every open stream is reset with CANCEL (so its client knows the
   * answer is incomplete, not just a closed connection), then every session
   * is destroyed a moment later, once the RST_STREAM frames are out.
   * Returns how many sessions there were.
   */
  destroyAll(): number {
    const n = this.#sessions.size;
    for (const st of this.#streams) if (!st.closed) st.close(http2.constants.NGHTTP2_CANCEL);
    const sessions = [...this.#sessions];
    setTimeout(() => {
      for (const s of sessions) s.destroy();
    }, 50).unref();
    return n;
  }
}
