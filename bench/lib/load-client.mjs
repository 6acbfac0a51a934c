// Steady keep-alive load at a fixed rate, like a well-behaved client fleet:
// `connections` sockets, each sending its next request on schedule. Every
// request's outcome is kept with its send time, so a shutdown can be judged
// by what was sent before / after the listener closed. Bounded in time and count.
import http from 'node:http';

export function startLoad(url, { rate = 400, connections = 16, maxSeconds = 30, path = '/100b', headers = {} } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, keepAliveMsecs: 1000 });
  const target = new URL(path, url);
  const records = [];
  const maxRequests = Math.ceil(rate * maxSeconds) + connections;
  const t0 = performance.now();
  let stopping = false;
  const interval = (connections / rate) * 1000;

  const one = () =>
    new Promise((resolve) => {
      const rec = { sentAt: performance.now(), doneAt: 0, status: 0, draining: false, error: null, reused: false, handledBy: null };
      const req = http.request(target, { agent, headers, timeout: 10_000 }, (res) => {
        rec.status = res.statusCode;
        rec.draining = res.headers['x-graceful-edge-draining'] === '1';
        rec.handledBy = res.headers['x-origin-port'] ?? null;
        res.on('data', () => {});
        res.on('end', () => ((rec.doneAt = performance.now()), resolve(rec)));
        res.on('error', (e) => ((rec.error = e.code ?? e.message), (rec.doneAt = performance.now()), resolve(rec)));
      });
      req.on('socket', () => (rec.reused = req.reusedSocket));
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => {
        rec.error = e.code ?? e.message;
        rec.doneAt = performance.now();
        resolve(rec);
      });
      req.end();
    });

  const worker = async (i) => {
    // Workers are spread evenly over one interval so the rate is smooth.
    let next = t0 + (i / connections) * interval;
    while (!stopping && records.length < maxRequests && performance.now() - t0 < maxSeconds * 1000) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next += interval;
      const rec = await one();
      records.push(rec);
    }
  };
  const done = Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
  return {
    records,
    t0,
    async stop() {
      stopping = true;
      await done;
      agent.destroy();
      return records;
    },
  };
}

/**
 * Classifies outcomes relative to the moment the proxy's listener closed
 * (`closedAt`, performance.now() clock; Infinity when unknown).
 * - ok: 2xx
 * - draining503: the documented answer to a late request (Retry-After, Connection: close)
 * - refused: ECONNREFUSED, i.e. never accepted
 * - backlogReset: reset of a new connection, without answer, within 50 ms of the
 *   listener closing — it sat in the kernel's accept queue, never accepted
 * - failedAccepted: any other answer or connection error for a request SENT
 *   before the listener closed — must be 0
 * - failedLate: the same for requests sent after it closed (not accepted by definition,
 *   except on a kept-alive socket, listed to be honest)
 */
export function classify(records, closedAt = Infinity) {
  const out = { total: records.length, ok: 0, draining503: 0, refused: 0, backlogReset: 0, failedAccepted: 0, failedLate: 0, errors: {} };
  for (const r of records) {
    if (r.status >= 200 && r.status < 300 && !r.error) out.ok++;
    else if (r.status === 503 && r.draining) out.draining503++;
    else if (r.error === 'ECONNREFUSED') out.refused++;
    else if (r.error === 'ECONNRESET' && !r.reused && r.status === 0 && Math.abs(r.doneAt - closedAt) < 50) {
      // A fresh connection the kernel had completed but the proxy had not yet
      // accept()ed when the listener closed: the kernel resets it. The proxy
      // never saw the request; a client cannot tell, so it is listed apart.
      out.backlogReset++;
    } else {
      const key = r.error ?? `HTTP ${r.status}`;
      out.errors[key] = (out.errors[key] ?? 0) + 1;
      // A few examples, to tell a client race from a proxy fault.
      if ((out.examples ??= []).length < 10) out.examples.push({ key, sentAt: r.sentAt, doneAt: r.doneAt, reused: r.reused });
      if (r.sentAt < closedAt) out.failedAccepted++;
      else out.failedLate++;
    }
  }
  return out;
}
