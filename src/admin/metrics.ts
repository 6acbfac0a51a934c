/**
 * The Prometheus registry (prom-client) and the metrics every module shares.
 * Collectors that read live values (in-flight, peers, breakers, lifecycle) are
 * evaluated on scrape, so nothing is done on the request path for them.
 */
import client from 'prom-client';

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'graceful_edge_process_' });
  const requests = new client.Counter({
    name: 'graceful_edge_requests_total',
    help: 'Proxied requests by outcome (ok, retried, no_target, draining_503, bad_gateway, timeout, cut, aborted, hop_refused).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
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
  return { registry, requests, meshNotices, snapshots, client };
}

export type Metrics = ReturnType<typeof createMetrics>;
