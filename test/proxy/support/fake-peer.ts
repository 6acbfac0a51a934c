/**
 * A stand-in for a peer in the middle of its drain: it reads the request and
 * answers the draining 503 a graceful-edge node sends once its listener has
 * closed. (A real node only answers it on a connection opened before, which
 * a test cannot time reliably.)
 */
import http from 'node:http';
import type net from 'node:net';
import type { Seen } from './origin.js';

export async function startDrainingPeer(): Promise<{ address: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1', connection: 'close', 'x-graceful-edge-draining': '1' });
      res.end('{"error":"this node is shutting down"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
