/**
 * The whole life of a graceful-edge node, as a pure XState v5 statechart.
 *
 * No I/O is imported here. Every actor and action below is a named stub whose
 * type parameters are its contract; the daemon (`src/daemon.ts`) supplies the
 * real ones with `machine.provide(...)`, tests and `graceful-edge replay` run
 * the chart as it is. The chart is the one channel between services: data
 * travels as actor input and output, events and context, never through a
 * shared bag one service polls.
 *
 * An invoked actor lives exactly as long as the state that invokes it, so each
 * is placed on the state that spans its resource's life. What starts when,
 * what it gets (input) and what it returns or sends back:
 *
 *   root         adminServer   —                         → ADMIN.LISTENING {address} | ADMIN.FAILED
 *                meshSocket    MESH.SERVING/NOT_SERVING  → MESH.LISTENING {port}, PEER.*
 *   starting     prepare       —                         → {movedAside, etcdLeaseId, payload: RestoreInput}
 *   restoring    restore       prepare's payload         → {summary, payload: RestoredState} → applyRestored
 *   online       proxy         PROXY.DRAIN {phase, drainDeadlineMs}, PROXY.REPLACE_WORKER
 *                (with --workers N: the supervisor of N data-plane processes, → WORKER.EXITED)
 *                                                        → PROXY.LISTENING {address} | FAILED, DRAINED, CUT_DONE
 *     binding    (no actor: waits for PROXY.LISTENING, so readiness is declared, not polled)
 *     serving    announcer     {proxyAddress, meshPort}  → PEER.*
 *                registrar     + {etcdLeaseId}           → PEER.*, REGISTRY.LEASE → recordLeaseId
 *                snapshotTimer, peerProber               → SNAPSHOT.*, PEER.STATUS
 *     handingOver  successor (hot restart), until READY  → RESTART.READY | RESTART.FAILED
 *     leaving    deregistering.notifying: deregister {timeoutMs, shutdownAt} → DeregisterOutcome
 *                ∥ draining: delaying → waiting → drained (deadline: cutting)
 *   persisting   persistFinal  {shutdownAt, drain, deregister, signals, successor}
 *
 * The drain timeline has one vocabulary, `DrainPhase` (events.ts): the
 * states delaying / waiting / handedOver / cutting / drained are also the
 * phases the proxy is told and logs.
 *
 * A hot restart (RESTART, from SIGHUP) is not a departure: serving →
 * handingOver (spawn the successor, pass the listeners, wait for READY) →
 * handedOver (stop accepting and drain, without deregistering) → persisting.
 * A successor that fails or times out sends the node back to serving.
 * Leaving `serving` must never kill in-flight requests, so the proxy lives on
 * `online` and the drain states only *tell* it what to do (sendTo).
 */
import { assign, fromCallback, fromPromise, sendTo, setup } from 'xstate';
import type { AnyEventObject, DoneActorEvent, EventObject, MachineImplementationsFrom, NonReducibleUnknown } from 'xstate';
import { planShutdown } from './budget.js';
import { errorMessage } from './error-message.js';
import { exitStreak, replacementDelayMs } from './worker-backoff.js';
import type {
  DeregisterOutcome,
  DrainOutcome,
  LifecycleEvent,
  PeerInfo,
  PeerStatus,
  MeshCommand,
  ProxyCommand,
  ProxyDrainCommand,
  RestoreInput,
  RestoreOutput,
  RestoredState,
  RestoreSummary,
  StartupOutput,
  SuccessorInfo,
} from './events.js';

/** Longest wait for a successor's READY before the restart is given up (default). */
export const RESTART_TIMEOUT_MS = 60_000;

export interface LifecycleInput {
  nodeId: string;
  /** `--drain-timeout`, the one shutdown budget, in ms. */
  drainTimeoutMs: number;
  /** `--shutdown-delay`, in ms. */
  shutdownDelayMs: number;
  /** Longest wait for a hot-restart successor's READY (default RESTART_TIMEOUT_MS). */
  restartTimeoutMs?: number;
}

export interface LifecycleContext {
  nodeId: string;
  budgetMs: number;
  persistReserveMs: number;
  drainDeadlineMs: number;
  shutdownDelayMs: number;
  deregisterTimeoutMs: number;
  /** Epoch ms of the first shutdown signal; null while not shutting down. */
  shutdownAt: number | null;
  /** Signals received while running, in order. */
  signals: string[];
  /** True once a second signal asked to skip what is left of the drain. */
  drainSkipped: boolean;
  movedAside: string | null;
  /** The etcd lease this node holds or left behind (kept in the store by `recordLeaseId`). */
  etcdLeaseId: string | null;
  restored: RestoreSummary | null;
  drain: DrainOutcome | null;
  deregister: DeregisterOutcome | null;
  /** Bound addresses, as their listeners report them (ports may be 0 in config). */
  proxyAddress: string | null;
  adminAddress: string | null;
  meshPort: number | null;
  snapshotsSaved: number;
  snapshotFailures: number;
  lastError: string | null;
  persistAttempts: number;
  exitCode: number;
  restartTimeoutMs: number;
  /** Epoch ms of the hot restart under way or done; null otherwise. */
  restartAt: number | null;
  /** Hot restarts tried / failed by this process. */
  restartAttempts: number;
  restartFailures: number;
  /** The process that took over (hot restart); null otherwise. */
  successor: SuccessorInfo | null;
  /**
   * `--workers N`: per worker slot, its exits in a row while serving or
   * handing over (a worker that lived past WORKER_SETTLE_MS starts a new
   * streak); the replacement back-off is computed from it
   * (machines/worker-backoff.ts).
   */
  workerExitStreaks: Record<number, number>;
}

/** What `reportWorkerExit` logs: the exit, and whether and how soon the worker is replaced. */
export interface WorkerExitReport {
  pid: number;
  slot: number;
  uptimeMs: number;
  code: number | null;
  signal: string | null;
  inFlight: number;
  /** Set when the worker could not be forked at all (the reason, e.g. EAGAIN). */
  startError: string | null;
  replaced: boolean;
  /** When replaced: the wait before the new worker starts (0: at once); null otherwise. */
  replaceInMs: number | null;
  /** When replaced: the slot's exits in a row, this one included; null otherwise. */
  exitsInARow: number | null;
}

type WorkerExited = Extract<LifecycleEvent, { type: 'WORKER.EXITED' }>;

interface Replacement {
  exitsInARow: number;
  delayMs: number;
}

/** The replacement of an exited worker, from the slot's streak as `noteWorkerExit` left it. */
function replacementOf(context: LifecycleContext, event: WorkerExited): Replacement {
  const exitsInARow = context.workerExitStreaks[event.slot] ?? 1;
  return { exitsInARow, delayMs: replacementDelayMs(exitsInARow) };
}

/** `replacement` null: not replaced (the node is leaving or has handed over). */
function exitReport({ pid, slot, uptimeMs, code, signal, inFlight, startError }: WorkerExited, replacement: Replacement | null): WorkerExitReport {
  return {
    pid,
    slot,
    uptimeMs,
    code,
    signal,
    inFlight,
    startError: startError ?? null,
    replaced: replacement !== null,
    replaceInMs: replacement?.delayMs ?? null,
    exitsInARow: replacement?.exitsInARow ?? null,
  };
}

/**
 * `--workers N`: a worker lost while the node serves is replaced, after its
 * slot's back-off. Taken in `serving` and in `handingOver`: a hot restart
 * that fails returns to `serving`, which would otherwise go on one worker
 * short for good; one that succeeds sends the `handedOver` drain command,
 * which cancels a replacement still waiting out its back-off and retires or
 * drains a started one with the others (src/workers/worker-pool.ts).
 */
const replaceExitedWorker = {
  actions: [
    'noteWorkerExit',
    {
      type: 'reportWorkerExit',
      params: ({ context, event }: { context: LifecycleContext; event: WorkerExited }) => exitReport(event, replacementOf(context, event)),
    },
    'tellProxyReplaceWorker',
  ],
} as const;

/** Input of the final-persist actor: everything the shutdown record needs. */
export interface PersistInput {
  shutdownAt: number | null;
  drain: DrainOutcome | null;
  deregister: DeregisterOutcome | null;
  signals: string[];
  /** Set when this process handed over to a successor (hot restart): not a departure. */
  successor?: SuccessorInfo | null;
}

export interface DeregisterInput {
  timeoutMs: number;
  /** Epoch ms of the signal, so each step can say how soon after it went out. */
  shutdownAt: number | null;
}

/**
 * Input of the actors that tell the world this node serves (announcer,
 * registrar): the addresses peers dial. Only `online.binding` leads to
 * `serving`, and only with PROXY.LISTENING, so the proxy address is known.
 */
export interface ServingInput {
  proxyAddress: string;
  /** Null when the mesh socket did not bind (its configured port is then named). */
  meshPort: number | null;
}

/** The registrar also gets the lease a previous run left behind, to revoke it. */
export interface RegistrarInput extends ServingInput {
  etcdLeaseId: string | null;
}

/**
 * Stubs for logic the daemon provides; never settle, do nothing. Their type
 * parameters are the contract `provide()` is checked against: output, input
 * (xstate's default when the chart passes none) and, for callbacks, the
 * events the chart sends them.
 */
function pending<TOutput, TInput = NonReducibleUnknown>() {
  return fromPromise<TOutput, TInput>(() => new Promise<TOutput>(() => undefined));
}
function idle<TEvent extends EventObject = AnyEventObject, TInput = NonReducibleUnknown>() {
  return fromCallback<TEvent, TInput>(() => undefined);
}

/**
 * How a drain ends, the same after a signal (leaving.draining) and after a
 * hot restart (handedOver): every request finished (PROXY.DRAINED, in the
 * region's own waiting state), or the deadline told the proxy to cut the rest.
 */
function servingInput(context: LifecycleContext): ServingInput {
  return { proxyAddress: context.proxyAddress ?? '', meshPort: context.meshPort };
}

/**
 * The drain's `waiting` transitions, shared by `leaving.draining` and
 * `handedOver`: every request finished, or a second signal cuts at once.
 */
const waitingForDrain = {
  SHUTDOWN: { target: 'cutting', actions: ['noteSecondSignal', 'reportSecondSignal'] },
  'PROXY.DRAINED': { target: 'drained', actions: 'recordDrain' },
} as const;

const drainEnd = {
  cutting: {
    entry: { type: 'tellProxy', params: 'cutting' },
    on: { 'PROXY.CUT_DONE': { target: 'drained', actions: 'recordDrain' } },
    after: { cutGrace: 'drained' },
  },
  drained: { type: 'final' },
} as const;

export const lifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as LifecycleInput,
  },
  actors: {
    /** Data dir writable, lock it, open the store (the CLI checked the config before). Rejects → exit 2. */
    prepare: pending<StartupOutput>(),
    /** Decides what of prepare's snapshot comes back; the chart applies it (applyRestored). */
    restoreSnapshot: pending<RestoreOutput, RestoreInput>(),
    /** Admin HTTP listener (health, state, metrics, events, inspector). */
    adminServer: idle(),
    /** UDP mesh socket: receives leave notices, answers acks. */
    meshSocket: idle<MeshCommand>(),
    /** Proxy listener + in-flight tracker; obeys ProxyCommand events. */
    proxyServer: idle<ProxyCommand>(),
    /** mDNS publish + browse while serving. */
    announcer: idle<AnyEventObject, ServingInput>(),
    /** etcd lease + watch while serving. */
    registrar: idle<AnyEventObject, RegistrarInput>(),
    /** Periodic snapshot while serving. */
    snapshotTimer: idle(),
    /** Probes suspect (restored) peers before they get traffic. */
    peerProber: idle(),
    /** mDNS goodbye, signed leave notices (+acks), etcd lease revoke. */
    deregister: pending<DeregisterOutcome, DeregisterInput>(),
    /** Final snapshot and shutdown record. */
    persistFinal: pending<void, PersistInput>(),
    /** Hot restart: saves, spawns the successor, passes the listeners; sends RESTART.READY / RESTART.FAILED. */
    successor: idle(),
  },
  actions: {
    /** Routing-table effects, provided by the daemon; no-ops in replay. */
    applyPeerFound: (_, _peer: PeerInfo) => undefined,
    applyPeerLeft: (_, _left: { address: string; reason: string }) => undefined,
    applyPeerStatus: (_, _status: { address: string; status: PeerStatus }) => undefined,
    /** Restored peers into the routing table, breakers into the registry. */
    applyRestored: (_, _restored: RestoredState) => undefined,
    /** Keeps the etcd lease id in the store at once: a crash after the grant leaves a lease the next start revokes. */
    recordLeaseId: (_, _leaseId: string | null) => undefined,
    /** Logging hooks, provided by the daemon. */
    reportStartupFailure: () => undefined,
    reportRestoreFailure: (_, _reason: string) => undefined,
    reportSecondSignal: () => undefined,
    reportDeregisterTimeout: () => undefined,
    reportDrainDeadline: () => undefined,
    reportPersistFailure: (_, _reason: string) => undefined,
    reportSnapshotFailure: (_, _failure: { error: string; attempt: number }) => undefined,
    reportRestartFailure: (_, _reason: string) => undefined,
    reportRestartIgnored: () => undefined,
    /** Hot restart: the old process lets go of what the successor now holds (admin listener, mesh socket, etcd lease). */
    releaseToSuccessor: () => undefined,
    /** Hot restart failed: what was held for the successor is this process's again. */
    resumeAfterRestart: () => undefined,
    noteRestart: assign({
      restartAt: ({ event }) => (event.type === 'RESTART' ? event.at : null),
      restartAttempts: ({ context }) => context.restartAttempts + 1,
      signals: ({ context, event }) => (event.type === 'RESTART' ? [...context.signals, event.signal] : context.signals),
    }),
    /** The first signal while online: the drain budget counts from its `at`. */
    noteShutdown: assign({
      shutdownAt: ({ event }) => (event.type === 'SHUTDOWN' ? event.at : null),
      signals: ({ context, event }) => (event.type === 'SHUTDOWN' ? [...context.signals, event.signal] : context.signals),
    }),
    noteSecondSignal: assign({
      signals: ({ context, event }) => (event.type === 'SHUTDOWN' ? [...context.signals, event.signal] : context.signals),
      drainSkipped: true,
    }),
    /** What the proxy reported when the drain ended (all finished, or some cut). */
    recordDrain: assign({
      drain: ({ event }) =>
        event.type === 'PROXY.DRAINED'
          ? { drained: event.drained, cut: 0 }
          : event.type === 'PROXY.CUT_DONE'
            ? { drained: event.drained, cut: event.cut }
            : null,
    }),
    /** Enter a drain phase (machines/events.ts `DrainPhase`); the proxy gets the deadline with it. */
    tellProxy: sendTo('proxy', ({ context }, phase: ProxyDrainCommand['phase']) => ({ type: 'PROXY.DRAIN', phase, drainDeadlineMs: context.drainDeadlineMs }) satisfies ProxyCommand),
    tellMeshServing: sendTo('mesh', ({ context }) => ({ type: 'MESH.SERVING', proxyAddress: context.proxyAddress ?? '' }) satisfies MeshCommand),
    tellMeshNotServing: sendTo('mesh', { type: 'MESH.NOT_SERVING' } satisfies MeshCommand),
    /** `--workers N`: a worker that died while serving or handing over is replaced (after its slot's back-off); once leaving, it is not. */
    reportWorkerExit: (_, _exit: WorkerExitReport) => undefined,
    /** Counts the exit into its slot's streak (reset when the worker had settled). */
    noteWorkerExit: assign({
      workerExitStreaks: ({ context, event }) =>
        event.type === 'WORKER.EXITED'
          ? { ...context.workerExitStreaks, [event.slot]: exitStreak(context.workerExitStreaks[event.slot] ?? 0, event.uptimeMs) }
          : context.workerExitStreaks,
    }),
    tellProxyReplaceWorker: sendTo('proxy', ({ context, event }) => {
      // Only WORKER.EXITED (replaceExitedWorker) runs this action.
      const exit = event as WorkerExited;
      return { type: 'PROXY.REPLACE_WORKER', pid: exit.pid, slot: exit.slot, delayMs: replacementOf(context, exit).delayMs } satisfies ProxyCommand;
    }),
  },
  delays: {
    shutdownDelay: ({ context }) => context.shutdownDelayMs,
    drainDeadline: ({ context }) => context.drainDeadlineMs,
    deregisterTimeout: ({ context }) => context.deregisterTimeoutMs,
    persistTimeout: ({ context }) => context.persistReserveMs,
    /** After CUT, how long the proxy gets to report what it destroyed. */
    cutGrace: 250,
    restartTimeout: ({ context }) => context.restartTimeoutMs,
  },
  guards: {
    /** The final persist gets one retry; a second failure is reported. */
    mayRetryPersist: ({ context }) => context.persistAttempts < 1,
  },
}).createMachine({
  id: 'lifecycle',
  initial: 'starting',
  context: ({ input }) => {
    const plan = planShutdown(input.drainTimeoutMs, input.shutdownDelayMs);
    return {
      nodeId: input.nodeId,
      budgetMs: plan.budgetMs,
      persistReserveMs: plan.persistReserveMs,
      drainDeadlineMs: plan.drainDeadlineMs,
      shutdownDelayMs: plan.shutdownDelayMs,
      deregisterTimeoutMs: plan.deregisterTimeoutMs,
      shutdownAt: null,
      signals: [],
      drainSkipped: false,
      movedAside: null,
      etcdLeaseId: null,
      restored: null,
      drain: null,
      deregister: null,
      proxyAddress: null,
      adminAddress: null,
      meshPort: null,
      snapshotsSaved: 0,
      snapshotFailures: 0,
      lastError: null,
      persistAttempts: 0,
      exitCode: 0,
      restartTimeoutMs: input.restartTimeoutMs ?? RESTART_TIMEOUT_MS,
      restartAt: null,
      restartAttempts: 0,
      restartFailures: 0,
      successor: null,
      workerExitStreaks: {},
    };
  },
  invoke: [
    { id: 'admin', src: 'adminServer' },
    { id: 'mesh', src: 'meshSocket' },
  ],
  on: {
    'PEER.FOUND': { actions: { type: 'applyPeerFound', params: ({ event }) => event.peer } },
    'PEER.LEFT': { actions: { type: 'applyPeerLeft', params: ({ event }) => event } },
    'PEER.STATUS': { actions: { type: 'applyPeerStatus', params: ({ event }) => event } },
    // Outside serving there is nothing to hand over (starting, leaving, …).
    RESTART: { actions: 'reportRestartIgnored' },
    'ADMIN.LISTENING': { actions: assign({ adminAddress: ({ event }) => event.address }) },
    'MESH.LISTENING': { actions: assign({ meshPort: ({ event }) => event.port }) },
    'REGISTRY.LEASE': {
      actions: [assign({ etcdLeaseId: ({ event }) => event.leaseId }), { type: 'recordLeaseId', params: ({ event }) => event.leaseId }],
    },
    'ADMIN.FAILED': {
      target: '.stopped',
      actions: assign({ lastError: ({ event }) => event.error, exitCode: 2 }),
    },
  },
  states: {
    starting: {
      invoke: {
        id: 'prepare',
        src: 'prepare',
        onDone: {
          target: 'restoring',
          actions: assign({ movedAside: ({ event }) => event.output.movedAside, etcdLeaseId: ({ event }) => event.output.etcdLeaseId }),
        },
        onError: {
          target: 'stopped',
          actions: [
            assign({ lastError: ({ event }) => errorMessage(event.error), exitCode: 2 }),
            'reportStartupFailure',
          ],
        },
      },
      on: {
        // Nothing has been served or changed yet: there is nothing to drain or save.
        SHUTDOWN: {
          target: 'stopped',
          actions: assign({ shutdownAt: ({ event }) => event.at, signals: ({ event }) => [event.signal] }),
        },
      },
    },

    restoring: {
      invoke: {
        id: 'restore',
        src: 'restoreSnapshot',
        // Only prepare's done event leads here: its output's payload is what to restore.
        input: ({ event }) => (event as unknown as DoneActorEvent<StartupOutput>).output.payload,
        onDone: {
          target: 'online',
          actions: [
            assign({ restored: ({ event }) => event.output.summary }),
            { type: 'applyRestored', params: ({ event }) => event.output.payload },
          ],
        },
        // A snapshot that cannot be used never stops the node: it starts fresh and says why.
        onError: {
          target: 'online',
          actions: [
            assign({
              restored: ({ event }) => ({
                fresh: true,
                reason: errorMessage(event.error),
                peers: 0,
                breakers: 0,
                lastShutdownAt: null,
                savedAt: null,
              }),
            }),
            { type: 'reportRestoreFailure', params: ({ event }) => errorMessage(event.error) },
          ],
        },
      },
      on: {
        SHUTDOWN: {
          target: 'stopped',
          actions: assign({ shutdownAt: ({ event }) => event.at, signals: ({ event }) => [event.signal] }),
        },
      },
    },

    online: {
      invoke: { id: 'proxy', src: 'proxyServer' },
      initial: 'binding',
      exit: 'tellMeshNotServing',
      on: {
        // A worker lost while leaving or after a hand-over is not replaced: the
        // drain counts it. `serving` and `handingOver` replace it (replaceExitedWorker).
        'WORKER.EXITED': { actions: { type: 'reportWorkerExit', params: ({ event }) => exitReport(event, null) } },
        // The proxy could not bind: nothing was served, but what was restored is kept.
        'PROXY.FAILED': {
          target: 'persisting',
          actions: assign({ lastError: ({ event }) => event.error, exitCode: 2 }),
        },
      },
      states: {
        // Declared readiness: nothing is announced, and /readyz stays 503,
        // until the proxy says it is listening and on which address.
        binding: {
          on: {
            'PROXY.LISTENING': { target: 'serving', actions: assign({ proxyAddress: ({ event }) => event.address }) },
            // As from serving: deregister (peers may know us from a previous run) and drain.
            SHUTDOWN: { target: 'leaving', actions: 'noteShutdown' },
          },
        },

        serving: {
          entry: 'tellMeshServing',
          invoke: [
            { id: 'announcer', src: 'announcer', input: ({ context }) => servingInput(context) },
            { id: 'registrar', src: 'registrar', input: ({ context }) => ({ ...servingInput(context), etcdLeaseId: context.etcdLeaseId }) },
            { id: 'snapshotTimer', src: 'snapshotTimer' },
            { id: 'peerProber', src: 'peerProber' },
          ],
          on: {
            SHUTDOWN: { target: 'leaving', actions: 'noteShutdown' },
            RESTART: { target: 'handingOver', actions: 'noteRestart' },
            // Replaced, at once or after the slot's back-off (machines/worker-backoff.ts).
            'WORKER.EXITED': replaceExitedWorker,
            'SNAPSHOT.SAVED': {
              actions: assign({ snapshotsSaved: ({ context }) => context.snapshotsSaved + 1 }),
            },
            'SNAPSHOT.FAILED': {
              actions: [
                assign({
                  snapshotFailures: ({ context }) => context.snapshotFailures + 1,
                  lastError: ({ event }) => event.error,
                }),
                { type: 'reportSnapshotFailure', params: ({ event }) => event },
              ],
            },
          },
        },

        // Hot restart, first half: still serving (readiness holds, the
        // listeners accept) while the successor starts on the same sockets.
        // Peers are told nothing, so the serving actors' stop (on the way
        // here) leaves mDNS records and the etcd lease alone.
        handingOver: {
          invoke: { id: 'successor', src: 'successor' },
          after: {
            restartTimeout: {
              target: 'serving',
              actions: [
                assign({
                  restartFailures: ({ context }) => context.restartFailures + 1,
                  restartAt: null,
                  lastError: ({ context }) => `hot restart: no READY from the successor in ${context.restartTimeoutMs} ms`,
                }),
                { type: 'reportRestartFailure', params: ({ context }) => `no READY from the successor in ${context.restartTimeoutMs} ms` },
                'resumeAfterRestart',
              ],
            },
          },
          on: {
            'RESTART.READY': {
              target: 'handedOver',
              actions: assign({ successor: ({ event }) => ({ pid: event.pid, runId: event.runId }) }),
            },
            'RESTART.FAILED': {
              target: 'serving',
              actions: [
                assign({
                  restartFailures: ({ context }) => context.restartFailures + 1,
                  restartAt: null,
                  lastError: ({ event }) => `hot restart: ${event.error}`,
                }),
                { type: 'reportRestartFailure', params: ({ event }) => event.error },
                'resumeAfterRestart',
              ],
            },
            // One restart at a time.
            RESTART: { actions: 'reportRestartIgnored' },
            // Still serving, and maybe again for long if the hand-over fails: as in serving.
            'WORKER.EXITED': replaceExitedWorker,
            // A shutdown wins: the successor (not ready) is stopped with this state.
            SHUTDOWN: {
              target: 'leaving',
              actions: [
                assign({
                  shutdownAt: ({ event }) => event.at,
                  restartAt: null,
                  signals: ({ context, event }) => [...context.signals, event.signal],
                }),
                'resumeAfterRestart',
              ],
            },
          },
        },

        // Hot restart, second half: the successor serves. Stop accepting and
        // finish in-flight requests under the same drain budget; no goodbye,
        // no leave notice, no lease revoke.
        handedOver: {
          entry: ['releaseToSuccessor', 'tellMeshNotServing', { type: 'tellProxy', params: 'handedOver' }],
          initial: 'waiting',
          onDone: 'done',
          after: {
            drainDeadline: { target: '.cutting', actions: 'reportDrainDeadline' },
          },
          on: {
            SHUTDOWN: { actions: ['noteSecondSignal', 'reportSecondSignal'] },
            RESTART: { actions: 'reportRestartIgnored' },
            // As in leaving: losing the admin listener must not abandon the drain or the save.
            'ADMIN.FAILED': { actions: assign({ lastError: ({ event }) => event.error }) },
          },
          states: {
            waiting: { on: waitingForDrain },
            ...drainEnd,
          },
        },

        leaving: {
          type: 'parallel',
          entry: 'tellMeshNotServing',
          onDone: 'done',
          // A second signal is handled inside the draining region, never on
          // `leaving` itself: a transition here would exit and re-enter both
          // regions, re-invoking deregister and restarting every deadline.
          on: {
            // Losing the admin listener mid-shutdown must not abandon the drain
            // or the final save (the root handler would jump to stopped).
            'ADMIN.FAILED': { actions: assign({ lastError: ({ event }) => event.error }) },
          },
          states: {
            deregistering: {
              initial: 'notifying',
              states: {
                // Goodbye, leave notices, lease revoke (the `deregister` actor); not the mDNS `announcer`.
                notifying: {
                  invoke: {
                    id: 'deregister',
                    src: 'deregister',
                    input: ({ context }) => ({ timeoutMs: context.deregisterTimeoutMs, shutdownAt: context.shutdownAt }),
                    onDone: [
                      {
                        // The lease is gone: the next start has nothing to revoke.
                        guard: ({ event }) => event.output.leaseRevoked === true,
                        target: 'done',
                        actions: [
                          assign({ deregister: ({ event }) => event.output, etcdLeaseId: null }),
                          { type: 'recordLeaseId', params: null },
                        ],
                      },
                      { target: 'done', actions: assign({ deregister: ({ event }) => event.output }) },
                    ],
                    onError: { target: 'done' },
                  },
                  after: {
                    deregisterTimeout: { target: 'done', actions: 'reportDeregisterTimeout' },
                  },
                },
                done: { type: 'final' },
              },
            },

            draining: {
              initial: 'delaying',
              after: {
                drainDeadline: { target: '.cutting', actions: 'reportDrainDeadline' },
              },
              on: {
                // A second signal skips what is left of the drain; persisting still runs.
                // While cutting or drained there is nothing left to skip: note it only.
                SHUTDOWN: { actions: ['noteSecondSignal', 'reportSecondSignal'] },
              },
              states: {
                // Readiness already fails; keep serving (with Connection: close) so
                // load balancers can catch up before the listener closes.
                delaying: {
                  entry: { type: 'tellProxy', params: 'delaying' },
                  after: { shutdownDelay: 'waiting' },
                  on: { SHUTDOWN: { target: 'cutting', actions: ['noteSecondSignal', 'reportSecondSignal'] } },
                },
                waiting: {
                  entry: { type: 'tellProxy', params: 'waiting' },
                  on: waitingForDrain,
                },
                ...drainEnd,
              },
            },
          },
        },

        done: { type: 'final' },
      },
      onDone: 'persisting',
    },

    persisting: {
      invoke: {
        id: 'persistFinal',
        src: 'persistFinal',
        input: ({ context }) => ({
          shutdownAt: context.shutdownAt,
          drain: context.drain,
          deregister: context.deregister,
          signals: context.signals,
          successor: context.successor,
        }),
        onDone: 'stopped',
        onError: [
          {
            guard: 'mayRetryPersist',
            target: 'persisting',
            reenter: true,
            actions: [
              assign({
                lastError: ({ event }) => errorMessage(event.error),
                persistAttempts: ({ context }) => context.persistAttempts + 1,
              }),
              { type: 'reportPersistFailure', params: ({ event }) => errorMessage(event.error) },
            ],
          },
          {
            target: 'stopped',
            actions: [
              assign({ lastError: ({ event }) => errorMessage(event.error), exitCode: 1 }),
              { type: 'reportPersistFailure', params: ({ event }) => errorMessage(event.error) },
            ],
          },
        ],
      },
      after: { persistTimeout: { target: 'stopped', actions: assign({ exitCode: 1, lastError: 'final snapshot timed out' }) } },
      on: {
        // Further signals while saving change nothing: state is saved first.
        SHUTDOWN: { actions: assign({ signals: ({ context, event }) => [...context.signals, event.signal] }) },
        'ADMIN.FAILED': { actions: assign({ lastError: ({ event }) => event.error }) },
      },
    },

    stopped: { type: 'final' },
  },
});

export type LifecycleMachine = typeof lifecycleMachine;

/** What `lifecycleMachine.provide()` accepts, derived from `setup()` above. */
export type LifecycleImplementations = MachineImplementationsFrom<LifecycleMachine>;
/**
 * The chart's actors by name, each with the logic type its stub declares; a
 * provided actor must match both, so a misspelled name or a promise where a
 * callback is invoked fails `tsc` instead of leaving the stub running.
 */
export type LifecycleActors = NonNullable<LifecycleImplementations['actors']>;
/** The daemon's actions by name, with the params the chart passes them. */
export type LifecycleActions = NonNullable<LifecycleImplementations['actions']>;
