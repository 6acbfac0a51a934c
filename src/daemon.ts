/**
 * The composition root: builds the shared runtime, asks each area for its
 * implementations, provides them to the pure lifecycle chart and runs it.
 * Nothing is started beside the chart: every socket, packet and row comes
 * from an actor the chart invokes.
 */
import { errorMessage } from '../machines/error-message.js';
import { createActor } from 'xstate';
import { lifecycleMachine } from '../machines/lifecycle.js';
import type { LifecycleActors, LifecycleInput } from '../machines/lifecycle.js';
import type { Config } from './config/schema.js';
import { createLogger } from './log/logger.js';
import { createMetrics } from './observability/metrics.js';
import { PeerTable } from './routing/peer-table.js';
import { InFlightTracker } from './proxy/in-flight-tracker.js';
import { LifecycleView } from './observability/lifecycle-view.js';
import { TransitionRecorder } from './observability/transition-recorder.js';
import { createDeregisterActor } from './areas/deregister.js';
import { forwardSignals } from './signals.js';
import type { NodeRuntime } from './runtime.js';
import { createAdminArea } from './admin/area.js';
import { createStoreArea } from './store/area.js';
import { createBreakerRegistry, createProxyArea } from './proxy/area.js';
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
  const rt: NodeRuntime = {
    config,
    logger,
    metrics: createMetrics(),
    peers: new PeerTable(config.listen),
    breakers: createBreakerRegistry(logger),
    tracker: new InFlightTracker(),
    lifecycle: new LifecycleView(),
    store: null,
    restart,
  };

  // Order matters only for `leave` steps' logs; all run in parallel.
  const areas = [
    createStoreArea(rt),
    createProxyArea(rt),
    createAdminArea(rt),
    createMeshArea(rt),
    createDiscoveryArea(rt),
    createRegistryArea(rt),
  ];
  // Typed against the chart's setup(): a misspelled name or a wrong logic type fails tsc.
  const actors: LifecycleActors = {
    ...areas.reduce<LifecycleActors>((all, area) => ({ ...all, ...area.actors }), {}),
    deregister: createDeregisterActor(areas, logger),
    successor: createSuccessorActor(rt, restart),
  };

  const machine = lifecycleMachine.provide({
    actors,
    actions: {
      applyPeerFound: (_, peer) => {
        if (rt.peers.upsert(peer)) logger.debug({ peer }, 'peer found');
      },
      applyPeerLeft: (_, { address, reason }) => {
        if (rt.peers.markLeft(address)) logger.info({ peer: address, reason }, 'peer left');
      },
      applyPeerStatus: (_, { address, status }) => {
        if (rt.peers.setStatus(address, status)) logger.info({ peer: address, status }, 'peer status changed');
      },
      applyRestored: (_, { peers, breakers }) => {
        for (const peer of peers) rt.peers.upsert(peer);
        rt.breakers.restoreAll(breakers);
      },
      recordLeaseId: (_, leaseId) => {
        try {
          rt.store?.setMeta(LEASE_META_KEY, leaseId);
        } catch (error) {
          logger.warn({ component: 'etcd', leaseId, error: errorMessage(error) }, 'cannot save the etcd lease id');
        }
      },
      reportStartupFailure: ({ context }) => logger.fatal({ error: context.lastError }, 'cannot start'),
      reportRestoreFailure: (_, reason) => logger.warn({ reason }, 'saved state not restored, starting fresh'),
      reportSecondSignal: ({ context }) =>
        logger.warn({ inFlight: rt.tracker.count, signals: context.signals }, 'second signal: skipping the rest of the drain'),
      reportDeregisterTimeout: ({ context }) =>
        logger.warn({ timeoutMs: context.deregisterTimeoutMs }, 'deregistration did not finish in time; going on'),
      reportDrainDeadline: ({ context }) =>
        logger.warn({ inFlight: rt.tracker.count, drainDeadlineMs: context.drainDeadlineMs }, 'drain deadline reached: cutting what is left'),
      reportPersistFailure: (_, reason) => logger.error({ reason }, 'final snapshot failed'),
      reportSnapshotFailure: (_, { error, attempt }) => logger.error({ error, attempt }, 'snapshot failed'),
      reportRestartFailure: (_, reason) => logger.error({ restart: 'failed', reason }, 'hot restart failed: still serving on this process'),
      reportRestartIgnored: ({ context }) =>
        logger.warn({ restart: 'ignored', lifecycle: rt.lifecycle.label(), restartAt: context.restartAt }, 'hot restart ignored: not serving, or one is under way'),
      releaseToSuccessor: ({ context }) => {
        restart.release((error) => logger.error({ err: error }, 'hot restart: letting go of a listener failed'));
        logger.info(
          { restart: 'handed-over', successor: context.successor, inFlight: rt.tracker.count, tookMs: context.restartAt ? Date.now() - context.restartAt : null },
          'hot restart: successor serving; draining here without deregistering',
        );
      },
      resumeAfterRestart: () => {
        restart.presenceHeld = false;
        // The successor may have taken the data dir lock before it failed.
        if (rt.store) {
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
  const recorder = new TransitionRecorder(rt, input);
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
  rt.lifecycle.attach(() => actor.getSnapshot());
  // The optimising compiler, held back while starting, is let go by the
  // first proxy client (src/proxy/proxy-server.ts) or, on a node that gets
  // none, a while after it serves, once the loading that follows start-up
  // (mDNS, etcd) is done: src/startup-compiler.ts.
  const compilerOn = actor.subscribe(() => {
    if (!rt.lifecycle.isServing()) return;
    compilerOn.unsubscribe();
    setTimeout(resumeOptimisingCompiler, COMPILER_AFTER_SERVING_MS).unref();
  });

  const exitCode = await new Promise<number>((resolve) => {
    const stopSignals = forwardSignals((event) => actor.send(event), logger);
    const stopRestartSignal = forwardRestartSignal((event) => actor.send(event), restart, () => rt.lifecycle.isServing(), logger);
    let finished = false;
    // A successor tells its predecessor READY once it serves on the passed
    // listeners; under systemd (Type=notify) every start says READY=1 and a
    // successor first makes itself the main pid.
    const systemd = createSystemdNotifier(logger);
    if (restart.takeover || systemd) {
      announceReadyWhen(
        // Serving means the proxy is bound (online.binding is passed); the admin reports on its own.
        () => rt.lifecycle.isServing() && rt.lifecycle.snapshot()?.context.adminAddress != null,
        () => rt.store?.currentRunId ?? null,
        () => finished,
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
        finished = true;
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
    rt.store?.close();
  } catch (error) {
    logger.error({ err: error }, 'closing the store failed');
  }
  bridge?.stop();
  return exitCode;
}
