/** How a replay is shown: one line per step for people, one document for scripts. */
import type { RecordedRun, ReplayResult } from './replay-run.js';
import type { RunRecord } from '../store/state-store.js';

export interface ReplayJson {
  runId: number;
  startedAt: number;
  input: RecordedRun['input'];
  transitions: number;
  matches: boolean;
  final: string;
  steps: ReplayResult['steps'];
  divergence: ReplayResult['divergence'];
}

export function replayJson(run: RunRecord, result: ReplayResult): ReplayJson {
  return {
    runId: run.runId,
    startedAt: run.startedAt,
    input: run.input,
    transitions: run.transitions.length,
    matches: result.divergence === null,
    final: result.final,
    steps: result.steps,
    divergence: result.divergence,
  };
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

export function replayText(run: RunRecord, result: ReplayResult): string {
  const { input } = run;
  const lines = [
    `run ${run.runId} of node ${input.nodeId}, started ${new Date(run.startedAt).toISOString()} ` +
      `(drain-timeout ${input.drainTimeoutMs} ms, shutdown-delay ${input.shutdownDelayMs} ms): ${run.transitions.length} transitions`,
  ];
  const eventWidth = Math.max(5, ...result.steps.map((s) => s.event.length));
  const stateWidth = Math.max(5, ...result.steps.map((s) => s.actual.length));
  for (const s of result.steps) {
    const offset = pad(`+${s.offsetMs}ms`, 10);
    const mark = s.matches ? '' : `   <- recorded '${s.expected}'`;
    lines.push(`${pad(`#${s.index}`, 4)} ${offset} ${pad(s.event, eventWidth)}  ${pad(s.actual, stateWidth)}  ${s.lifecycle}${mark}`);
  }
  const d = result.divergence;
  lines.push(
    d === null
      ? `replay matches: ${result.steps.length} transitions reproduced, final state ${result.final}` +
          (result.final === 'stopped' ? '' : ' (the run never reached stopped: the node is still running, or was killed)')
      : `replay DIVERGES at ${d.message}`,
  );
  return `${lines.join('\n')}\n`;
}
