/**
 * The drain deadline: a request that outlives `--drain-timeout` is cut and
 * counted, the node still exits 0 within the budget; a second signal skips
 * the rest of the drain at once.
 */
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import { startOrigin } from '../proxy/support/origin.js';
import { slowGet } from '../proxy/support/slow-client.js';

const { nodes, cleanups } = testScope();

describe.each(['undici', 'http-proxy'] as const)('drain deadline (engine %s)', (engine) => {
  it('--drain-timeout 2 with a 20 s request in flight: cut 1, exit 0 within the budget', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--drain-timeout', '2', '--proxy-engine', engine] });
    nodes.push(n);
    const slow = slowGet(`${n.proxyUrl}/slow?ms=20000&chunks=20`);
    await slow.started;
    const t0 = Date.now();
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(5_000);
    const cut = n.logs.find((l) => l.phase === 'cutting');
    expect(cut).toMatchObject({ cut: 1, cutRequests: 1 });
    const s = await slow.done;
    expect(s.complete).toBe(false);

    const st = await runCli(['state', '--data-dir', n.dataDir, '--json']);
    expect(st.code, st.stderr).toBe(0);
    const saved = JSON.parse(st.stdout) as { shutdowns: Array<{ drained: number; cut: number }> };
    expect(saved.shutdowns.at(-1)).toMatchObject({ cut: 1 });
  });

  it('a second SIGINT during a long drain exits at once, still 0', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--drain-timeout', '30', '--proxy-engine', engine] });
    nodes.push(n);
    const slow = slowGet(`${n.proxyUrl}/slow?ms=20000&chunks=20`);
    await slow.started;
    n.kill('SIGINT');
    await n.waitForLog((l) => l.phase === 'waiting');
    const t0 = Date.now();
    n.kill('SIGINT');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(n.logs.find((l) => l.phase === 'cutting')).toMatchObject({ cut: 1 });
    expect(n.logs.some((l) => l.lifecycle === 'persisting')).toBe(true);
    await slow.done;
  });
});
