/** Gauges read from live state at scrape time; nothing runs per request. */
import { LIFECYCLE_NAMES } from '../../machines/lifecycle-names.js';
import type { AdminContext } from '../admin/node-status.js';

export function registerLiveMetrics(admin: AdminContext): void {
  const { client, registry } = admin.metrics;
  new client.Gauge({
    name: 'graceful_edge_in_flight',
    help: 'Requests and WebSocket tunnels in flight.',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.set({ kind: 'request' }, admin.status.inFlight.requests);
      this.set({ kind: 'websocket' }, admin.status.inFlight.websockets);
    },
  });
  new client.Gauge({
    name: 'graceful_edge_lifecycle_state',
    help: '1 for each active lifecycle state, 0 otherwise.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const active = admin.status.lifecycle.names();
      for (const name of LIFECYCLE_NAMES) this.set({ state: name }, active.includes(name) ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'graceful_edge_peers',
    help: 'Known mesh peers by status.',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      const counts = { alive: 0, suspect: 0, left: 0 };
      for (const p of admin.status.peers.list()) counts[p.status]++;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new client.Gauge({
    name: 'graceful_edge_circuit_breakers',
    help: 'Circuit breakers by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const counts: Record<string, number> = { closed: 0, open: 0, 'half-open': 0, isolated: 0 };
      for (const b of admin.status.breakers.list()) counts[b.state] = (counts[b.state] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new client.Gauge({
    name: 'graceful_edge_circuit_breaker_open',
    help: '1 when the breaker of a target is open (or isolated), else 0.',
    labelNames: ['target'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of admin.status.breakers.list()) this.set({ target: b.target }, b.state === 'open' || b.state === 'isolated' ? 1 : 0);
    },
  });
}
