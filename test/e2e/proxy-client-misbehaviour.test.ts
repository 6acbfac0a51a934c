/**
 * No single client takes a node down (issue 11, items 1–3; issue 8 "Also"):
 * every way a client can misbehave on its own connection is that request's
 * outcome, never the process's. The node keeps serving, never logs an
 * uncaught exception, and a SIGTERM still drains within its deadline even
 * with a WebSocket upgrade pending on a silent upstream.
 */
import { describe, expect, it } from 'vitest';
import { adminState, metric } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { until } from '../helpers/wait.js';
import { startOrigin } from '../proxy/support/origin.js';
import {
  badChunkAfterForwarding,
  closeMidBody,
  connect,
  halfClose,
  resetMidHead,
  resetWhilePending,
  upgradeThenCloseWithUnread,
  upgradeThenHalfClose,
  upgradeThenReset,
} from '../proxy/support/misbehaving-client.js';

const { nodes, cleanups } = testScope();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function assertStillServing(n: NodeProcess): Promise<void> {
  // Give a deferred uncaught error its turn to surface.
  await sleep(300);
  expect(n.proc.exitCode).toBeNull();
  const res = await fetch(`${n.proxyUrl}/still-there`);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ url: '/still-there' });
  expect(n.logs.filter((l) => /uncaught/i.test(String(l.msg)))).toEqual([]);
  expect(n.logs.filter((l) => l.lifecycle !== undefined && l.lifecycle !== 'serving' && /shutdown|draining|stopped/.test(String(l.lifecycle)))).toEqual([]);
  expect((await adminState(n)).lifecycle).toMatch(/serving/);
}

async function stopCleanly(n: NodeProcess, withinMs: number): Promise<void> {
  const t0 = Date.now();
  n.kill('SIGTERM');
  expect(await n.exited).toEqual({ code: 0, signal: null });
  expect(Date.now() - t0).toBeLessThan(withinMs);
}

describe.each(['undici', 'http-proxy'] as const)('client misbehaviour (engine %s)', (engine) => {
  const start = async (extra: string[] = []) => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--proxy-engine', engine, '--drain-timeout', '2', ...extra] });
    nodes.push(n);
    return { origin, n };
  };

  it('a websocket upgrade reset (SO_LINGER 0) while its upstream is silent is that tunnel\'s end, not the node\'s', async () => {
    const { n } = await start();
    await upgradeThenReset(n.proxy, '/hang', 300);
    await assertStillServing(n);
    expect(await metric(n, 'graceful_edge_requests_total', { outcome: 'websocket_closed' })).toBe(1);
    // The tunnel that never opened is not left in flight.
    await until('no websocket in flight', async () => (await adminState(n)).inFlightWebSockets === 0, { timeoutMs: 10_000 });
    await stopCleanly(n, 15_000);
  });

  it('a normal close with unread data after a real 101 is that tunnel\'s end, not the node\'s', async () => {
    const { n } = await start();
    for (let i = 0; i < 3; i++) await upgradeThenCloseWithUnread(n.proxy, '/live');
    await assertStillServing(n);
    await until('no websocket in flight', async () => (await adminState(n)).inFlightWebSockets === 0, { timeoutMs: 10_000 });
    await stopCleanly(n, 15_000);
  });

  it('a client that sends part of a body and disconnects is that request\'s outcome', async () => {
    const { n } = await start();
    await closeMidBody(n.proxy, 'close');
    await closeMidBody(n.proxy, 'reset');
    await assertStillServing(n);
    // Each is counted as that request's outcome.
    await until('both counted as aborted', async () => (await metric(n, 'graceful_edge_requests_total', { outcome: 'aborted' })) === 2, {
      timeoutMs: 10_000,
    });
    await stopCleanly(n, 15_000);
  });

  it('every kind of client misbehaviour, twice over: the node keeps serving and never logs an uncaught exception', async () => {
    const { n } = await start();
    const misdeeds = [
      () => resetMidHead(n.proxy),
      () => resetWhilePending(n.proxy),
      () => halfClose(n.proxy),
      () => closeMidBody(n.proxy, 'close'),
      () => closeMidBody(n.proxy, 'reset'),
      () => badChunkAfterForwarding(n.proxy),
      () => upgradeThenReset(n.proxy, '/hang', 300),
      () => upgradeThenReset(n.proxy, '/live', 100),
      () => upgradeThenCloseWithUnread(n.proxy, '/live'),
      async () => {
        // Half-closed before its upstream answered: it must not stay in flight.
        const s = await upgradeThenHalfClose(n.proxy, '/hang');
        cleanups.defer(() => s.destroy());
      },
    ];
    for (let round = 0; round < 2; round++) {
      for (const misdeed of misdeeds) await misdeed();
      // All at once as well.
      await Promise.all(misdeeds.map((m) => m()));
    }
    await assertStillServing(n);
    let last: unknown = null;
    await until(
      'nothing left in flight',
      async () => {
        const st = await adminState(n);
        last = { inFlightRequests: st.inFlightRequests, inFlightWebSockets: st.inFlightWebSockets };
        return st.inFlight === 0;
      },
      { timeoutMs: 15_000 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}; last /state: ${JSON.stringify(last)}`);
    });
    await stopCleanly(n, 15_000);
  });

  it('SIGTERM with a websocket upgrade pending on a silent upstream: the drain deadline cuts it and the node exits', async () => {
    const { n } = await start();
    const client = await connect(n.proxy);
    cleanups.defer(() => client.destroy());
    client.on('error', () => undefined);
    let closedAt = 0;
    let answer = '';
    client.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    client.on('close', () => (closedAt = Date.now()));
    client.write(
      'GET /hang HTTP/1.1\r\nhost: test\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n',
    );
    // The pending upgrade is work in flight like any request.
    await until('the pending upgrade in flight', async () => (await adminState(n)).inFlightWebSockets === 1, { timeoutMs: 10_000 });
    const t0 = Date.now();
    n.kill('SIGTERM');
    const exit = await Promise.race([n.exited, sleep(20_000).then(() => 'hung' as const)]);
    expect(exit).toEqual({ code: 0, signal: null });
    // Cut at the 2 s drain deadline, not before and not minutes later (generous: a loaded machine).
    expect(Date.now() - t0).toBeGreaterThan(1_000);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(n.logs.find((l) => l.phase === 'cutting')).toMatchObject({ cut: 1, cutWebSockets: 1 });
    await until('the client connection closed', async () => closedAt > 0, { timeoutMs: 5_000 });
    // It had no 101, so it gets what any request gets at the deadline: the draining 503.
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/x-graceful-edge-draining: 1/i);
  });
});
