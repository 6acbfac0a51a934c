/** Replay of recorded runs through the pure chart: matches, and names the first divergence. */
import { describe, expect, it } from 'vitest';
import { replayRun } from '../../src/replay/replay-run.js';
import type { RecordedRun } from '../../src/replay/replay-run.js';
import { CLEAN_SHUTDOWN_LABELS, chartInput as input, cutDone, cutGraceOver, delayOver, deregistered, deregisterTimeout, drainDeadline, drained, listening, persisted, prepared, restoredFresh as restored, sigint, sigterm } from '../helpers/chart.js';
import { expectReplayMatches, recordWithDaemonRule } from '../helpers/replay.js';
const chatter = [
  { type: 'ADMIN.LISTENING', address: '127.0.0.1:9090' },
  { type: 'MESH.LISTENING', port: 7946 },
  { type: 'PEER.FOUND', peer: { address: '127.0.0.1:8081', meshPort: 7946, id: null, source: 'static', status: 'alive', lastSeen: null } },
  { type: 'SNAPSHOT.SAVED', at: 500 },
];

/** A clean SIGTERM shutdown, recorded as the daemon records it (chatter is not recorded). */
function cleanRun(): RecordedRun {
  return recordWithDaemonRule(input, [prepared, restored, listening, ...chatter, sigterm, deregistered, delayOver, drained(2), persisted]).run;
}

describe('replayRun', () => {
  it('replays a clean shutdown and reproduces every recorded state', () => {
    const run = cleanRun();
    expect(run.transitions[0]).toMatchObject({ from: '', to: 'starting', event: { type: 'xstate.init' } });
    // Assign-only events are not in the recording.
    expect(run.transitions.map((t) => t.event.type)).not.toContain('PEER.FOUND');
    // Bulk data the chart only hands on (prepare's snapshot, restore's peers) is not recorded.
    expect(run.transitions.find((t) => t.event.type === 'xstate.done.actor.prepare')!.event).toEqual({ type: 'xstate.done.actor.prepare', output: { movedAside: null, etcdLeaseId: null } });
    const result = expectReplayMatches(run);
    expect(result.final).toBe('stopped');
    expect(result.status).toBe('done');
    expect(result.steps.map((s) => s.lifecycle)).toEqual(CLEAN_SHUTDOWN_LABELS);
  });

  it('replays a second signal and a drain-deadline cut', () => {
    const second = recordWithDaemonRule(input, [prepared, restored, listening, sigterm, sigint, deregistered, cutDone(0, 1), sigint, persisted]).run;
    expect(expectReplayMatches(second).final).toBe('stopped');
    const deadline = recordWithDaemonRule(input, [prepared, restored, listening, sigterm, delayOver, drainDeadline, deregisterTimeout, cutGraceOver, persisted]).run;
    expect(expectReplayMatches(deadline).final).toBe('stopped');
  });

  it('replays a retried final snapshot: the re-entry of persisting is recorded', () => {
    const fail = { type: 'xstate.error.actor.persistFinal', error: new Error('disk full') };
    const { run } = recordWithDaemonRule(input, [prepared, restored, listening, sigterm, deregistered, delayOver, drained(0), fail, fail]);
    const reentry = run.transitions.filter((t) => t.from === 'persisting' && t.to === 'persisting');
    expect(reentry).toHaveLength(1);
    expect(reentry[0]!.event).toEqual({ type: 'xstate.error.actor.persistFinal', error: 'disk full' });
    expect(expectReplayMatches(run).final).toBe('stopped');
    // Without the re-entry record the guard sees a first failure and the replay stays in persisting.
    const lossy = { ...run, transitions: run.transitions.filter((t) => t !== reentry[0]) };
    expect(replayRun(lossy).divergence).toMatchObject({ kind: 'to', expected: 'stopped', actual: 'persisting' });
  });

  it('names the first divergence when a recorded state was changed', () => {
    const run = cleanRun();
    const i = run.transitions.findIndex((t) => t.event.type === 'SHUTDOWN');
    run.transitions[i] = { ...run.transitions[i]!, to: 'persisting' };
    const result = replayRun(run);
    expect(result.divergence).toMatchObject({
      index: i,
      kind: 'to',
      event: { type: 'SHUTDOWN' },
      expected: 'persisting',
      actual: 'online.leaving.{deregistering.notifying,draining.delaying}',
    });
    expect(result.divergence!.message).toContain(`#${i} (SHUTDOWN)`);
    expect(result.steps).toHaveLength(i + 1);
  });

  it('names the divergence when an event type was swapped', () => {
    const run = cleanRun();
    const i = run.transitions.findIndex((t) => t.event.type === 'PROXY.DRAINED');
    run.transitions[i] = { ...run.transitions[i]!, event: { type: 'PEER.FOUND', peer: chatter[1]!.peer } };
    expect(replayRun(run).divergence).toMatchObject({ index: i, kind: 'to', event: { type: 'PEER.FOUND' }, expected: 'persisting' });
  });

  it('names a record whose `from` is not where the replay is', () => {
    const run = cleanRun();
    run.transitions[2] = { ...run.transitions[2]!, from: 'starting' };
    expect(replayRun(run).divergence).toMatchObject({ index: 2, kind: 'from', expected: 'starting', actual: 'restoring' });
  });

  it('requires the run to begin with the chart’s own xstate.init', () => {
    const run = cleanRun();
    expect(replayRun({ ...run, transitions: run.transitions.slice(1) }).divergence).toMatchObject({ index: 0, kind: 'init' });
    const wrongStart = cleanRun();
    wrongStart.transitions[0] = { ...wrongStart.transitions[0]!, to: 'restoring' };
    expect(replayRun(wrongStart).divergence).toMatchObject({ index: 0, kind: 'init', expected: 'restoring', actual: 'starting' });
  });

  it('reports an event the chart cannot take as a divergence, not a crash', () => {
    const run = cleanRun();
    // An error event nobody handles makes the chart itself fail.
    run.transitions.splice(4, 0, { at: 4, event: { type: 'xstate.error.actor.nobody', error: 'x' }, from: 'online.serving', to: 'online.serving' });
    const result = replayRun(run);
    expect(result.divergence).toMatchObject({ index: 4, kind: 'error', expected: 'online.serving' });
    expect(result.divergence!.actual).toMatch(/^error: /);
  });

  it('replays with the recorded input (budget), not the defaults', () => {
    const short = { nodeId: 'n2', drainTimeoutMs: 1_000, shutdownDelayMs: 5_000 };
    const { run } = recordWithDaemonRule(short, [prepared, restored, listening, sigterm, delayOver]);
    const result = expectReplayMatches(run);
    expect(result.final).toBe('online.leaving.{deregistering.notifying,draining.waiting}');
  });
});
