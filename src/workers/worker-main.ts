/**
 * A data-plane worker (`--workers N`): the proxy request path only — the
 * listener on the handle the primary passed, the forwarder, breakers,
 * in-flight tracker and WebSocket tunnels. No store, no mesh, no admin and no
 * chart: the primary's chart decides, and this process does what its
 * commands say and reports what happened (src/workers/protocol.ts).
 */
import { createLogger } from '../log/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { PeerTable } from '../routing/peer-table.js';
import { InFlightTracker } from '../proxy/in-flight-tracker.js';
import { createBreakerRegistry, createEngine } from '../proxy/area.js';
import type { BreakerRegistry } from '../proxy/breaker-registry.js';
import type { BreakerRecord } from '../proxy/breaker-registry.js';
import { startProxyServer } from '../proxy/proxy-server.js';
import { redactTarget } from '../proxy/error-responses.js';
import type { ProxyServerHandle } from '../proxy/proxy-server.js';
import type { Shared } from '../runtime.js';
import { RestartState } from '../restart/restart-state.js';
import type { NativeListenHandle } from '../restart/restart-state.js';
import type { LifecycleEvent } from '../../machines/events.js';
import { PlainCounts } from '../observability/metrics.js';
import { TLS_FAILURES_METRIC } from '../proxy/tls/proxy-listener.js';
import { isWorkerMessage, WORKER_ENV } from './protocol.js';
import type { CountDeltas, FromWorker, ToWorker, WorkerStats } from './protocol.js';

const STATS_INTERVAL_MS = 100;

/**
 * The primary decides when the node stops: a signal meant for the node (a
 * terminal's Ctrl-C reaches the whole process group) must not kill the data
 * plane under its requests.
 */
const FOLLOWED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2', 'SIGXCPU', 'SIGPWR'] as const;

/**
 * A primary that was just killed is still `connected` until 'disconnect'
 * arrives, and a send in between fails (EPIPE). Without a callback, Node
 * raises that failure as an 'error' on `process`, which nobody handles: the
 * worker died with its in-flight requests instead of finishing them (seen
 * as a flaky e2e test). The 'disconnect' handler below does what is left.
 */
const ignoreSendFailure = (): void => undefined;

function send(message: FromWorker): void {
  if (process.connected) process.send!(message, undefined, {}, ignoreSendFailure);
}

/** Counts since the last call, and remembers what was sent. */
function deltasOf(counts: PlainCounts, sent: Map<string, number>): CountDeltas {
  const out: CountDeltas = {};
  for (const [label, n] of counts.entries()) {
    const d = n - (sent.get(label) ?? 0);
    if (d > 0) (out[label] = d), sent.set(label, n);
  }
  return out;
}

export function runWorker(): void {
  for (const s of FOLLOWED_SIGNALS) {
    try {
      process.on(s, () => undefined);
    } catch {
      // Not every platform has every signal.
    }
  }
  if (!process.send) {
    process.stderr.write('graceful-edge worker: started without an IPC channel to its primary\n');
    process.exit(2);
  }
  let rt: WorkerRuntime | null = null;
  let proxy: ProxyServerHandle | null = null;
  let exiting = false;

  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    proxy?.stop();
    // Let the last IPC message and log lines go out.
    setTimeout(() => process.exit(code), 20).unref();
  };

  const start = (init: Extract<ToWorker, { type: 'w:init' }>) => {
    const config = { ...init.config, meshKey: null };
    const logger = createLogger(config.logLevel, config.nodeId).child({ worker: Number(process.env[WORKER_ENV] ?? 0), pid: process.pid });
    const breakers = createBreakerRegistry(logger);
    breakers.restoreAll(init.breakers);
    const peers = new PeerTable(config.listen);
    peers.replaceAll(init.peers);
    rt = { config, logger, metrics: createMetrics(), peers, breakers, tracker: new InFlightTracker() };
    startStats(rt);
  };

  const listen = (handle: NativeListenHandle) => {
    if (!rt || proxy) return;
    const runtime = rt;
    proxy = startProxyServer(
      // The proxy listener serves on a passed handle exactly as after a hot restart.
      { ...runtime, restart: new RestartState(null, { proxy: handle }) },
      {
        engine: () => createEngine(runtime.config.proxyEngine),
        breakers: runtime.breakers,
        targetTimeoutMs: runtime.config.targetTimeoutMs,
        requestBodyTimeoutMs: runtime.config.requestBodyTimeoutMs,
      },
      (event: LifecycleEvent) => send({ type: 'w:event', event }),
    );
  };

  process.on('message', (message: unknown, handle: unknown) => {
    if (!isWorkerMessage<ToWorker>(message)) return;
    switch (message.type) {
      case 'w:init':
        return start(message);
      case 'w:listen':
        if (handle) listen(handle as NativeListenHandle);
        return;
      case 'w:command':
        return proxy?.receive(message.command);
      case 'w:peers':
        return rt?.peers.replaceAll(message.peers);
      case 'w:merged-breakers':
        for (const r of rt?.breakers.adopt(message.breakers) ?? []) {
          rt?.logger.info({ target: redactTarget(r.target), state: r.state }, 'circuit breaker state taken from another worker');
        }
        return;
      case 'w:exit':
        return exit(0);
    }
  });

  // The primary is gone (killed): nobody decides any more. Finish what is in
  // flight, as a drain would, then go; never outlive the drain budget.
  process.on('disconnect', () => {
    if (exiting) return;
    const log = rt?.logger;
    log?.warn({ inFlight: rt?.tracker.count ?? 0 }, 'worker: primary went away; finishing what is in flight, then exiting');
    if (!proxy || !rt) return exit(1);
    const runtime = rt;
    proxy.receive({ type: 'PROXY.DRAIN', phase: 'waiting', drainDeadlineMs: runtime.config.drainTimeoutMs });
    const deadline = Date.now() + runtime.config.drainTimeoutMs;
    const poll = setInterval(() => {
      if (runtime.tracker.count === 0 || Date.now() >= deadline) {
        clearInterval(poll);
        exit(1);
      }
    }, 50);
  });
}

/** Reports in-flight counts, request counters and breaker changes while anything changes. */
/** A worker's own small runtime: its copy of the peers (replaced by the primary's), its breakers and its counts. */
interface WorkerRuntime extends Shared {
  readonly peers: PeerTable;
  readonly breakers: BreakerRegistry;
  readonly tracker: InFlightTracker;
}

function startStats(rt: WorkerRuntime): void {
  const sentRequests = new Map<string, number>();
  const sentLocal = new Map<string, number>();
  // TLS refusals live in a prom-client counter (read asynchronously): totals by reason.
  const tlsTotals = new PlainCounts();
  const sentTls = new Map<string, number>();
  let lastStats = '';
  let lastBreakers = '';
  const timer = setInterval(() => {
    const tls = rt.metrics.registry.getSingleMetric(TLS_FAILURES_METRIC);
    if (tls) {
      void Promise.resolve(tls.get()).then((m) => {
        for (const v of m.values) {
          const reason = String(v.labels.reason);
          tlsTotals.inc(reason, v.value - tlsTotals.get(reason));
        }
      });
    }
    let requests = 0;
    for (const [, n] of rt.metrics.requestCounts.entries()) requests += n;
    const stats: WorkerStats = {
      inFlightRequests: rt.tracker.requests,
      inFlightWebSockets: rt.tracker.websockets,
      completedSinceShutdown: rt.tracker.completedSinceShutdown,
      requests,
      requestDeltas: {},
      localErrorDeltas: {},
      tlsFailureDeltas: {},
    };
    const key = `${stats.inFlightRequests}/${stats.inFlightWebSockets}/${stats.completedSinceShutdown}/${requests}/${[...rt.metrics.localErrorCounts.entries()].join()}/${[...tlsTotals.entries()].join()}`;
    if (key !== lastStats) {
      lastStats = key;
      stats.requestDeltas = deltasOf(rt.metrics.requestCounts, sentRequests);
      stats.localErrorDeltas = deltasOf(rt.metrics.localErrorCounts, sentLocal);
      stats.tlsFailureDeltas = deltasOf(tlsTotals, sentTls);
      send({ type: 'w:stats', stats });
    }
    const records: BreakerRecord[] = rt.breakers.exportAll();
    const signature = records.map((r) => `${r.target} ${r.state} ${r.updatedAt}`).join('\n');
    if (signature !== lastBreakers) {
      lastBreakers = signature;
      send({ type: 'w:breakers', breakers: records });
    }
  }, STATS_INTERVAL_MS);
  timer.unref();
}
