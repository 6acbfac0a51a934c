// The runtime's ceiling: the smallest useful undici reverse proxy (one Pool,
// stream() straight into the response, nothing else). The bench prints it as
// a row so graceful-edge's figures read as a fraction of what Node can do.
//   node bench/bare-proxy.mjs <listen-port> <origin-url>
import http from 'node:http';
import { Pool } from 'undici';

const [port, origin] = process.argv.slice(2);
const pool = new Pool(origin, { connections: 128, keepAliveTimeout: 4_000 });
http
  .createServer((req, res) => {
    pool
      .stream({ path: req.url, method: req.method, headers: req.headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, ({ statusCode, headers }) => {
        res.writeHead(statusCode, headers);
        return res;
      })
      .catch(() => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  })
  .listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
// A normal exit on SIGTERM, so --cpu-prof can write its profile.
process.on('SIGTERM', () => process.exit(0));
