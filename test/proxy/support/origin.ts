/** A real origin server on 127.0.0.1:0 that records what reached it. */
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer } from 'ws';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Origin {
  url: string;
  port: number;
  seen: Seen[];
  /** WebSocket upgrade requests that reached the origin (not in `seen`). */
  upgrades: Seen[];
  /** Close codes the origin's WebSocket connections ended with. */
  wsCloses: number[];
  close(): Promise<void>;
}

/**
 * Routes: `/slow?ms=&chunks=` streams a known body over `ms` (the first chunk
 * at once); `/delay?ms=` answers in one piece after `ms`, headers included;
 * `/hang` never answers (nor does a WebSocket upgrade for it); `/reset` drops
 * the connection; anything else echoes the request as JSON. Other WebSocket
 * upgrades echo messages. A slow or delayed
 * answer whose client went away stops there.
 */
export async function startOrigin(opts: { status?: number; headers?: Record<string, string> } = {}): Promise<Origin> {
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/slow') {
        const ms = Number(u.searchParams.get('ms') ?? 3000);
        const n = Number(u.searchParams.get('chunks') ?? 10);
        res.writeHead(200, { 'content-type': 'text/plain' });
        let i = 0;
        let timer: NodeJS.Timeout | undefined;
        const tick = () => {
          res.write(`chunk-${i}\n`);
          if (++i === n) return res.end('end\n');
          timer = setTimeout(tick, ms / n);
        };
        res.on('close', () => clearTimeout(timer));
        tick();
        return;
      }
      if (u.pathname === '/delay') {
        const ms = Number(u.searchParams.get('ms') ?? 3000);
        const timer = setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(delayedBody(ms));
        }, ms);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      if (u.pathname === '/hang') return;
      if (u.pathname === '/reset') return req.socket.destroy();
      const text = JSON.stringify({ method: req.method, url: req.url, body, headers: req.headers });
      res.writeHead(opts.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...opts.headers });
      res.end(text);
    });
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });
  const upgrades: Seen[] = [];
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    upgrades.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
    // An upgrade for /hang is never answered either (the socket stays open).
    if (new URL(req.url ?? '/', 'http://x').pathname === '/hang') {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  const wsCloses: number[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
    ws.on('close', (code) => wsCloses.push(code));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    upgrades,
    wsCloses,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        for (const s of sockets) s.destroy();
        wss.close();
        server.close(() => resolve());
      }),
  };
}

/** The delay route's body. */
export function delayedBody(ms: number): string {
  return `answered after ${ms} ms\n`;
}

/** The slow route's full body, for comparing what a client received. */
export function slowBody(chunks: number): string {
  let s = '';
  for (let i = 0; i < chunks; i++) s += `chunk-${i}\n`;
  return `${s}end\n`;
}
