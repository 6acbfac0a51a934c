// A tiny Node origin for the shutdown and mesh sections: /100b, /64k and
// /slow?ms=N (answers after N ms, at most 30 s). Loopback only.
// Usage: node bench/origin.mjs PORT
import http from 'node:http';

const port = Number(process.argv[2] ?? 0);
const small = Buffer.from('x'.repeat(99) + '\n');
const big = Buffer.alloc(65536, 'y');

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://origin');
  const send = (body) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-origin-port': String(server.address().port) });
    res.end(body);
  };
  if (url.pathname === '/64k') return send(big);
  if (url.pathname === '/slow') {
    const ms = Math.min(30_000, Math.max(0, Number(url.searchParams.get('ms') ?? 100)));
    const t = setTimeout(() => send(small), ms);
    res.on('close', () => clearTimeout(t));
    return;
  }
  send(small);
});
server.keepAliveTimeout = 75_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
