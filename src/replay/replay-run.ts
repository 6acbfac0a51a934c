/**
 * Replays a recorded run through the pure lifecycle chart: no actors run, no
 * timers fire, nothing is written. Each recorded event is fed to XState's
 * pure `transition()` and the resulting state value is compared with the one
 * the running node recorded.
 */
import { initialTransition, transition } from 'xstate';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import type { LifecycleInput, LifecycleMachine } from '../../machines/lifecycle.js';
import { lifecycleLabel, stateValueText } from '../../machines/lifecycle-names.js';
import type { LifecycleEvent } from '../../machines/events.js';
import type { TransitionRecord } from '../store/state-store.js';
import { errorMessage } from '../../machines/error-message.js';

/** What `--export` writes and a test loads: enough to replay, nothing more. */
export interface RecordedRun {
  input: LifecycleInput;
  transitions: TransitionRecord[];
  runId?: number;
  startedAt?: number;
}

export interface ReplayStep {
  index: number;
  /** ms since the first recorded transition. */
  offsetMs: number;
  event: string;
  /** The state value text the node recorded. */
  expected: string;
  /** The state value text the pure chart reached. */
  actual: string;
  /** Lifecycle names of `actual`, joined by ` + ` (as in logs and /inspect). */
  lifecycle: string;
  matches: boolean;
}

export interface Divergence {
  index: number;
  event: TransitionRecord['event'];
  expected: string;
  actual: string;
  /** Which comparison failed. */
  kind: 'to' | 'from' | 'init' | 'error';
  message: string;
}

export interface ReplayResult {
  steps: ReplayStep[];
  divergence: Divergence | null;
  /** State value text after the last step replayed. */
  final: string;
  /** The chart's status after the last step ('done' once `stopped` is reached). */
  status: string;
}

type Snapshot = ReturnType<typeof initialTransition<LifecycleMachine>>[0];

function describe(kind: Divergence['kind'], index: number, eventType: string, expected: string, actual: string): string {
  const what = kind === 'from' ? 'recorded it started from' : kind === 'init' ? 'recorded the initial state' : 'recorded';
  return `transition #${index} (${eventType}): ${what} '${expected}', replay is in '${actual}'`;
}

function errorText(snapshot: Snapshot): string {
  const error = (snapshot as { error?: unknown }).error;
  return `error: ${errorMessage(error)}`;
}

export function replayRun(run: RecordedRun, machine: LifecycleMachine = lifecycleMachine): ReplayResult {
  const steps: ReplayStep[] = [];
  const records = run.transitions;
  const t0 = records[0]?.at ?? 0;
  let [snapshot] = initialTransition(machine, run.input);
  let current = stateValueText(snapshot.value);

  const diverge = (index: number, kind: Divergence['kind'], expected: string, actual: string): ReplayResult => {
    const event = records[index]!.event;
    return {
      steps,
      divergence: { index, event, expected, actual, kind, message: describe(kind, index, event.type, expected, actual) },
      final: current,
      status: snapshot.status,
    };
  };
  const step = (index: number, record: TransitionRecord, actual: string): ReplayStep => ({
    index,
    offsetMs: record.at - t0,
    event: record.event.type,
    expected: record.to,
    actual,
    lifecycle: actual.startsWith('error: ') ? '' : lifecycleLabel(snapshot.value),
    matches: actual === record.to,
  });

  for (const [index, record] of records.entries()) {
    if (index === 0 || record.event.type === 'xstate.init') {
      // The first record is the chart's own start; it must be the only one.
      const ok = index === 0 && record.event.type === 'xstate.init' && record.from === '';
      const s = step(index, record, current);
      steps.push(s);
      if (!ok) return diverge(index, 'init', index === 0 ? `xstate.init from ''` : 'no second xstate.init', `${record.event.type} from '${record.from}'`);
      if (!s.matches) return diverge(index, 'init', record.to, current);
      continue;
    }
    if (record.from !== current) {
      steps.push(step(index, record, current));
      return diverge(index, 'from', record.from, current);
    }
    try {
      [snapshot] = transition(machine, snapshot, record.event as unknown as LifecycleEvent);
      current = snapshot.status === 'error' ? errorText(snapshot) : stateValueText(snapshot.value);
    } catch (error) {
      current = `error: ${errorMessage(error)}`;
    }
    const s = step(index, record, current);
    steps.push(s);
    if (!s.matches) return diverge(index, current.startsWith('error: ') ? 'error' : 'to', record.to, current);
  }
  return { steps, divergence: null, final: current, status: snapshot.status };
}
