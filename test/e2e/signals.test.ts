/**
 * Issue 11, items 7–9: no catchable signal kills a node without draining and
 * saving. A burst of SIGTERMs exits 0 with the `stopped` line and a clean data
 * dir; the default-fatal signals get their documented action (graceful
 * shutdown or logged and ignored); SIGUSR1 opens no inspector; a SIGTERM
 * during start-up (while the dependencies load) is a clean exit 0.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { CLI, startNode } from '../helpers/daemon.js';
import { savedState } from '../helpers/saved-state.js';
import { until } from '../helpers/wait.js';
import { startOrigin } from '../proxy/support/origin.js';

const { nodes, cleanups } = testScope();

/** Sends `count` signals `everyMs` apart; returns how many reached the process (it may be gone before the last). */
async function burst(pid: number, signal: NodeJS.Signals, count: number, everyMs: number): Promise<number> {
  let sent = 0;
  for (let i = 0; i < count; i++) {
    try {
      process.kill(pid, signal);
      sent++;
    } catch {
      break; // ESRCH: it has exited
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return sent;
}

/** TCP ports `pid` listens on, from `ss` (loopback or not). */
function listeningPortsOf(pid: number): number[] {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .map((l) => Number(l.split(/\s+/)[3]?.split(':').pop()));
}

describe('signal bursts (item 7)', () => {
  it('10 SIGTERMs within 20 ms with nothing in flight: exit 0, stopped line, no lock or WAL left', async () => {
    for (let round = 0; round < 3; round++) {
      const dataDir = cleanups.tempDir('ge-burst-');
      const n = await startNode({ dataDir });
      nodes.push(n);
      const sent = await burst(n.proc.pid!, 'SIGTERM', 10, 2);
      expect(await n.exited).toEqual({ code: 0, signal: null });
      expect(n.logs.some((l) => l.msg === 'stopped')).toBe(true);
      expect(readdirSync(dataDir).sort()).toEqual(['state.db']);
      // Each signal that reached the process was logged and none killed it
      // (the kernel merges a standard signal sent while one is still pending,
      // so a few of the 10 may arrive as one).
      const counts = n.logs.filter((l) => l.signal === 'SIGTERM').map((l) => Number(l.count));
      expect(counts).toEqual(counts.map((_, i) => i + 1));
      expect(counts.length).toBeLessThanOrEqual(sent);
      const s = await savedState(dataDir);
      expect(s.shutdowns).toHaveLength(1);
      expect(s.shutdowns[0]!.signals[0]).toBe('SIGTERM');
    }
  });

  it('10 SIGTERMs within 20 ms during a drain: exit 0, each one logged, the record lists those before the save', async () => {
    const dataDir = cleanups.tempDir('ge-burst-');
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ dataDir, args: ['--upstream', origin.url, '--drain-timeout', '20'] });
    nodes.push(n);
    const slow = fetch(`${n.proxyUrl}/slow?ms=30000&chunks=2`)
      .then((r) => r.text())
      .catch((e: Error) => `aborted: ${e.message}`);
    await until('the slow request to be in flight', async () => (await adminState(n)).inFlight >= 1, { everyMs: 50 });
    // The second signal cuts the drain, and on a fast run the node has saved
    // and exited before the tenth is sent (9 reached it on one Node 24 CI run),
    // so what is asserted is that none of them killed it: exit 0, not a signal.
    const sent = await burst(n.proc.pid!, 'SIGTERM', 10, 2);
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    await slow;
    expect(n.logs.some((l) => l.msg === 'stopped')).toBe(true);
    expect(readdirSync(dataDir).sort()).toEqual(['state.db']);
    const s = await savedState(dataDir);
    // The second signal cuts the drain and the save follows within a few ms;
    // signals after it are logged (with their count) but cannot be in a row
    // already written. None of them may kill the node.
    const counts = n.logs.filter((l) => l.signal === 'SIGTERM').map((l) => Number(l.count));
    expect(counts).toEqual(counts.map((_, i) => i + 1));
    // The kernel merges a signal that arrives while the same one is pending,
    // so fewer than 10 may be delivered (3 seen on Node 24); more than one were.
    expect(counts.length).toBeGreaterThanOrEqual(2);
    expect(counts.length).toBeLessThanOrEqual(sent);
    const before = n.logs.filter((l) => l.signal === 'SIGTERM' && l.msg !== 'signal received after the node stopped: ignored').length;
    expect(s.shutdowns[0]!.signals).toEqual(Array(before).fill('SIGTERM'));
  });
});

describe('default-fatal signals (item 8)', () => {
  it.each(['SIGQUIT', 'SIGXCPU', 'SIGPWR'] as const)('%s: graceful shutdown, exit 0, shutdown record saved', async (signal) => {
    const dataDir = cleanups.tempDir('ge-sig-');
    const n = await startNode({ dataDir });
    nodes.push(n);
    n.kill(signal);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(n.logs.some((l) => l.msg === 'signal received: shutting down' && l.signal === signal)).toBe(true);
    const s = await savedState(dataDir);
    expect(s.shutdowns).toEqual([expect.objectContaining({ signals: [signal] })]);
  });

  it('SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXFSZ, SIGIO, SIGSTKFLT, SIGTRAP, SIGPIPE: logged, the node keeps serving', async () => {
    const dataDir = cleanups.tempDir('ge-sig-');
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ dataDir, args: ['--upstream', origin.url] });
    nodes.push(n);
    const ignored = ['SIGUSR2', 'SIGALRM', 'SIGVTALRM', 'SIGPROF', 'SIGXFSZ', 'SIGIO', 'SIGSTKFLT', 'SIGTRAP', 'SIGPIPE'] as const;
    for (const signal of ignored) {
      n.kill(signal);
      await new Promise((r) => setTimeout(r, 30));
    }
    for (const signal of ignored.filter((s) => s !== 'SIGPIPE' && s !== 'SIGXFSZ')) {
      await n.waitForLog((l) => l.msg === 'signal received: ignored' && l.signal === signal, 5_000);
    }
    const r = await fetch(`${n.proxyUrl}/after`);
    expect(r.status).toBe(200);
    await r.text();
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect((await savedState(dataDir)).shutdowns[0]!.signals).toEqual(['SIGTERM']);
  });

  it('SIGUSR1 opens no inspector: nothing of the node listens on 9229 and it keeps serving', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url] });
    nodes.push(n);
    const pid = n.proc.pid!;
    const before = listeningPortsOf(pid);
    n.kill('SIGUSR1');
    await n.waitForLog((l) => l.signal === 'SIGUSR1' && String(l.msg).includes('inspector stays closed'));
    await new Promise((r) => setTimeout(r, 500));
    const after = listeningPortsOf(pid);
    expect(after).not.toContain(9229);
    expect(after.sort()).toEqual(before.sort());
    expect(n.stderr()).not.toContain('Debugger listening');
    const r = await fetch(`${n.proxyUrl}/after-usr1`);
    expect(r.status).toBe(200);
    await r.text();
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });
});

/**
 * How long Node itself takes from exec to the first line of a script, now
 * (it varies with the machine's load: ~100 ms idle, over 300 ms under heavy
 * load). A signal in that window takes the default action whatever the
 * script does; from our first line on, none does.
 */
async function bootstrapMs(): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', 'process.stdout.write(".")'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const ms = performance.now() - t0;
  await new Promise((r) => child.on('exit', r));
  return ms;
}

describe('SIGTERM during start-up (item 9)', () => {
  // Before: handlers were installed after every dependency had loaded
  // (~0.5–0.8 s after exec), so each of these exited 143.
  async function sigtermAt(when: { afterBootstrapMs: number } | 'cli-loading'): Promise<void> {
    const dataDir = cleanups.tempDir('ge-early-');
    // The earliest case is not a time: a fixed delay after a probe's bootstrap
    // raced the entry module on a loaded machine (seen once in CI). Node's ESM
    // tracing names the CLI chunk as its import starts, which src/main.ts does
    // right after installing the handlers: the signal then lands while every
    // dependency is still to load.
    const env = when === 'cli-loading' ? { ...process.env, NODE_DEBUG: 'esm' } : process.env;
    const ms = when === 'cli-loading' ? 0 : (await bootstrapMs()) + when.afterBootstrapMs;
    const child = spawn(process.execPath, [CLI, 'run', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--mesh-port', '0', '--data-dir', dataDir, '--no-mdns'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    if (when === 'cli-loading') {
      let err = '';
      const onErr = (d: Buffer) => {
        err += d.toString();
        if (!/cli-cli-[\w-]+\.js/.test(err)) return;
        child.stderr.off('data', onErr);
        child.stderr.resume();
        child.kill('SIGTERM');
      };
      child.stderr.on('data', onErr);
    } else {
      child.stderr.resume();
      setTimeout(() => child.kill('SIGTERM'), ms);
    }
    expect(await exited, out).toEqual({ code: 0, signal: null });
    expect(existsSync(path.join(dataDir, 'node.lock'))).toBe(false);
    expect(out).toMatch(/"signal":"SIGTERM".*"msg":"signal received: shutting down"/);
    expect(out).toContain('"msg":"stopped"');
  }

  it('SIGTERM as the CLI starts loading (its dependencies not yet loaded): exit 0, lock released', async () => {
    await sigtermAt('cli-loading');
  });

  it.each([150, 300, 500])('SIGTERM %i ms after Node has bootstrapped: exit 0, lock released', async (after) => {
    await sigtermAt({ afterBootstrapMs: after });
  });
});

describe('SIGHUP during start-up', () => {
  // The hot restart's handler is attached once the chart runs; before that a
  // SIGHUP took the default action (exit 129, nothing saved). 50 ms after
  // Node's own start-up the dependencies are usually still loading (Node 20:
  // ~0.5 s); a faster runtime may already serve, and SIGHUP is then a real hot
  // restart. Either way the process must not die of it.
  it('SIGHUP 50 ms after Node has bootstrapped: never fatal (ignored while starting, a hot restart once serving)', async () => {
    const ms = (await bootstrapMs()) + 50;
    const n = await startNode({ waitFor: 'spawned' });
    setTimeout(() => n.proc.kill('SIGHUP'), ms);
    const seen = await n.waitForLog((l) => l.signal === 'SIGHUP', 30_000);
    if (seen.msg === 'signal received: ignored') {
      await n.waitForLog((l) => l.lifecycle === 'serving', 30_000);
      n.proc.kill('SIGTERM');
      expect(await n.exited).toEqual({ code: 0, signal: null });
      return;
    }
    expect(seen.msg).toBe('SIGHUP received: hot restart');
    const spawned = await n.waitForLog((l) => typeof l.successorPid === 'number', 30_000);
    const successor = Number(spawned.successorPid);
    // The old process hands over and exits 0; the successor is this test's to stop.
    expect(await n.exited).toEqual({ code: 0, signal: null });
    process.kill(successor, 'SIGTERM');
    await until(
      'the successor to exit',
      async () => {
        try {
          process.kill(successor, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 20_000 },
    );
  });
});

describe('a CPU profile of the daemon (SIGPROF is V8 sampler’s)', () => {
  const { nodes, cleanups } = testScope();

  it('with --cpu-prof the node leaves SIGPROF alone: the profile written at exit has its samples', async () => {
    const origin = cleanups.closing(await startOrigin());
    const profDir = cleanups.tempDir('ge-prof-');
    const n = await startNode({ args: ['--upstream', origin.url], nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '1000'] });
    nodes.push(n);
    const started = Date.now();
    while (Date.now() - started < 1_500) {
      const r = await fetch(`${n.proxyUrl}/p`);
      await r.text();
    }
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    expect(files).toHaveLength(1);
    const profile = JSON.parse(readFileSync(path.join(profDir, files[0]!), 'utf8')) as { samples: number[]; startTime: number; endTime: number };
    // One sample per ms of run time (give or take the scheduler); with the
    // daemon's own SIGPROF handler installed there were a few dozen in all.
    const runMs = (profile.endTime - profile.startTime) / 1000;
    expect(profile.samples.length).toBeGreaterThan(runMs / 4);
    expect(n.logs.some((l) => l.signal === 'SIGPROF')).toBe(false);
  });
});
