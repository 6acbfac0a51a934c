/**
 * Model-based tests of the lifecycle chart with XState v5's own graph
 * utilities (`xstate/graph`, the v5 home of @xstate/graph): enumerate every
 * simple path through the chart with a representative event for each event
 * type the chart can take, and check the invariants on EVERY path.
 *
 * The events offered in a state are derived from the chart itself
 * (`getNextTransitions`), so a new transition is explored automatically; a
 * new event type without a representative below fails loudly.
 */
import { describe, expect, it } from 'vitest';
import { getMicrosteps, getNextTransitions, getStateNodes as activeStateNodes, initialTransition, transition } from 'xstate';
import type { AnyEventObject, EventFromLogic } from 'xstate';
import { getAdjacencyMap, getShortestPaths, getSimplePaths, getStateNodes } from 'xstate/graph';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import { lifecycleNames, stateValueText } from '../../machines/lifecycle-names.js';
import { LifecycleView } from '../../src/observability/lifecycle-view.js';
import type { LifecycleSnapshotLike } from '../../src/observability/lifecycle-view.js';
import { replayRun } from '../../src/replay/replay-run.js';
import { recordWithDaemonRule } from '../helpers/replay.js';

const input = { nodeId: 'n1', drainTimeoutMs: 30_000, shutdownDelayMs: 1_000 };
type Snap = ReturnType<typeof initialTransition<typeof lifecycleMachine>>[0];
type Path = ReturnType<typeof getSimplePaths<typeof lifecycleMachine>>[number];
type Ev = EventFromLogic<typeof lifecycleMachine>;

const restoreSummary = { fresh: false, reason: null, peers: 1, breakers: 1, lastShutdownAt: 900, savedAt: 900 };
/** One representative event (or two, for SHUTDOWN's two signals) per event type. */
const REPRESENTATIVES: Record<string, AnyEventObject[]> = {
  'xstate.done.actor.prepare': [{ type: 'xstate.done.actor.prepare', output: { movedAside: null, etcdLeaseId: '7587', payload: { saved: null, freshReason: null } } }],
  'xstate.error.actor.prepare': [{ type: 'xstate.error.actor.prepare', error: 'data dir is read-only' }],
  'xstate.done.actor.restore': [{ type: 'xstate.done.actor.restore', output: { summary: restoreSummary, payload: { peers: [], breakers: [] } } }],
  'REGISTRY.LEASE': [{ type: 'REGISTRY.LEASE', leaseId: '7588' }],
  'xstate.error.actor.restore': [{ type: 'xstate.error.actor.restore', error: 'file is not a database' }],
  SHUTDOWN: [{ type: 'SHUTDOWN', signal: 'SIGTERM', at: 1_000 }],
  'PROXY.LISTENING': [{ type: 'PROXY.LISTENING', address: '127.0.0.1:8080' }],
  'PROXY.DRAINED': [{ type: 'PROXY.DRAINED', drained: 2 }],
  'PROXY.CUT_DONE': [{ type: 'PROXY.CUT_DONE', drained: 1, cut: 1 }],
  'PROXY.FAILED': [{ type: 'PROXY.FAILED', error: 'proxy listener 127.0.0.1:8080: EADDRINUSE' }],
  'ADMIN.LISTENING': [{ type: 'ADMIN.LISTENING', address: '127.0.0.1:9090' }],
  'MESH.LISTENING': [{ type: 'MESH.LISTENING', port: 7946 }],
  'ADMIN.FAILED': [{ type: 'ADMIN.FAILED', error: 'admin listener 127.0.0.1:9090: EADDRINUSE' }],
  'PEER.FOUND': [{ type: 'PEER.FOUND', peer: { address: '127.0.0.1:8081', meshPort: 7946, id: 'p', source: 'mdns', status: 'alive', lastSeen: 1 } }],
  'PEER.LEFT': [{ type: 'PEER.LEFT', address: '127.0.0.1:8081', reason: 'leave notice' }],
  'PEER.STATUS': [{ type: 'PEER.STATUS', address: '127.0.0.1:8081', status: 'suspect' }],
  'SNAPSHOT.SAVED': [{ type: 'SNAPSHOT.SAVED', at: 500 }],
  'SNAPSHOT.FAILED': [{ type: 'SNAPSHOT.FAILED', error: 'disk full', attempt: 1 }],
  'xstate.done.actor.deregister': [{ type: 'xstate.done.actor.deregister', output: { goodbyeSent: true, noticesSent: 1, acked: 1, leaseRevoked: true } }],
  'xstate.error.actor.deregister': [{ type: 'xstate.error.actor.deregister', error: 'etcd unreachable' }],
  'xstate.done.actor.persistFinal': [{ type: 'xstate.done.actor.persistFinal' }],
  'xstate.error.actor.persistFinal': [{ type: 'xstate.error.actor.persistFinal', error: 'disk full' }],
  RESTART: [{ type: 'RESTART', signal: 'SIGHUP', at: 800 }],
  'RESTART.READY': [{ type: 'RESTART.READY', pid: 4242, runId: 7 }],
  'RESTART.FAILED': [{ type: 'RESTART.FAILED', error: 'successor pid 4242 exited with code 1 before it was ready' }],
  'WORKER.EXITED': [{ type: 'WORKER.EXITED', pid: 4343, slot: 2, uptimeMs: 50, code: null, signal: 'SIGKILL', inFlight: 2 }],
};

function eventsIn(snapshot: Snap): Ev[] {
  if (snapshot.status !== 'active') return [];
  const types = new Set(getNextTransitions(snapshot).map((t) => t.eventType));
  const events: AnyEventObject[] = [];
  for (const type of types) {
    if (type.startsWith('xstate.done.state.')) continue; // raised by the chart itself
    if (type.startsWith('xstate.after.')) {
      events.push({ type });
      continue;
    }
    // One hot restart per path is representative (a second one is the same
    // subgraph again) and keeps the number of simple paths tractable.
    if (type === 'RESTART' && snapshot.context.restartAttempts >= 1) continue;
    const reps = REPRESENTATIVES[type];
    if (!reps) throw new Error(`no representative event for ${type}: add one to REPRESENTATIVES`);
    events.push(...reps);
  }
  // Done, error and delayed events are not in the chart's own event union.
  return events as unknown as Ev[];
}

/**
 * A state is its value plus what guards read (persistAttempts) and how many
 * signals arrived (capped at 2, so "SHUTDOWN twice" is a distinct step while
 * paths stay finite).
 */
function serializeState(s: Snap): string {
  // SIGHUP is not counted: serving again after a failed hot restart is the
  // same state as before it, so simple paths do not walk it twice.
  const shutdownSignals = s.context.signals.filter((sig) => sig !== 'SIGHUP').length;
  return `${stateValueText(s.value)}|attempts=${s.context.persistAttempts}|signals=${Math.min(shutdownSignals, 2)}|${s.status}`;
}

const traversal = { input, events: eventsIn, serializeState } as const;
const simplePaths: Path[] = getSimplePaths(lifecycleMachine, traversal);
const adjacency = getAdjacencyMap(lifecycleMachine, traversal);
const reachable = Object.values(adjacency).map((v) => v.state as Snap);

const text = (s: Snap) => stateValueText(s.value);
const isStopped = (s: Snap) => s.value === 'stopped';
/** The step states of a path, starting with the initial state. */
const statesOf = (p: Path) => p.steps.map((s) => s.state);
/** States in which the node serves (a hot restart's handing over included). */
const SERVING = ['online.serving', 'online.handingOver'];
/** Index of the step that took the node from serving into leaving, or -1. */
function shutdownIndex(p: Path): number {
  return p.steps.findIndex((s, i) => i > 0 && s.event.type === 'SHUTDOWN' && SERVING.includes(text(p.steps[i - 1]!.state)));
}
/** Index of the step where a successor became READY (hot restart done), or -1. */
function handedOverIndex(p: Path): number {
  return p.steps.findIndex((s) => s.event.type === 'RESTART.READY');
}

describe('lifecycle chart, every path (xstate/graph)', () => {
  it('explores a non-trivial set of paths, including SHUTDOWN twice and every PROXY.* event', () => {
    expect(simplePaths.length).toBeGreaterThan(100);
    const eventTypes = new Set(simplePaths.flatMap((p) => p.steps.map((s) => s.event.type)));
    for (const t of ['PROXY.DRAINED', 'PROXY.CUT_DONE', 'PROXY.FAILED', 'ADMIN.FAILED', 'xstate.error.actor.persistFinal']) {
      expect(eventTypes, t).toContain(t);
    }
    // shutdownDelay, drainDeadline ×2, deregisterTimeout, cutGrace ×2, persistTimeout (restartTimeout
    // leads back to serving, a state already on the path: see the failed-restart test)
    expect([...eventTypes].filter((t) => t.startsWith('xstate.after.')).length).toBe(7);
    const twice = simplePaths.filter((p) => p.steps.filter((s) => s.event.type === 'SHUTDOWN').length >= 2);
    expect(twice.length).toBeGreaterThan(10);
    console.info(`lifecycle paths: ${simplePaths.length} simple paths, ${reachable.length} reachable states, ${twice.length} with two signals`);
  });

  it('every state node of the chart is reachable', () => {
    const all = getStateNodes(lifecycleMachine.root).map((n) => n.id);
    // Microsteps too: `online.done` is entered and left within one macrostep.
    const microstates = Object.values(adjacency).flatMap((v) =>
      Object.values(v.transitions as Record<string, { event: Ev }>).flatMap((t) => getMicrosteps(lifecycleMachine, v.state as Snap, t.event as Ev).map(([s]) => s)),
    );
    const seen = new Set([...reachable, ...microstates].flatMap((s) => activeStateNodes(lifecycleMachine.root, s.value).map((n) => n.id)));
    expect(all.filter((id) => !seen.has(id))).toEqual([]);
  });

  it('from every reachable state some path reaches stopped', () => {
    const stuck: string[] = [];
    for (const from of reachable) {
      if (isStopped(from)) continue;
      const paths = getShortestPaths(lifecycleMachine, { ...traversal, fromState: from, toState: isStopped });
      if (paths.length === 0) stuck.push(serializeState(from));
    }
    expect(stuck).toEqual([]);
  });

  it('every shutdown path reaches stopped through persisting', () => {
    let checked = 0;
    for (const p of simplePaths) {
      const i = shutdownIndex(p);
      if (i < 0 || !isStopped(p.state)) continue;
      checked++;
      const after = statesOf(p).slice(i);
      const stoppedAt = after.findIndex(isStopped);
      expect(after[stoppedAt - 1]!.value, p.steps.map((s) => s.event.type).join(' → ')).toBe('persisting');
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('a second signal never skips persisting, and never re-runs deregistration or restarts a deadline', () => {
    let checked = 0;
    for (const p of simplePaths) {
      const first = shutdownIndex(p);
      if (first < 0) continue;
      const seconds = p.steps.map((s, i) => ({ s, i })).filter(({ s, i }) => i > first && s.event.type === 'SHUTDOWN');
      if (seconds.length === 0) continue;
      for (const { i } of seconds) {
        const before = p.steps[i - 1]!.state;
        const [after, actions] = transition(lifecycleMachine, before, p.steps[i]!.event);
        const spawned = actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => (a.params as { id: string }).id);
        expect(spawned, `second SHUTDOWN in ${text(before)}`).toEqual([]);
        const restarted = actions.filter((a) => a.type === 'xstate.raise').map((a) => String((a.params as { event?: { type?: string } })?.event?.type ?? a.params));
        expect(restarted.filter((t) => /drainDeadline|deregisterTimeout|persistTimeout/.test(t)), `second SHUTDOWN in ${text(before)}`).toEqual([]);
        // Nothing that was already persisting or stopped moves backwards.
        if (before.value === 'persisting') expect(after.value).toBe('persisting');
      }
      if (isStopped(p.state)) {
        checked++;
        expect(statesOf(p).slice(first).some((s) => s.value === 'persisting')).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('nothing is announced after deregistration starts', () => {
    const announcing = ['announcer', 'registrar'];
    // By definition: only online.serving invokes them.
    const invokers = getStateNodes(lifecycleMachine.root)
      .filter((n) => n.invoke.some((inv) => announcing.includes(inv.id)))
      .map((n) => n.id);
    expect(invokers).toEqual(['lifecycle.online.serving']);
    // And on every path: once leaving, no announcing actor is alive again.
    for (const p of simplePaths) {
      const i = shutdownIndex(p);
      // A failed hot restart goes back to serving (announcing again): only
      // what comes after serving and handing over counts.
      const from = i >= 0 ? i : p.steps.findIndex((s) => !SERVING.includes(text(s.state)) && lifecycleNames(s.state.value).length > 0 && !['starting', 'restoring', 'online.binding'].includes(text(s.state)));
      if (from < 0) continue;
      for (const s of statesOf(p).slice(from)) {
        expect(Object.keys(s.children).filter((id) => announcing.includes(id)), text(s)).toEqual([]);
      }
    }
  });

  it('/readyz would be 200 only in serving, and never again after the signal', () => {
    const view = new LifecycleView();
    let current: Snap | null = null;
    view.attach(() => current as unknown as LifecycleSnapshotLike);
    for (const s of reachable) {
      current = s;
      expect(view.isServing(), serializeState(s)).toBe(SERVING.includes(text(s)));
      expect(lifecycleNames(s.value).length, `${text(s)} has a lifecycle name`).toBeGreaterThan(0);
    }
    for (const p of simplePaths) {
      const i = shutdownIndex(p);
      if (i < 0) continue;
      for (const s of statesOf(p).slice(i)) {
        current = s;
        expect(view.isServing(), text(s)).toBe(false);
      }
    }
  });

  it('a hot restart is not a departure: once the successor is READY, no deregistration, then persisting, exit 0', () => {
    let checked = 0;
    for (const p of simplePaths) {
      const i = handedOverIndex(p);
      if (i < 0) continue;
      const after = statesOf(p).slice(i);
      for (const s of after) {
        expect(Object.keys(s.children), text(s)).not.toContain('deregister');
        expect(Object.keys(s.children).filter((id) => ['announcer', 'registrar', 'successor'].includes(id)), text(s)).toEqual([]);
        expect(lifecycleNames(s.value), text(s)).not.toContain('deregistering');
      }
      if (!isStopped(p.state)) continue;
      checked++;
      expect(after[after.length - 2]!.value).toBe('persisting');
      // Graph states are shared between paths by their serialization: walk this path's own context.
      let [snap] = initialTransition(lifecycleMachine, input);
      for (const step of p.steps.slice(1)) [snap] = transition(lifecycleMachine, snap, step.event);
      expect(snap.context.successor).toEqual({ pid: 4242, runId: 7 });
      expect(snap.context.shutdownAt).toBeNull();
      const persistFailedTwice = p.steps.filter((s) => (s.event.type as string) === 'xstate.error.actor.persistFinal').length >= 2;
      const failed = p.steps.some((s) => s.event.type.startsWith('xstate.after.persistTimeout') || s.event.type === 'PROXY.FAILED');
      if (!persistFailedTwice && !failed) expect(snap.context.exitCode, p.steps.map((s) => s.event.type).join(' → ')).toBe(0);
    }
    expect(checked).toBeGreaterThan(3);
  });

  it('a failed hot restart (from every reachable handing-over state) goes back to serving with the serving actors, counted', () => {
    let checked = 0;
    const failures = [REPRESENTATIVES['RESTART.FAILED']![0]!, { type: 'xstate.after.restartTimeout.lifecycle.online.handingOver' }];
    for (const from of reachable.filter((s) => text(s) === 'online.handingOver')) {
      for (const event of failures) {
        const [after] = transition(lifecycleMachine, from, event as Ev);
        checked++;
        expect(text(after)).toBe('online.serving');
        expect(Object.keys(after.children)).toEqual(expect.arrayContaining(['announcer', 'registrar', 'snapshotTimer', 'peerProber', 'proxy']));
        expect(after.children).not.toHaveProperty('successor');
        expect(after.context.restartFailures).toBe(from.context.restartFailures + 1);
        expect(after.context.restartAt).toBeNull();
        expect(after.context.lastError).toMatch(/^hot restart: /);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  it('replay of what the daemon would record reproduces every path (determinism), with chatter in between', () => {
    // Targetless events the recorder does not keep, offered where the chart takes them.
    const chatterTypes = ['PEER.FOUND', 'PEER.STATUS', 'PEER.LEFT', 'SNAPSHOT.SAVED', 'SNAPSHOT.FAILED', 'PROXY.LISTENING', 'WORKER.EXITED', 'SHUTDOWN'];
    // A replay is incremental, so replaying a path also proves each of its prefixes: check maximal paths only.
    const key = (p: Path, n = p.steps.length) => p.steps.slice(0, n).map((s) => JSON.stringify(s.event)).join('\n');
    const prefixes = new Set(simplePaths.flatMap((p) => p.steps.slice(1).map((_, i) => key(p, i + 1))));
    const maximal = simplePaths.filter((p) => !prefixes.has(key(p)));
    const chatterCache = new Map<string, AnyEventObject[]>();
    const chatterIn = (state: Snap): AnyEventObject[] => {
      const k = serializeState(state);
      let found = chatterCache.get(k);
      if (!found) {
        found = chatterTypes
          .map((type) => REPRESENTATIVES[type]![0]!)
          .filter((e) => {
            if (state.status !== 'active') return false;
            const [next] = transition(lifecycleMachine, state, e as never);
            // Only events that change nothing the recorder watches are chatter.
            return text(next) === text(state) && next.context.persistAttempts === state.context.persistAttempts;
          });
        chatterCache.set(k, found);
      }
      return found;
    };
    let replayed = 0;
    for (const p of maximal) {
      const events: AnyEventObject[] = [];
      for (const [i, step] of p.steps.entries()) {
        if (i > 0) events.push(step.event);
        events.push(...chatterIn(step.state));
      }
      const { run, final } = recordWithDaemonRule(input, events);
      expect(stateValueText(final)).toBe(text(p.state));
      const result = replayRun(run);
      expect(result.divergence, `${p.steps.map((s) => s.event.type).join(' → ')}: ${result.divergence?.message}`).toBeNull();
      expect(result.final).toBe(text(p.state));
      replayed++;
    }
    expect(replayed).toBeGreaterThan(100);
    console.info(`determinism: ${replayed} maximal paths recorded with the daemon's rule and replayed`);
    // Thousands of live (stub) actors: ~7 s alone, several times that on a loaded machine.
  }, 240_000);
});
