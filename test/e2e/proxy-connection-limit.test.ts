/**
 * A connection cap and a header deadline on the proxy listener (issue 11,
 * item 6): idle sockets can no longer hold every fd. Past --max-connections
 * a new proxy connection is closed at once, counted in /metrics and logged
 * (rate-limited); a connection that sends nothing is closed after
 * --header-timeout; the admin listener answers throughout, also under
 * `prlimit --nofile=256` with the cap derived from that limit.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminState, metric } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { until } from '../helpers/wait.js';
import { startOrigin } from '../proxy/support/origin.js';
import { connect } from '../proxy/support/misbehaving-client.js';

const { nodes, cleanups } = testScope();

const LIMIT_MSG = 'proxy connection limit reached: closing new connections';

/** Opens `count` connections that send nothing; each records when and how it ended. */
async function openSilent(proxy: string, count: number) {
  const out: { socket: net.Socket; closedAt: number | null; data: string }[] = [];
  for (let i = 0; i < count; i++) {
    const socket = await connect(proxy);
    const entry = { socket, closedAt: null as number | null, data: '' };
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => (entry.data += d.toString('latin1')));
    socket.on('close', () => (entry.closedAt = Date.now()));
    cleanups.defer(() => socket.destroy());
    out.push(entry);
  }
  return out;
}

async function adminAnswers(n: NodeProcess): Promise<void> {
  const health = await fetch(`${n.adminUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
  expect(health.status).toBe(200);
  const state = await adminState(n);
  expect(state.lifecycle).toMatch(/serving/);
}

describe.each(['undici', 'http-proxy'] as const)('connection limit (engine %s)', (engine) => {
  it('past --max-connections new proxy connections are closed at once, counted and logged; silent ones go after --header-timeout; the admin answers', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--proxy-engine', engine, '--max-connections', '20', '--header-timeout', '5'] });
    nodes.push(n);
    expect(n.logs.find((l) => String(l.msg).startsWith('proxy listening'))).toMatchObject({
      maxConnections: 20,
      maxConnectionsFrom: 'configured',
      headerTimeoutMs: 5_000,
    });

    const t0 = Date.now();
    const held = await openSilent(n.proxy, 20);
    await until('20 connections held', async () => (await metric(n, 'graceful_edge_proxy_connections')) === 20, { timeoutMs: 10_000 });
    const extra = await openSilent(n.proxy, 5);
    // Each one past the cap is closed at once, with nothing sent.
    await until('the extra connections closed', async () => extra.every((e) => e.closedAt !== null), { timeoutMs: 5_000 });
    expect(extra.map((e) => e.data)).toEqual(['', '', '', '', '']);
    expect(held.every((h) => h.closedAt === null)).toBe(true);

    await adminAnswers(n);
    expect(await metric(n, 'graceful_edge_proxy_connections_rejected_total')).toBe(5);
    expect(await metric(n, 'graceful_edge_proxy_max_connections')).toBe(20);
    // One line for the burst (rate-limited), constant message, counts in fields.
    const lines = n.logs.filter((l) => l.msg === LIMIT_MSG);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, maxConnections: 20, open: 20, rejected: 1, rejectedTotal: 1 });

    // The silent connections are closed by the header deadline (5 s + up to 1 s of check interval), with a 408.
    await until('the silent connections closed', async () => held.every((h) => h.closedAt !== null), { timeoutMs: 20_000 });
    const lifetimes = held.map((h) => h.closedAt! - t0);
    expect(Math.min(...lifetimes)).toBeGreaterThan(4_500);
    expect(held[0]!.data).toMatch(/^HTTP\/1\.1 408 /);

    // Room again: proxy clients are served.
    const res = await fetch(`${n.proxyUrl}/after`);
    expect(res.status).toBe(200);
  });

  it('under prlimit --nofile=256 the cap is derived from the fd limit and the admin stays up while the proxy is saturated', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--proxy-engine', engine], wrap: ['prlimit', '--nofile=256', '--'] });
    nodes.push(n);
    // (256 - 64) / 2
    expect(n.logs.find((l) => String(l.msg).startsWith('proxy listening'))).toMatchObject({
      maxConnections: 96,
      maxConnectionsFrom: 'fd-limit',
      fdSoftLimit: 256,
      headerTimeoutMs: 10_000,
    });

    const sockets = await openSilent(n.proxy, 300);
    await until('the cap hit', async () => n.logs.some((l) => l.msg === LIMIT_MSG), { timeoutMs: 10_000 });
    for (let i = 0; i < 3; i++) await adminAnswers(n);
    expect(await metric(n, 'graceful_edge_proxy_connections')).toBe(96);
    expect(await metric(n, 'graceful_edge_proxy_connections_rejected_total')).toBe(204);
    expect(sockets.filter((s) => s.closedAt === null)).toHaveLength(96);

    // Let go of them: proxy clients are served again, and the node stops cleanly.
    for (const s of sockets) s.socket.destroy();
    await until('proxy serving again', async () => (await fetch(`${n.proxyUrl}/again`).catch(() => null))?.status === 200, { timeoutMs: 15_000 });
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect(n.logs.filter((l) => /uncaught|EMFILE/i.test(JSON.stringify(l)))).toEqual([]);
  });
});

describe('connection limit options', () => {
  it.each([
    [['--max-connections', '0'], /invalid --max-connections: max-connections must be at least 1/],
    [['--max-connections', '2.5'], /invalid --max-connections: max-connections must be a whole number/],
    [['--header-timeout', '301'], /invalid --header-timeout: header-timeout must be at most 300/],
  ])('%j is refused with exit 2', async (args, message) => {
    const r = await runCli(['run', '--no-mdns', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('a configured cap above what the fd limit leaves room for is warned about at start', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--max-connections', '500'], wrap: ['prlimit', '--nofile=256', '--'] });
    nodes.push(n);
    const warn = await n.waitForLog((l) => String(l.msg).startsWith('--max-connections is above what the fd limit leaves room for'));
    expect(warn).toMatchObject({ level: 40, maxConnections: 500, fdSoftLimit: 256, fitsFdLimit: 96 });
  });

  it('a proxy port in use still fails the start (exit 2) now that listener errors after binding are only logged', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    cleanups.closing(taken);
    const port = (taken.address() as net.AddressInfo).port;
    const n = await startNode({ args: ['--listen', `127.0.0.1:${port}`], waitFor: 'spawned' });
    nodes.push(n);
    expect((await n.exited).code).toBe(2);
    expect(n.logs.find((l) => l.msg === 'proxy listener cannot bind')).toMatchObject({ level: 50, address: `127.0.0.1:${port}`, code: 'EADDRINUSE' });
  });

  it('comes from env and file like every option', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({
      args: ['--upstream', origin.url],
      env: { GRACEFUL_EDGE_MAX_CONNECTIONS: '7', GRACEFUL_EDGE_HEADER_TIMEOUT: '3.5' },
    });
    nodes.push(n);
    expect(n.logs.find((l) => String(l.msg).startsWith('proxy listening'))).toMatchObject({ maxConnections: 7, headerTimeoutMs: 3_500 });

    const file = path.join(cleanups.tempDir(), 'config.json');
    writeFileSync(file, JSON.stringify({ 'max-connections': 9, headerTimeout: 4 }));
    const f = await startNode({ args: ['--upstream', origin.url, '--config', file] });
    nodes.push(f);
    expect(f.logs.find((l) => String(l.msg).startsWith('proxy listening'))).toMatchObject({ maxConnections: 9, headerTimeoutMs: 4_000 });
  });
});
