/**
 * Counts work in flight: HTTP requests from arrival to the last byte of the
 * response (or abort), and open WebSocket tunnels. Draining waits on it.
 * Kept to two integers and a callback so the hot path costs nothing.
 */
export class InFlightTracker {
  requests = 0;
  websockets = 0;
  /** Requests finished since shutdown began. */
  completedSinceShutdown = 0;
  shuttingDown = false;
  #onIdle: (() => void) | null = null;

  get count(): number {
    return this.requests + this.websockets;
  }

  /** Call once per request; the returned function is idempotent. */
  begin(kind: 'request' | 'websocket' = 'request'): () => void {
    if (kind === 'request') this.requests++;
    else this.websockets++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (kind === 'request') this.requests--;
      else this.websockets--;
      if (this.shuttingDown) this.completedSinceShutdown++;
      if (this.count === 0 && this.#onIdle) {
        const cb = this.#onIdle;
        this.#onIdle = null;
        cb();
      }
    };
  }

  /** Resolves `cb` the moment nothing is in flight (at once if already idle). */
  whenIdle(cb: () => void): void {
    if (this.count === 0) cb();
    else this.#onIdle = cb;
  }
}
