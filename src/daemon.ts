/**
 * The composition root: builds what is shared (config, logger, metrics),
 * gives each area exactly what it needs (read-only views of what others
 * own), provides their implementations to the pure lifecycle chart and runs
 * it. Nothing is started beside the chart: every socket, packet and row
 * comes from an actor the chart invokes. The routing table and the restored
 * breakers are written here only, by the chart's actions.
 */
import { errorMessage } from '../machines/error-message.js';
import { createActor } from 'xstate';
import { lifecycleMachine } from '../machines/lifecycle.js';
import type { LifecycleActors, LifecycleInput } from '../machines/lifecycle.js';
import type { Config } from './config/schema.js';
import { createLogger } from './log/logger.js';
import { createMetrics } from './observability/metrics.js';
import { PeerTable } from './routing/peer-table.js';
import { LifecycleView } from './observability/lifecycle-view.js';
import { TransitionRecorder } from './observability/transition-recorder.js';
import { createDeregisterActor } from './areas/deregister.js';
import { forwardSignals } from './signals.js';
import type { Shared } from './runtime.js';
import type { NodeStatus } from './admin/node-status.js';
import { createAdminArea } from './admin/area.js';
import { createStoreArea } from './store/area.js';
import { createBreakerRegistry, createProxyArea } from './proxy/area.js';
import type { BreakerRecord } from './proxy/breaker-registry.js';
import type { Logger } from './log/logger.js';
import { MergedBreakers } from './workers/merged-breakers.js';
import { createMeshArea } from './mesh/area.js';
import { createDiscoveryArea } from './discovery/area.js';
import { createRegistryArea } from './registry/area.js';
import { LEASE_META_KEY } from './registry/registry-status.js';
import { reclaimDataDirLock } from './store/data-dir-lock.js';
import { announceReadyWhen, receiveTakeover } from './restart/takeover.js';
import { createSuccessorActor } from './restart/successor-actor.js';
import { forwardRestartSignal } from './restart/sighup.js';
import { createSystemdNotifier } from './restart/systemd-notify.js';
import { resumeOptimisingCompiler } from './startup-compiler.js';

/** See the compiler's subscription below. */
const COMPILER_AFTER_SERVING_MS = 10_000;

export async function runDaemon(config: Config): Promise<number> {
  const logger = createLogger(config.logLevel, config.nodeId);
  // A hot-restart successor first receives the listeners of the process it replaces.
  let restart;
  try {
    restart = await receiveTakeover(logger);
  } catch (error) {
    logger.fatal({ err: (error as Error).message }, 'hot restart: cannot take over');
    return 2;
  }
  // --workers N: every worker has its own breakers; the node keeps their merge (src/workers/merged-breakers.ts).
  const breakers = config.workers > 1 ? new MergedBreakers(validBreakerRecords(logger)) : createBreakerRegistry(logger);
  const shared: Shared = { config, logger, metrics: createMetrics() };
  // Written only by the chart's actions below; every area reads it as ReadonlyPeers.
  const peers = new PeerTable(config.listen);
  const lifecycle = new LifecycleView();

  const store = createStoreArea(shared, restart, () => ({ nodeId: config.nodeId, peers: peers.list(), breakers: breakers.exportAll() }));
  const proxy = createProxyArea(shared, { peers, breakers, restart });
  const discovery = createDiscoveryArea(shared, restart);
  const registry = createRegistryArea(shared, restart, lifecycle.startedAt);
  const status: NodeStatus = {
    lifecycle,
    peers,
    breakers,
    inFlight: proxy.inFlight,
    runId: () => store.run.runId(),
    restarts: restart.restarts,
    discovery: { mdns: discovery.status },
    registry: registry.status ? { etcd: registry.status } : null,
    workers: proxy.workers,
    workersRestarting: proxy.workersRestarting,
  };
  // Order matters only for `leave` steps' logs; all run in parallel.
  const areas = [store, proxy, createAdminArea(shared, status, restart), createMeshArea(shared, peers, restart), discovery, registry];
  // Typed against the chart's setup(): a misspelled name or a wrong logic type fails tsc.
  const actors: LifecycleActors = {
    ...areas.reduce<LifecycleActors>((all, area) => ({ ...all, ...area.actors }), {}),
    deregister: createDeregisterActor(areas, logger),
    successor: createSuccessorActor(logger, store.run, restart),
  };

  const machine = lifecycleMachine.provide({
    actors,
    actions: {
      applyPeerFound: (_, peer) => {
        if (peers.upsert(peer)) logger.debug({ peer }, 'peer found');
      },
      applyPeerLeft: (_, { address, reason }) => {
        if (peers.markLeft(address)) logger.info({ peer: address, reason }, 'peer left');
      },
      applyPeerStatus: (_, { address, status }) => {
        if (peers.setStatus(address, status)) logger.info({ peer: address, status }, 'peer status changed');
      },
      applyRestored: (_, restored) => {
        for (const peer of restored.peers) peers.upsert(peer);
        breakers.restoreAll(restored.breakers);
      },
      recordLeaseId: (_, leaseId) => {
        try {
          store.run.setMeta(LEASE_META_KEY, leaseId);
        } catch (error) {
          logger.warn({ component: 'etcd', leaseId, error: errorMessage(error) }, 'cannot save the etcd lease id');
        }
      },
      reportStartupFailure: ({ context }) => logger.fatal({ error: context.lastError }, 'cannot start'),
      reportRestoreFailure: (_, reason) => logger.warn({ reason }, 'saved state not restored, starting fresh'),
      reportSecondSignal: ({ context }) =>
        logger.warn({ inFlight: proxy.inFlight.count, signals: context.signals }, 'second signal: skipping the rest of the drain'),
      reportDeregisterTimeout: ({ context }) =>
        logger.warn({ timeoutMs: context.deregisterTimeoutMs }, 'deregistration did not finish in time; going on'),
      reportDrainDeadline: ({ context }) =>
        logger.warn({ inFlight: proxy.inFlight.count, drainDeadlineMs: context.drainDeadlineMs }, 'drain deadline reached: cutting what is left'),
      reportPersistFailure: (_, reason) => logger.error({ reason }, 'final snapshot failed'),
      reportSnapshotFailure: (_, { error, attempt }) => logger.error({ error, attempt }, 'snapshot failed'),
      reportRestartFailure: (_, reason) => logger.error({ restart: 'failed', reason }, 'hot restart failed: still serving on this process'),
      // One line per death; a slot that keeps dying is replaced ever more slowly
      // (machines/worker-backoff.ts), so a crash loop cannot flood the log.
      reportWorkerExit: (_, { pid, slot, uptimeMs, code, signal, inFlight, startError, replaced, replaceInMs, exitsInARow }) =>
        startError !== null
          ? logger.error(
              { worker: { slot }, startError, replaced, replaceInMs, exitsInARow },
              replaced ? 'worker could not be started; trying again' : 'worker could not be started; not retried while leaving',
            )
          : logger.error(
              { worker: { pid, slot, code, signal, uptimeMs }, inFlight, lost: inFlight, replaced, replaceInMs, exitsInARow },
              replaced ? 'worker exited: its requests in flight are lost; replacing it' : 'worker exited: its requests in flight are lost; not replaced while leaving',
            ),
      reportRestartIgnored: ({ context }) =>
        logger.warn({ restart: 'ignored', lifecycle: lifecycle.label(), restartAt: context.restartAt }, 'hot restart ignored: not serving, or one is under way'),
      releaseToSuccessor: ({ context }) => {
        restart.release((error) => logger.error({ err: error }, 'hot restart: letting go of a listener failed'));
        logger.info(
          { restart: 'handed-over', successor: context.successor, inFlight: proxy.inFlight.count, tookMs: context.restartAt ? Date.now() - context.restartAt : null },
          'hot restart: successor serving; draining here without deregistering',
        );
      },
      resumeAfterRestart: () => {
        restart.presenceHeld = false;
        // The successor may have taken the data dir lock before it failed.
        if (store.run.current) {
          try {
            reclaimDataDirLock(config.dataDir);
          } catch (error) {
            logger.error({ err: error }, 'hot restart: cannot take the data dir lock back');
          }
        }
      },
    },
  });

  const input: LifecycleInput = {
    nodeId: config.nodeId,
    drainTimeoutMs: config.drainTimeoutMs,
    shutdownDelayMs: config.shutdownDelayMs,
    restartTimeoutMs: config.restartTimeoutMs,
  };
  const recorder = new TransitionRecorder({ logger, lifecycle, store: () => store.run.current, restart }, input);
  // Only with --inspector-url: @statelyai/inspect and ws are otherwise never
  // loaded (docs/performance.md, "Memory").
  const bridge = config.inspectorUrl
    ? (await import('./observability/inspector-bridge.js')).createInspectorBridge(config.inspectorUrl, logger)
    : null;
  const actor = createActor(machine, {
    input,
    inspect: (event) => {
      recorder.inspect(event);
      bridge?.inspect(event);
    },
  });
  recorder.setRoot(actor);
  lifecycle.attach(() => actor.getSnapshot());
  // The optimising compiler, held back while starting, is let go by the
  // first proxy client (src/proxy/proxy-server.ts) or, on a node that gets
  // none, a while after it serves, once the loading that follows start-up
  // (mDNS, etcd) is done: src/startup-compiler.ts.
  const compilerOn = actor.subscribe(() => {
    if (!lifecycle.isServing()) return;
    compilerOn.unsubscribe();
    setTimeout(resumeOptimisingCompiler, COMPILER_AFTER_SERVING_MS).unref();
  });

  const exitCode = await new Promise<number>((resolve) => {
    const stopSignals = forwardSignals((event) => actor.send(event), logger);
    const stopRestartSignal = forwardRestartSignal((event) => actor.send(event), restart, () => lifecycle.isServing(), logger);
    // A successor tells its predecessor READY once it serves on the passed
    // listeners; under systemd (Type=notify) every start says READY=1 and a
    // successor first makes itself the main pid.
    const systemd = createSystemdNotifier(logger);
    if (restart.takeover || systemd) {
      announceReadyWhen(
        (listener) => {
          const subscription = actor.subscribe(listener);
          return () => subscription.unsubscribe();
        },
        // Serving means the proxy is bound (online.binding is passed); the admin reports on its own.
        () => lifecycle.isServing() && lifecycle.snapshot()?.context.adminAddress != null,
        () => store.run.runId(),
        async () => systemd?.ready(restart.takeover !== null),
        restart.takeover !== null,
      );
    }
    const onUncaught = (error: unknown) => {
      logger.error({ err: error }, 'uncaught exception: shutting down gracefully');
      actor.send({ type: 'SHUTDOWN', signal: 'uncaughtException', at: Date.now() });
    };
    process.on('uncaughtException', onUncaught);
    actor.subscribe({
      complete: () => {
        stopSignals();
        stopRestartSignal();
        process.off('uncaughtException', onUncaught);
        resolve(actor.getSnapshot().context.exitCode);
      },
      error: (error) => {
        logger.fatal({ err: error }, 'lifecycle actor failed');
        resolve(1);
      },
    });
    actor.start();
  });

  recorder.flush();
  const ctx = actor.getSnapshot().context;
  logger.info(
    { exitCode, lastError: ctx.lastError, shutdownAt: ctx.shutdownAt, drain: ctx.drain, tookMs: ctx.shutdownAt ? Date.now() - ctx.shutdownAt : null },
    'stopped',
  );
  try {
    store.run.close();
  } catch (error) {
    logger.error({ err: error }, 'closing the store failed');
  }
  bridge?.stop();
  return exitCode;
}

/** Saved breaker records a worker can use; the unusable ones are said once, here. */
function validBreakerRecords(logger: Logger): (records: BreakerRecord[]) => BreakerRecord[] {
  return (records) => {
    const check = createBreakerRegistry(logger);
    check.restoreAll(records);
    return check.exportAll();
  };
}
