/**
 * Counts work in flight: HTTP requests from arrival to the last byte of the
 * response (or abort), and open WebSocket tunnels. Draining waits on it.
 *
 * Requests are kept in an intrusive doubly linked list (the record is the
 * node), not a Set: adding and deleting every request in a long-lived Set
 * retained per-request objects past young-generation GC and was one of the
 * two causes of the GC load measured in docs/performance.md.
 */

/** Something in progress for a request that can be stopped (an attempt, a relay). */
export interface Abortable {
  abort(reason: string): void;
}

/** What the server keeps per request in flight. A class: see docs/performance.md (pretenuring). */
export class RequestRecord {
  /** Set once an answer is chosen; counted when the response closes. */
  outcome: string | null = null;
  /** Set by the cut, so the close is counted as `cut`, not `aborted`. */
  cut = false;
  /** The attempt in progress (client gone, cut, body timeout stop it). */
  attempt: Abortable | null = null;
  /** @internal list links */
  prev: RequestRecord | null = null;
  /** @internal list links */
  next: RequestRecord | null = null;
  /** @internal whether it is still in the list */
  active = false;

  abortAttempt(reason: string): void {
    const a = this.attempt;
    if (a !== null) a.abort(reason);
  }
}

export class InFlightTracker {
  requests = 0;
  websockets = 0;
  /** Requests finished since shutdown began. */
  completedSinceShutdown = 0;
  shuttingDown = false;
  #head: RequestRecord | null = null;

  get count(): number {
    return this.requests + this.websockets;
  }

  /** A request arrived: its record, linked in until `endRequest`. */
  beginRequest(): RequestRecord {
    const r = new RequestRecord();
    r.active = true;
    r.next = this.#head;
    if (this.#head !== null) this.#head.prev = r;
    this.#head = r;
    this.requests++;
    return r;
  }

  /** The request's response closed; idempotent. */
  endRequest(r: RequestRecord): void {
    if (!r.active) return;
    r.active = false;
    if (r.prev !== null) r.prev.next = r.next;
    else this.#head = r.next;
    if (r.next !== null) r.next.prev = r.prev;
    r.prev = r.next = null;
    r.attempt = null;
    this.requests--;
    this.#settled();
  }

  /** Every request in flight (the cut marks them). */
  forEachRequest(fn: (r: RequestRecord) => void): void {
    for (let r = this.#head; r !== null; r = r.next) fn(r);
  }

  /** Call once per tunnel (or untracked request); the returned function is idempotent. */
  begin(kind: 'request' | 'websocket' = 'request'): () => void {
    if (kind === 'request') this.requests++;
    else this.websockets++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (kind === 'request') this.requests--;
      else this.websockets--;
      this.#settled();
    };
  }

  #settled(): void {
    if (this.shuttingDown) this.completedSinceShutdown++;
  }
}

/** The proxy's counts as others read them (admin, metrics, the daemon's log lines). */
export type InFlightView = Readonly<Pick<InFlightTracker, 'count' | 'requests' | 'websockets'>>;
