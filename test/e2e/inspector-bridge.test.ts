/**
 * `--inspector-url`: the daemon mirrors its inspection events, in Stately's
 * format (@statelyai/inspect), to a WebSocket inspector — here a local `ws`
 * server on loopback standing in for Stately's. An inspector that is down or
 * goes away is logged once and never touches the node.
 */
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { freeTcpPort } from '../helpers/ports.js';

type Msg = { type: string; name?: string; definition?: string; snapshot?: { value?: unknown; status?: string }; event?: { type: string }; _version?: string };

const { nodes, cleanups } = testScope();

interface Inspector {
  url: string;
  port: number;
  messages: Msg[];
  /** Drops its connections and closes (once; also after the test). */
  stop(): Promise<unknown>;
}

async function startInspector(port = 0): Promise<Inspector> {
  const messages: Msg[] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port });
  let stopped: Promise<unknown> | null = null;
  const stop = () =>
    (stopped ??= new Promise((resolve) => {
      for (const c of server.clients) c.terminate();
      server.close(resolve);
    }));
  cleanups.defer(stop);
  await new Promise<void>((resolve, reject) => (server.once('listening', resolve), server.once('error', reject)));
  server.on('connection', (ws) => ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as Msg)));
  const bound = (server.address() as AddressInfo).port;
  return { url: `ws://127.0.0.1:${bound}`, port: bound, messages, stop };
}

const isRootSnapshot = (value: unknown) => (m: Msg) => m.type === '@xstate.snapshot' && JSON.stringify(m.snapshot?.value) === JSON.stringify(value);

describe('Stately inspector bridge', () => {
  it('sends the chart definition and every snapshot, from start to stopped', async () => {
    const inspector = await startInspector();
    const n = await startNode({ args: ['--inspector-url', inspector.url] });
    nodes.push(n);
    await n.waitForLog((l) => String(l.msg).startsWith('inspection events go to'));
    await expect.poll(() => inspector.messages.some(isRootSnapshot({ online: 'serving' })), { timeout: 5_000 }).toBe(true);
    const root = inspector.messages.find((m) => m.type === '@xstate.actor' && m.name === 'lifecycle');
    expect(root).toBeDefined();
    // Stately draws the chart from this definition.
    const definition = JSON.parse(root!.definition!) as { id: string; states: Record<string, unknown> };
    expect(definition.id).toBe('lifecycle');
    expect(Object.keys(definition.states).sort()).toEqual(['online', 'persisting', 'restoring', 'starting', 'stopped']);
    expect(root!._version).toMatch(/^\d+\.\d+\.\d+/);
    // Child actors and events are inspected too.
    expect(inspector.messages.some((m) => m.type === '@xstate.actor' && m.name === 'proxy')).toBe(true);
    expect(inspector.messages.some((m) => m.type === '@xstate.event' && m.event?.type === 'PROXY.LISTENING')).toBe(true);

    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(inspector.messages.some((m) => m.type === '@xstate.event' && m.event?.type === 'SHUTDOWN')).toBe(true);
    expect(inspector.messages.some(isRootSnapshot('persisting'))).toBe(true);
    expect(inspector.messages.some(isRootSnapshot('stopped'))).toBe(true);
  });

  it('an unreachable inspector is logged once and changes nothing', async () => {
    const port = await freeTcpPort();
    const n = await startNode({ args: ['--inspector-url', `ws://127.0.0.1:${port}`] });
    nodes.push(n);
    const warned = await n.waitForLog((l) => l.msg === 'inspector unreachable; the node runs on and retries quietly');
    expect(warned.inspectorUrl).toBe(`ws://127.0.0.1:${port}`);
    expect(warned.level).toBe(40);
    // Retries happen (1 s, then 2 s) but stay quiet.
    await new Promise((r) => setTimeout(r, 3_500));
    expect(n.logs.filter((l) => /inspector/.test(String(l.msg)))).toHaveLength(1);
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);
    const signalled = Date.now();
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    // A pending retry never holds the exit (generous bound, idle node).
    expect(Date.now() - signalled).toBeLessThan(5_000);
  });

  it('an inspector that goes away and comes back: the node serves on and reconnects', async () => {
    const first = await startInspector();
    const n = await startNode({ args: ['--inspector-url', first.url] });
    nodes.push(n);
    await n.waitForLog((l) => String(l.msg).startsWith('inspection events go to'));
    await first.stop();
    await n.waitForLog((l) => /closed the connection/.test(String(l.msg)));
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);

    const second = await startInspector(first.port);
    await expect
      .poll(() => n.logs.filter((l) => String(l.msg).startsWith('inspection events go to')).length, { timeout: 10_000 })
      .toBe(2);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(second.messages.some(isRootSnapshot('stopped'))).toBe(true);
  });
});
