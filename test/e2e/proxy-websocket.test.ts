/**
 * WebSockets through the proxy: the tunnel counts as in-flight work, and at
 * the drain deadline both ends get a close frame with 1001 (Going Away).
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { adminState, metricsText } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { startOrigin } from '../proxy/support/origin.js';

const { nodes, cleanups } = testScope();

describe.each(['undici', 'http-proxy'] as const)('websocket (engine %s)', (engine) => {
  it('is counted in flight and closed with 1001 at the drain deadline', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--drain-timeout', '2', '--proxy-engine', engine] });
    nodes.push(n);

    const ws = new WebSocket(`ws://${n.proxy}/live`);
    cleanups.defer(() => ws.terminate());
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    const echoed = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    ws.send('ping through the proxy');
    expect(await echoed).toBe('ping through the proxy');

    expect(await adminState(n)).toMatchObject({ inFlight: 1, inFlightWebSockets: 1 });
    const metrics = await metricsText(n);
    expect(metrics).toMatch(/graceful_edge_in_flight\{kind="websocket"\} 1/);

    const t0 = Date.now();
    n.kill('SIGTERM');
    const c = await closed;
    expect(c.code).toBe(1001);
    // Not before the deadline: the drain waited on the tunnel.
    expect(Date.now() - t0).toBeGreaterThan(1_000);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(n.logs.find((l) => l.phase === 'cutting')).toMatchObject({ cut: 1, cutWebSockets: 1 });
    // The origin was told too.
    await new Promise((r) => setTimeout(r, 200));
    expect(origin.wsCloses).toEqual([1001]);
  });
});

describe('websocket tunnels load http-proxy-3 on first use', () => {
  it('not at start; the first upgrades, arriving together while it loads, all tunnel', async () => {
    const origin = cleanups.closing(await startOrigin());
    // NODE_DEBUG=module: Node names every CommonJS package it resolves on stderr.
    const n = await startNode({ args: ['--upstream', origin.url], env: { NODE_DEBUG: 'module' } });
    nodes.push(n);
    await new Promise((r) => setTimeout(r, 300));
    expect(n.stderr()).not.toMatch(/node_modules\/http-proxy-3/);

    const opened = Array.from({ length: 6 }, (_, i) => {
      const ws = new WebSocket(`ws://${n.proxy}/first-${i}`);
      cleanups.defer(() => ws.terminate());
      return new Promise<WebSocket>((resolve, reject) => (ws.once('open', () => resolve(ws)), ws.once('error', reject)));
    });
    const sockets = await Promise.all(opened);
    const echoes = await Promise.all(
      sockets.map((ws, i) => {
        const echoed = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
        ws.send(`hello ${i}`);
        return echoed;
      }),
    );
    expect(echoes).toEqual(sockets.map((_, i) => `hello ${i}`));
    expect(n.stderr()).toMatch(/node_modules\/http-proxy-3/);
    expect(await adminState(n)).toMatchObject({ inFlightWebSockets: 6 });
    for (const ws of sockets) ws.close(1000);
  });
});
