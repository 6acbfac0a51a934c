/**
 * Replay in tests: turn a recorded run (from a real daemon's data dir, or
 * recorded here from the pure chart with the daemon's own recording rule)
 * into a replay and assert it reproduces every recorded state.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import type { AnyEventObject, StateValue } from 'xstate';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import type { LifecycleInput } from '../../machines/lifecycle.js';
import { replayRun } from '../../src/replay/replay-run.js';
import type { RecordedRun, ReplayResult } from '../../src/replay/replay-run.js';
import { TransitionCapture } from '../../src/replay/transition-capture.js';
import type { TransitionRecord } from '../../src/store/state-store.js';
import { runCli, tempDir } from './daemon.js';

export type { RecordedRun, ReplayResult };

/** Asserts the replay of `run` reproduces every recorded state; returns it. */
export function expectReplayMatches(run: RecordedRun): ReplayResult {
  expect(run.transitions.length, 'a recorded run has at least its xstate.init transition').toBeGreaterThan(0);
  const result = replayRun(run);
  expect(result.divergence, result.divergence?.message).toBeNull();
  expect(result.steps.map((s) => s.actual)).toEqual(run.transitions.map((t) => t.to));
  return result;
}

/** Loads what `graceful-edge replay --export FILE` wrote. */
export function loadExportedRun(file: string): RecordedRun {
  const run = JSON.parse(readFileSync(file, 'utf8')) as RecordedRun;
  expect(run.input, `${file} has the machine input`).toMatchObject({ nodeId: expect.any(String) });
  expect(Array.isArray(run.transitions), `${file} has transitions`).toBe(true);
  return run;
}

/** Exports the last run of a daemon's data dir through the real CLI, then loads it. */
export async function exportLastRun(dataDir: string): Promise<RecordedRun> {
  const dir = tempDir('ge-replay-export-');
  try {
    const file = path.join(dir, 'run.json');
    const res = await runCli(['replay', '--data-dir', dataDir, '--export', file]);
    expect(res.code, `replay --export: ${res.stdout}\n${res.stderr}`).toBe(0);
    return loadExportedRun(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the pure chart as a live actor (stub actors, simulated clock: no I/O,
 * no timers), sends `events`, and records transitions with the daemon's own
 * TransitionCapture. Shows what the node would have stored.
 */
export function recordWithDaemonRule(
  input: LifecycleInput,
  events: readonly AnyEventObject[],
): { run: RecordedRun; final: StateValue } {
  const transitions: TransitionRecord[] = [];
  let at = 0;
  const capture = new TransitionCapture((record) => transitions.push(record), () => at++);
  // The root is known only after createActor returns; start() emits the first snapshot.
  const actor = createActor(lifecycleMachine, { input, inspect: capture.inspect, clock: new SimulatedClock() });
  capture.setRoot(actor);
  actor.start();
  for (const e of events) actor.send(e as never);
  const final = actor.getSnapshot().value;
  actor.stop();
  return { run: { input, transitions }, final };
}
