/**
 * `graceful-edge replay` on the data dir of real daemon runs: a clean run,
 * a tampered recording, and a run with a second signal / a drain-deadline cut.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { expectReplayMatches, exportLastRun, loadExportedRun } from '../helpers/replay.js';
import { startOrigin } from '../proxy/support/origin.js';
import type { ReplayJson } from '../../src/replay/replay-report.js';
import { SqliteStateStore } from '../../src/store/sqlite-store.js';

const { nodes, cleanups } = testScope();

/** Starts a node, lets it serve one request, stops it with `signals`, waits for exit 0. */
async function recordedRun(args: string[] = []): Promise<NodeProcess> {
  const n = await startNode({ args });
  nodes.push(n);
  expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);
  await fetch(`${n.proxyUrl}/hello`).then((r) => r.arrayBuffer());
  n.kill('SIGTERM');
  expect(await n.exited).toEqual({ code: 0, signal: null });
  return n;
}

const replay = (dataDir: string, ...extra: string[]) => runCli(['replay', '--data-dir', dataDir, ...extra]);
const dirListing = (dir: string) => readdirSync(dir).map((f) => `${f}:${statSync(path.join(dir, f)).size}:${statSync(path.join(dir, f)).mtimeMs}`).sort();

describe('graceful-edge replay on a real run', () => {
  it('exits 0, prints the state after each event, --json parses, and the export replays in a test', async () => {
    const n = await recordedRun();
    const before = dirListing(n.dataDir);

    const text = await replay(n.dataDir);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^run \d+ of node /);
    expect(lines.at(-1)).toMatch(/^replay matches: \d+ transitions reproduced, final state stopped$/);
    const steps = lines.slice(1, -1);
    expect(steps[0]).toMatch(/^#0 +\+0ms +xstate\.init +starting +starting$/);
    expect(steps.find((l) => / SHUTDOWN /.test(l))).toMatch(/\+\d+ms +SHUTDOWN +online\.leaving\.\{deregistering\.notifying,draining\.delaying\} +deregistering \+ draining$/);
    expect(steps.at(-1)).toMatch(/xstate\.done\.actor\.persistFinal +stopped +stopped$/);
    // The same states, in the same order, as the node logged them.
    const logged = n.logs.filter((l) => typeof l.states === 'string').map((l) => l.states);
    const printed = steps.map((l) => l.split(/ {2,}/).at(-1));
    expect([...new Set(printed)]).toEqual(expect.arrayContaining([...new Set(logged)]));

    const json = await replay(n.dataDir, '--json');
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as ReplayJson;
    expect(doc).toMatchObject({ matches: true, final: 'stopped', divergence: null });
    expect(doc.steps.map((s) => s.lifecycle)).toEqual(expect.arrayContaining(['starting', 'restoring', 'serving', 'deregistering + draining', 'persisting', 'stopped']));
    expect(doc.steps.every((s) => s.matches)).toBe(true);
    expect(doc.transitions).toBe(doc.steps.length);

    const run = await exportLastRun(n.dataDir);
    expect(run.input).toMatchObject({ drainTimeoutMs: 30_000, shutdownDelayMs: 0 });
    expect(run.transitions[0]).toMatchObject({ from: '', to: 'starting', event: { type: 'xstate.init' } });
    expect(run.transitions.at(-1)).toMatchObject({ to: 'stopped' });
    expectReplayMatches(run);

    // Read-only: the data dir is exactly as the node left it.
    expect(dirListing(n.dataDir)).toEqual(before);
  });

  it('exits 1 naming the first divergence when the recording was tampered with', async () => {
    const n = await recordedRun();
    const file = path.join(n.dataDir, 'state.db');
    const db = new Database(file);
    const rows = db.prepare('SELECT seq, event, to_state FROM transitions ORDER BY run_id DESC, seq').all() as Array<{ seq: number; event: string; to_state: string }>;
    const shutdown = rows.find((r) => (JSON.parse(r.event) as { type: string }).type === 'SHUTDOWN')!;
    const index = rows.indexOf(shutdown);
    db.prepare('UPDATE transitions SET to_state = ? WHERE seq = ? AND run_id = (SELECT max(run_id) FROM runs)').run('persisting', shutdown.seq);
    db.close();

    const exportFile = path.join(cleanups.tempDir('ge-replay-'), 'run.json');
    const res = await replay(n.dataDir, '--export', exportFile);
    expect(res.code).toBe(1);
    const named = `transition #${index} (SHUTDOWN): recorded 'persisting', replay is in 'online.leaving.{deregistering.notifying,draining.delaying}'`;
    expect(res.stdout).toContain(`replay DIVERGES at ${named}`);
    expect(res.stderr).toContain(`replay diverges at ${named}`);
    // The export is the recording as stored (tampered), so a test can look at it.
    expect(loadExportedRun(exportFile).transitions[index]!.to).toBe('persisting');

    const json = JSON.parse((await replay(n.dataDir, '--json')).stdout) as ReplayJson;
    expect(json).toMatchObject({ matches: false, divergence: { index, kind: 'to', event: { type: 'SHUTDOWN' }, expected: 'persisting' } });
    expect(json.steps).toHaveLength(index + 1);
  });

  it('exits 1 when an event type was swapped in the recording', async () => {
    const n = await recordedRun();
    const db = new Database(path.join(n.dataDir, 'state.db'));
    const rows = db.prepare('SELECT seq, event FROM transitions WHERE run_id = (SELECT max(run_id) FROM runs) ORDER BY seq').all() as Array<{ seq: number; event: string }>;
    const drained = rows.findIndex((r) => (JSON.parse(r.event) as { type: string }).type === 'PROXY.DRAINED');
    expect(drained).toBeGreaterThan(0);
    db.prepare('UPDATE transitions SET event = ? WHERE seq = ? AND run_id = (SELECT max(run_id) FROM runs)').run(
      JSON.stringify({ type: 'SNAPSHOT.SAVED', at: 1 }),
      rows[drained]!.seq,
    );
    db.close();
    const res = await replay(n.dataDir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`replay diverges at transition #${drained} \\(SNAPSHOT\\.SAVED\\): recorded 'persisting', replay is in 'online\\.leaving`));
  });

  it('a run with a second signal replays to exit 0', async () => {
    const n = await startNode({ args: ['--shutdown-delay', '5', '--drain-timeout', '20'] });
    nodes.push(n);
    n.kill('SIGTERM');
    await n.waitForLog((l) => l.lifecycle === 'draining');
    n.kill('SIGINT');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const res = await replay(n.dataDir, '--json');
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout) as ReplayJson;
    expect(doc.steps.filter((s) => s.event === 'SHUTDOWN')).toHaveLength(2);
    // The second signal jumped the delay straight to cutting (whether or not deregistering was done yet).
    const second = doc.steps.filter((s) => s.event === 'SHUTDOWN')[1]!;
    expect(second.actual).toMatch(/^online\.leaving\.\{deregistering\.(notifying|done),draining\.cutting\}$/);
    expect(doc.steps.some((s) => s.actual.includes('draining.waiting'))).toBe(false);
    expect(doc.final).toBe('stopped');
    expectReplayMatches(await exportLastRun(n.dataDir));
  });

  it('a run cut at the drain deadline (slow request) replays to exit 0', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--drain-timeout', '1'] });
    nodes.push(n);
    // Answered long after the 1 s budget (15 s): the node must cut it.
    const inFlight = fetch(`${n.proxyUrl}/delay?ms=15000`).then(
      (r) => r.status,
      () => 'cut',
    );
    await expect.poll(async () => (await adminState(n)).inFlight, { timeout: 5_000 }).toBe(1);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    await inFlight;
    expect(n.logs.find((l) => l.msg === 'stopped')).toMatchObject({ drain: { cut: 1 } });
    const res = await replay(n.dataDir, '--json');
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout) as ReplayJson;
    expect(doc.steps.map((s) => s.event)).toContain('xstate.after.drainDeadline.lifecycle.online.leaving.draining');
    expect(doc.steps.some((s) => s.actual.includes('draining.cutting'))).toBe(true);
    expect(doc.final).toBe('stopped');
    expectReplayMatches(await exportLastRun(n.dataDir));
  });
});

describe('graceful-edge replay of a run that did not stop', () => {
  it('a SIGKILLed node replays up to where it was, and says it never stopped', async () => {
    const n = await startNode();
    nodes.push(n);
    // The serving record is written in the same turn as its log line; an answer after it proves it is on disk.
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);
    n.kill('SIGKILL');
    await n.exited;
    const res = await replay(n.dataDir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim().split('\n').at(-1)).toBe(
      'replay matches: 4 transitions reproduced, final state online.serving (the run never reached stopped: the node is still running, or was killed)',
    );
  });
});

describe('graceful-edge replay without a run', () => {
  it('a missing state.db: clear message, exit 1, nothing written', async () => {
    const dir = cleanups.tempDir('ge-replay-empty-');
    const exportFile = path.join(cleanups.tempDir('ge-replay-'), 'run.json');
    const res = await replay(dir, '--export', exportFile);
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe(`graceful-edge: nothing to replay: ${path.join(dir, 'state.db')} does not exist`);
    expect(res.stdout).toBe('');
    expect(existsSync(exportFile)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a state.db with no recorded run: clear message, exit 1', async () => {
    const dir = cleanups.tempDir('ge-replay-norun-');
    SqliteStateStore.open(path.join(dir, 'state.db')).close();
    const res = await replay(dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/nothing to replay: .*state\.db holds no recorded run/);
  });

  it('a file that is not a database: clear message, exit 1, file untouched', async () => {
    const dir = cleanups.tempDir('ge-replay-junk-');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'state.db'), 'not a database at all, just text '.repeat(200));
    const before = readFileSync(path.join(dir, 'state.db'));
    const res = await replay(dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^graceful-edge: cannot read .*state\.db: /);
    expect(readFileSync(path.join(dir, 'state.db')).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['state.db']);
  });

  it('an unknown option is a usage error: exit 2', async () => {
    const res = await runCli(['replay', '--no-such-flag']);
    expect(res.code).toBe(2);
  });
});
