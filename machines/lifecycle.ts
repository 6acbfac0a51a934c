/**
 * The whole life of a graceful-edge node, as a pure XState v5 statechart.
 *
 * No I/O is imported here. Every actor and action below is a named stub; the
 * daemon (`src/daemon.ts`) supplies the real ones with `machine.provide(...)`,
 * tests and `graceful-edge replay` run the chart as it is.
 *
 * An invoked actor lives exactly as long as the state that invokes it, so each
 * is placed on the state that spans its resource's life:
 *   root      admin listener, mesh socket                 (until stopped)
 *   online    proxy server (listener + in-flight tracker) (serving AND draining);
 *             with --workers N, the supervisor of N data-plane processes
 *   serving   announcer, registrar, snapshot timer, prober
 *   leaving   deregistering ∥ draining (bounded, parallel)
 *   handingOver  the successor process (hot restart), until it is READY
 *
 * A hot restart (RESTART, from SIGHUP) is not a departure: serving →
 * handingOver (spawn the successor, pass the listeners, wait for READY) →
 * handedOver (stop accepting and drain, without deregistering) → persisting.
 * A successor that fails or times out sends the node back to serving.
 * Leaving `serving` must never kill in-flight requests, so the proxy lives on
 * `online` and `draining` only *tells* it what to do (sendTo).
 */
import { assign, fromCallback, fromPromise, sendTo, setup } from 'xstate';
import type { AnyEventObject, EventObject, MachineImplementationsFrom, NonReducibleUnknown } from 'xstate';
import { planShutdown } from './budget.js';
import { errorMessage } from './error-message.js';
import type {
  DeregisterOutcome,
  DrainOutcome,
  LifecycleEvent,
  PeerInfo,
  PeerStatus,
  ProxyCommand,
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
  restored: RestoreSummary | null;
  drain: DrainOutcome | null;
  deregister: DeregisterOutcome | null;
  proxyAddress: string | null;
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
}

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
const drainEnd = {
  cutting: {
    entry: 'tellProxyCut',
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
    /** Config check, data dir check, open the store. Rejects → exit 2. */
    prepare: pending<StartupOutput>(),
    /** Loads the last snapshot into the routing table and breakers. */
    restoreSnapshot: pending<RestoreSummary>(),
    /** Admin HTTP listener (health, state, metrics, events, inspector). */
    adminServer: idle(),
    /** UDP mesh socket: receives leave notices, answers acks. */
    meshSocket: idle(),
    /** Proxy listener + in-flight tracker; obeys ProxyCommand events. */
    proxyServer: idle<ProxyCommand>(),
    /** mDNS publish + browse while serving. */
    announcer: idle(),
    /** etcd lease + watch while serving. */
    registrar: idle(),
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
    tellProxyShutdownStarted: sendTo('proxy', { type: 'PROXY.SHUTDOWN_STARTED' } satisfies ProxyCommand),
    tellProxyStopAccepting: sendTo('proxy', { type: 'PROXY.STOP_ACCEPTING' } satisfies ProxyCommand),
    tellProxyCut: sendTo('proxy', { type: 'PROXY.CUT' } satisfies ProxyCommand),
    tellProxyHandOver: sendTo('proxy', { type: 'PROXY.HAND_OVER' } satisfies ProxyCommand),
    /** `--workers N`: a worker that died while serving is replaced; once leaving, it is not. */
    reportWorkerExit: (_, _exit: { pid: number; code: number | null; signal: string | null; inFlight: number; replaced: boolean }) => undefined,
    tellProxyReplaceWorker: sendTo('proxy', ({ event }) =>
      ({ type: 'PROXY.REPLACE_WORKER', pid: event.type === 'WORKER.EXITED' ? event.pid : 0 }) satisfies ProxyCommand,
    ),
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
      restored: null,
      drain: null,
      deregister: null,
      proxyAddress: null,
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
          actions: assign({ movedAside: ({ event }) => event.output.movedAside }),
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
        onDone: {
          target: 'online',
          actions: assign({ restored: ({ event }) => event.output }),
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
      initial: 'serving',
      on: {
        'PROXY.LISTENING': { actions: assign({ proxyAddress: ({ event }) => event.address }) },
        // A worker lost outside `serving` (draining, handing over) is not replaced: the drain counts it.
        'WORKER.EXITED': { actions: { type: 'reportWorkerExit', params: ({ event }) => ({ ...event, replaced: false }) } },
        // The proxy could not bind: nothing was served, but what was restored is kept.
        'PROXY.FAILED': {
          target: 'persisting',
          actions: assign({ lastError: ({ event }) => event.error, exitCode: 2 }),
        },
      },
      states: {
        serving: {
          invoke: [
            { id: 'announcer', src: 'announcer' },
            { id: 'registrar', src: 'registrar' },
            { id: 'snapshotTimer', src: 'snapshotTimer' },
            { id: 'peerProber', src: 'peerProber' },
          ],
          on: {
            SHUTDOWN: {
              target: 'leaving',
              actions: assign({
                shutdownAt: ({ event }) => event.at,
                signals: ({ context, event }) => [...context.signals, event.signal],
              }),
            },
            RESTART: { target: 'handingOver', actions: 'noteRestart' },
            'WORKER.EXITED': {
              actions: [{ type: 'reportWorkerExit', params: ({ event }) => ({ ...event, replaced: true }) }, 'tellProxyReplaceWorker'],
            },
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
          entry: ['releaseToSuccessor', 'tellProxyHandOver'],
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
            waiting: {
              on: {
                SHUTDOWN: { target: 'cutting', actions: ['noteSecondSignal', 'reportSecondSignal'] },
                'PROXY.DRAINED': {
                  target: 'drained',
                  actions: 'recordDrain',
                },
              },
            },
            ...drainEnd,
          },
        },

        leaving: {
          type: 'parallel',
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
              initial: 'announcing',
              states: {
                announcing: {
                  invoke: {
                    id: 'deregister',
                    src: 'deregister',
                    input: ({ context }) => ({ timeoutMs: context.deregisterTimeoutMs }),
                    onDone: {
                      target: 'done',
                      actions: assign({ deregister: ({ event }) => event.output }),
                    },
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
                  entry: 'tellProxyShutdownStarted',
                  after: { shutdownDelay: 'waiting' },
                  on: { SHUTDOWN: { target: 'cutting', actions: ['noteSecondSignal', 'reportSecondSignal'] } },
                },
                waiting: {
                  entry: 'tellProxyStopAccepting',
                  on: {
                    SHUTDOWN: { target: 'cutting', actions: ['noteSecondSignal', 'reportSecondSignal'] },
                    'PROXY.DRAINED': {
                      target: 'drained',
                      actions: 'recordDrain',
                    },
                  },
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
