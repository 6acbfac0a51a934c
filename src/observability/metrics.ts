/**
 * The Prometheus registry (prom-client) and the metrics every module shares.
 * Collectors that read live values (in-flight, peers, breakers, lifecycle) are
 * evaluated on scrape, so nothing is done on the request path for them.
 * Per-request counts are plain integers (`countRequest`), copied into the
 * prom-client counters at scrape by `collect()`: the request path does one
 * property increment, no label hashing and no prom-client call.
 */
import client from 'prom-client';

/** Plain counts by label value, read by a prom-client counter's collect(). */
export class PlainCounts {
  readonly #counts = new Map<string, number>();

  inc(label: string, n = 1): void {
    this.#counts.set(label, (this.#counts.get(label) ?? 0) + n);
  }

  get(label: string): number {
    return this.#counts.get(label) ?? 0;
  }

  entries(): IterableIterator<[string, number]> {
    return this.#counts.entries();
  }
}

/** A counter whose values are plain counts, copied into prom-client at scrape. */
function plainCounter(registry: client.Registry, name: string, help: string, label: string): PlainCounts {
  const counts = new PlainCounts();
  new client.Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect(this: client.Counter<string>): void {
      this.reset();
      for (const [value, n] of counts.entries()) this.inc({ [label]: value }, n);
    },
  });
  return counts;
}

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'graceful_edge_process_' });
  const requestCounts = plainCounter(
    registry,
    'graceful_edge_requests_total',
    'Proxied requests by outcome (ok, retried, no_target, draining_503, bad_gateway, timeout, body_timeout, local_resource, breaker_open, target_draining, upstream_aborted, cut, aborted, hop_refused).',
    'outcome',
  );
  const localErrorCounts = plainCounter(
    registry,
    'graceful_edge_local_errors_total',
    "Forwarding attempts that failed for want of a local resource (EMFILE, ENFILE, ENOBUFS, ENOMEM), by code: answered 503, never counted against the target's breaker.",
    'code',
  );
  const meshNotices = new client.Counter({
    name: 'graceful_edge_mesh_notices_total',
    help: 'Mesh notices received by verdict (accepted, bad_signature, stale, replay, malformed, oversized, unsigned, unknown_peer, no_key, not_serving, unsolicited, superseded).',
    labelNames: ['kind', 'verdict'] as const,
    registers: [registry],
  });
  const snapshots = new client.Counter({
    name: 'graceful_edge_snapshots_total',
    help: 'State snapshots written, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return {
    registry,
    /** One request finished with this outcome (the hot path: a Map increment). */
    countRequest: (outcome: string) => requestCounts.inc(outcome),
    /** The plain counts themselves: a worker reports them, the primary adds them up (src/workers/). */
    requestCounts,
    localErrorCounts,
    countLocalError: (code: string) => localErrorCounts.inc(code),
    meshNotices,
    snapshots,
    client,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
