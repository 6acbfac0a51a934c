/**
 * `graceful-edge replay [--data-dir DIR] [--json] [--export FILE]`: replays
 * the last recorded run of a data dir through the pure chart and exits 1 at
 * the first divergence. Reads state.db read-only; writes only `--export`.
 */
import { writeFileSync } from 'node:fs';
import { readLastRun } from './last-run.js';
import { replayRun } from './replay-run.js';
import type { RecordedRun } from './replay-run.js';
import { replayJson, replayText } from './replay-report.js';
import type { RunRecord } from '../store/state-store.js';

export function exportedRun(run: RunRecord): RecordedRun {
  return { runId: run.runId, startedAt: run.startedAt, input: run.input, transitions: run.transitions };
}

export function replayCommand(dataDir: string, opts: { json: boolean; exportTo: string | null }): number {
  let run: RunRecord;
  try {
    run = readLastRun(dataDir);
  } catch (error) {
    process.stderr.write(`graceful-edge: ${(error as Error).message}\n`);
    return 1;
  }
  if (opts.exportTo !== null) {
    try {
      writeFileSync(opts.exportTo, `${JSON.stringify(exportedRun(run), null, 2)}\n`);
    } catch (error) {
      process.stderr.write(`graceful-edge: cannot write --export ${opts.exportTo}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
      return 1;
    }
  }
  const result = replayRun(exportedRun(run));
  process.stdout.write(opts.json ? `${JSON.stringify(replayJson(run, result), null, 2)}\n` : replayText(run, result));
  if (result.divergence) {
    process.stderr.write(`graceful-edge: replay diverges at ${result.divergence.message}\n`);
    return 1;
  }
  return 0;
}
