/**
 * A proxy listener that cannot bind (port in use) is a start-up refusal like
 * any other: exit 2, one error line saying why (visible at --log-level warn),
 * and the final `stopped` line carries the reason as `lastError`.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, stopAll } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';

const nodes: NodeProcess[] = [];
const holders: net.Server[] = [];
afterEach(async () => {
  await stopAll(nodes);
  await Promise.all(holders.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A loopback port held by this test for its whole length. */
async function heldPort(): Promise<string> {
  const server = net.createServer();
  holders.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe('proxy listener cannot bind', () => {
  it('exits 2 with one error line naming the reason and address, at --log-level warn', async () => {
    const address = await heldPort();
    const node = await startNode({ args: ['--listen', address, '--log-level', 'warn'], waitFor: 'spawned' });
    nodes.push(node);
    expect((await node.exited).code).toBe(2);

    const errors = node.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ level: 50, msg: 'proxy listener cannot bind', error: 'EADDRINUSE', address });
    expect(node.stderr()).toBe('');
  });

  it('the final stopped line carries lastError', async () => {
    const address = await heldPort();
    const node = await startNode({ args: ['--listen', address], waitFor: 'spawned' });
    nodes.push(node);
    expect((await node.exited).code).toBe(2);

    const stopped = node.logs.find((l) => l.msg === 'stopped');
    expect(stopped).toMatchObject({ exitCode: 2, lastError: `proxy listener ${address}: EADDRINUSE` });
    // Readiness is declared by the bound listener (online.binding): never serving, nothing announced.
    expect(node.logs.filter((l) => l.lifecycle).map((l) => l.lifecycle)).toEqual(['starting', 'restoring', 'persisting', 'stopped']);
    // The error line comes before the chart leaves `online`: the reason is the first thing said.
    const errorAt = node.logs.findIndex((l) => l.msg === 'proxy listener cannot bind');
    const persistingAt = node.logs.findIndex((l) => l.lifecycle === 'persisting');
    expect(errorAt).toBeGreaterThanOrEqual(0);
    expect(errorAt).toBeLessThan(persistingAt);
  });

  it('a clean stop says lastError: null', async () => {
    const node = await startNode();
    nodes.push(node);
    node.kill('SIGTERM');
    expect((await node.exited).code).toBe(0);
    expect(node.logs.find((l) => l.msg === 'stopped')).toMatchObject({ exitCode: 0, lastError: null });
  });
});
