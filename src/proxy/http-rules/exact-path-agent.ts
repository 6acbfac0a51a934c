/**
 * http-proxy-3 builds the outgoing path with a URL parser and its own join
 * (dot segments resolved, `'` re-escaped, an empty query dropped, `*` turned
 * into a path): a proxy must not change the path or query (RFC 9110 §7.7).
 * Node's ClientRequest calls `agent.addRequest` synchronously in its
 * constructor, before the request line is written (on the first write), so
 * this agent puts back the exact target the engine armed just before calling
 * `web()` (also synchronous up to `http.request`).
 */
import http from 'node:http';

export class ExactPathAgent extends http.Agent {
  #next: string | null = null;

  /** The path the next request made through this agent must carry. */
  arm(path: string): void {
    this.#next = path;
  }

  disarm(): void {
    this.#next = null;
  }

  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    if (this.#next !== null) {
      req.path = this.#next;
      this.#next = null;
    }
    (http.Agent.prototype as unknown as { addRequest: (r: http.ClientRequest, o: http.RequestOptions) => void }).addRequest.call(this, req, options);
  }
}
