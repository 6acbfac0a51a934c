/**
 * Running out of file descriptors is the node's problem, not the target's
 * (issue 11 item 5). The daemon child's own limit is lowered with
 * `prlimit --pid` to exactly one more descriptor than it holds while one
 * request keeps its only upstream connection busy: the next client is
 * accepted, but the node cannot open a second upstream connection (EMFILE).
 * It must answer 503, count it in /metrics, log it rate-limited, and leave
 * the healthy upstream's breaker closed.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { breakersOf, metricBy } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { fileLimitOf, limitLeavingFree, setSoftFileLimit } from '../helpers/fd-limit.js';
import { until } from '../helpers/wait.js';
import { startOrigin } from '../proxy/support/origin.js';

const { nodes, cleanups } = testScope();

/** One GET on its own connection, closed after the answer (frees the descriptor at once). */
function getOnce(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const localErrorLines = (n: NodeProcess) => n.logs.filter((l) => l.msg === 'out of a local resource while connecting to a target: answering 503');

describe.each(['undici', 'http-proxy'] as const)('local resource errors (engine %s)', (engine) => {
  it('EMFILE while connecting: 503, counted, logged once, the breaker stays closed', async () => {
    const o = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', o.url, '--proxy-engine', engine] });
    nodes.push(n);
    const pid = n.proc.pid!;
    const original = fileLimitOf(pid);

    // One long request holds the node's one upstream connection.
    const holding = getOnce(`${n.proxyUrl}/delay?ms=6000`).catch((e: Error) => ({ status: 0, body: e.message }));
    await until('the origin to see the long request', async () => o.seen.some((s) => s.url.startsWith('/delay')));
    await new Promise((r) => setTimeout(r, 100));

    const failures: Array<{ status: number; body: string }> = [];
    try {
      for (let i = 0; i < 6; i++) {
        // The limit is re-read each time: the listener or a timer may hold one more or less.
        await setSoftFileLimit(pid, limitLeavingFree(pid, 1), original.hard);
        failures.push(await getOnce(`${n.proxyUrl}/starved/${i}`));
        await setSoftFileLimit(pid, original.soft, original.hard);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await setSoftFileLimit(pid, original.soft, original.hard);
    }
    expect(failures.map((f) => f.status)).toEqual([503, 503, 503, 503, 503, 503]);
    expect(JSON.parse(failures[0]!.body)).toMatchObject({ error: expect.stringMatching(/out of resources/) });

    // The upstream was never at fault: its breaker is closed and it serves.
    expect(await breakersOf(n)).toEqual([{ target: o.url, state: 'closed' }]);
    expect((await getOnce(`${n.proxyUrl}/after`)).status).toBe(200);
    expect((await holding).status).toBe(200);

    expect(await metricBy(n, 'graceful_edge_local_errors_total', 'code')).toEqual({ EMFILE: 6 });
    expect((await metricBy(n, 'graceful_edge_requests_total', 'outcome')).local_resource).toBe(6);
    // Rate-limited: one line for the burst, with the code in a field.
    const lines = localErrorLines(n);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: 'EMFILE', level: 40 });
    // And the process never treated it as its own end.
    expect(n.proc.exitCode).toBeNull();
  });
});
