/**
 * How many client connections the proxy listener holds at once, and what it
 * does past that. Without a cap, idle sockets up to the fd limit locked out
 * every client and the admin's health checks (issue 11, item 6); with one,
 * the connection past the cap is accepted and closed at once (Node's
 * `server.maxConnections`), counted and logged, and the fds it would have
 * used stay free for upstream sockets, the admin listener and the store.
 */
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';

/** Used when the fd limit cannot be read (not Linux) or is unlimited-looking. */
export const FALLBACK_FD_LIMIT = 1_024;

/**
 * Fds kept back for everything that is not a client connection or its
 * upstream socket: stdio, the event loop's own fds, the admin listener and a
 * few admin clients (health checks, /events), the mesh UDP socket, mDNS and
 * etcd sockets, SQLite's database, WAL and shm files, the data-dir lock.
 */
export const RESERVED_FDS = 64;

/** The soft `Max open files` limit of this process, from /proc/self/limits; null if unknown. */
export function readFdSoftLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m) return null;
  if (m[1] === 'unlimited') return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * The default cap: every proxied connection may hold one upstream socket as
 * well (a request in flight, a WebSocket tunnel), so half of what is left
 * after the reserve: `floor((softLimit - 64) / 2)`, at least 1.
 * 1024 fds → 480 connections; 256 → 96; 65536 → 32736.
 */
export function defaultMaxConnections(fdSoftLimit: number | null): number {
  const fds = fdSoftLimit ?? FALLBACK_FD_LIMIT;
  return Math.max(1, Math.floor((fds - RESERVED_FDS) / 2));
}

export interface ConnectionLimit {
  maxConnections: number;
  /** Where the cap came from: the flag, or the fd limit it was derived from. */
  source: 'configured' | 'fd-limit';
  fdSoftLimit: number | null;
}

export function resolveConnectionLimit(configured: number | null, fdSoftLimit = readFdSoftLimit()): ConnectionLimit {
  if (configured !== null) return { maxConnections: configured, source: 'configured', fdSoftLimit };
  return { maxConnections: defaultMaxConnections(fdSoftLimit), source: 'fd-limit', fdSoftLimit };
}

const REJECTED_METRIC = 'graceful_edge_proxy_connections_rejected_total';
const OPEN_METRIC = 'graceful_edge_proxy_connections';
const MAX_METRIC = 'graceful_edge_proxy_max_connections';

/**
 * Applies the cap to the proxy's server: counts every connection refused
 * past it in `/metrics` and logs at most one warning a second while it is
 * being hit. `open()` reports the connections the listener holds now.
 */
export function enforceConnectionLimit(
  server: net.Server,
  limit: ConnectionLimit,
  deps: { logger: Logger; metrics: Metrics; open: () => number },
): void {
  server.maxConnections = limit.maxConnections;
  const { registry, client } = deps.metrics;
  // The actor may be started again in the same process (tests, restarts): one metric each.
  const rejected =
    (registry.getSingleMetric(REJECTED_METRIC) as InstanceType<typeof client.Counter> | undefined) ??
    new client.Counter({
      name: REJECTED_METRIC,
      help: 'Client connections to the proxy closed at once because --max-connections were open.',
      registers: [registry],
    });
  registry.removeSingleMetric(OPEN_METRIC);
  registry.removeSingleMetric(MAX_METRIC);
  new client.Gauge({
    name: OPEN_METRIC,
    help: 'Client connections the proxy listener holds (WebSocket tunnels included).',
    registers: [registry],
    collect() {
      this.set(deps.open());
    },
  });
  new client.Gauge({
    name: MAX_METRIC,
    help: 'The connection cap (--max-connections, or derived from the fd limit).',
    registers: [registry],
    collect() {
      this.set(limit.maxConnections);
    },
  });
  const log = new RateLimitedLog(1_000);
  let rejectedTotal = 0;
  server.on('drop', () => {
    rejected.inc();
    rejectedTotal++;
    log.hit('cap', (suppressed) =>
      deps.logger.warn(
        { maxConnections: limit.maxConnections, open: deps.open(), rejected: suppressed + 1, rejectedTotal },
        'proxy connection limit reached: closing new connections',
      ),
    );
  });
}
