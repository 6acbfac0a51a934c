/**
 * A request one mesh node forwards to a peer keeps its client's forwarding
 * headers: the peer trusts the hop header only from an address in its routing
 * table. Two real daemons on different loopback addresses (A on 127.0.0.1,
 * B on 127.0.0.2), a client on a third (127.0.0.3), a recording origin
 * behind B; observed at the origin, for a plain request and a WebSocket upgrade.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { peerStatus } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { startOrigin } from '../proxy/support/origin.js';

const { nodes, cleanups } = testScope();
const CLIENT_HOST = '127.0.0.3';

/** A WebSocket from CLIENT_HOST with the given headers; resolves once a message came back through it. */
async function echoFromClient(hostPort: string, path: string, headers: Record<string, string>): Promise<string> {
  const ws = new WebSocket(`ws://${hostPort}${path}`, { headers, localAddress: CLIENT_HOST });
  try {
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    const echoed = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    ws.send('through two nodes');
    return await echoed;
  } finally {
    ws.terminate();
  }
}

/** One GET from CLIENT_HOST with the given headers; resolves with the status. */
function getFromClient(hostPort: string, path: string, headers: Record<string, string>): Promise<number> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port: Number(port), path, headers, localAddress: CLIENT_HOST, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path} timed out`)));
  });
}

describe('forwarding headers across the mesh', () => {
  it('the peer keeps what the first node said about the client; a client sending the hop header itself is not trusted', async () => {
    const origin = cleanups.closing(await startOrigin());
    const aProxy = `127.0.0.1:${await freeTcpPort('127.0.0.1')}`;
    const bProxy = `127.0.0.2:${await freeTcpPort('127.0.0.2')}`;
    const [aMesh, bMesh] = [await freeUdpPort('127.0.0.1'), await freeUdpPort('127.0.0.2')];
    // B knows A from --peer; A has no upstream, so everything it gets goes to B.
    const b = await startNode({ args: ['--node-id', 'node-b', '--listen', bProxy, '--mesh-port', String(bMesh), '--upstream', origin.url, '--peer', `${aProxy}/${aMesh}`] });
    nodes.push(b);
    const a = await startNode({ args: ['--node-id', 'node-a', '--listen', aProxy, '--mesh-port', String(aMesh), '--peer', `${bProxy}/${bMesh}`] });
    nodes.push(a);
    await until('B routable at A', async () => (await peerStatus(a, bProxy)) === 'alive', { timeoutMs: 30_000 });

    // Through A: what the client claims is replaced at the edge (A does not
    // trust it), and what A says survives B.
    const spoof = { host: 'shop.test', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test', forwarded: 'for=6.6.6.6;proto=https' };
    expect(await getFromClient(aProxy, '/via-peer', spoof)).toBe(200);
    const viaPeer = origin.seen.find((r) => r.url === '/via-peer');
    expect(viaPeer?.headers['x-graceful-edge-hop']).toBe('node-a');
    // What A said about the client, kept by B and appended to.
    const firstNodeSaid = {
      'x-forwarded-for': `${CLIENT_HOST}, 127.0.0.1`,
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'shop.test',
      forwarded: `for=${CLIENT_HOST};host=shop.test;proto=http, for=127.0.0.1;host=shop.test;proto=http`,
    };
    expect(viaPeer?.headers).toMatchObject({ ...firstNodeSaid, via: '1.1 node-a, 1.1 node-b' });

    // A WebSocket upgrade through A: the same, on the tunnel's handshake.
    expect(await echoFromClient(aProxy, '/ws-via-peer', spoof)).toBe('through two nodes');
    const wsViaPeer = origin.upgrades.find((r) => r.url === '/ws-via-peer');
    expect(wsViaPeer?.headers['x-graceful-edge-hop']).toBe('node-a');
    expect(wsViaPeer?.headers).toMatchObject({ ...firstNodeSaid, via: '1.1 node-a, 1.1 node-b' });

    // Straight to B with the hop header: the header alone makes no peer.
    expect(await getFromClient(bProxy, '/claims-hop', { ...spoof, 'x-graceful-edge-hop': 'node-a' })).toBe(200);
    const claimed = origin.seen.find((r) => r.url === '/claims-hop');
    expect(claimed?.headers).toMatchObject({
      'x-forwarded-for': CLIENT_HOST,
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'shop.test',
      forwarded: `for=${CLIENT_HOST};host=shop.test;proto=http`,
    });
  });
});
