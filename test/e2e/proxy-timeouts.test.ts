/**
 * Whose clock is it (issue 11 item 4): the target timeout starts once the
 * request body has been sent, so slow uploads to a healthy upstream succeed
 * and never open its breaker; a client that stops sending its body gets 408
 * after --request-body-timeout, and that is not the target's failure either.
 * And (issue 8) a 304 that carries Content-Length reaches the client.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { breakersOf, metricBy } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { startOrigin } from '../proxy/support/origin.js';

const { nodes, cleanups } = testScope();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A chunked POST whose body arrives in `chunks` pieces `gapMs` apart; with `stallAfter`, it stops sending after that many. */
function slowPost(url: string, { chunks, gapMs, stallAfter }: { chunks: number; gapMs: number; stallAfter?: number }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'text/plain', connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        req.destroy();
      });
    });
    req.on('error', reject);
    let sent = 0;
    const next = () => {
      if (req.destroyed) return;
      if (stallAfter !== undefined && sent >= stallAfter) return; // the client goes quiet
      if (sent === chunks) return void req.end();
      req.write(`part-${sent++};`);
      setTimeout(next, gapMs);
    };
    next();
  });
}

/** One GET on a fresh connection: status, headers and body, or the socket error. */
function get(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** A raw origin that answers every request with a 304 carrying Content-Length (as RFC 9110 §8.6 allows) on a kept-alive connection. */
async function notModifiedOrigin() {
  const server = net.createServer((socket) => {
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
        socket.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\nCache-Control: max-age=60\r\n\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe.each(['undici', 'http-proxy'] as const)('target and request-body timeouts (engine %s)', (engine) => {
  it('5 slow uploads longer than --target-timeout succeed and leave the breaker closed', async () => {
    const o = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', o.url, '--target-timeout', '1', '--request-body-timeout', '5', '--proxy-engine', engine] });
    nodes.push(n);
    // Each body takes ~2.4 s to arrive: well past the 1 s target timeout.
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => slowPost(`${n.proxyUrl}/upload/${i}`, { chunks: 4, gapMs: 600 })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(JSON.parse(answers[0]!.body)).toMatchObject({ method: 'POST', body: 'part-0;part-1;part-2;part-3;' });
    expect(await breakersOf(n)).toEqual([{ target: o.url, state: 'closed' }]);
    // The target's own clock still runs once the body is in: a target that never answers is a 504.
    const started = Date.now();
    const hang = await slowPost(`${n.proxyUrl}/hang`, { chunks: 2, gapMs: 700 });
    expect(hang.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400 + 900);
  });

  it('a client that stops sending its body gets 408; five of them do not open the breaker', async () => {
    const o = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', o.url, '--target-timeout', '1', '--request-body-timeout', '1', '--proxy-engine', engine] });
    nodes.push(n);
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => slowPost(`${n.proxyUrl}/stall/${i}`, { chunks: 10, gapMs: 100, stallAfter: 2 })));
    expect(answers.map((a) => a.status)).toEqual([408, 408, 408, 408, 408]);
    expect(answers[0]!.headers.connection).toBe('close');
    expect(JSON.parse(answers[0]!.body)).toEqual({ error: 'request body timeout' });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(await breakersOf(n)).toEqual([{ target: o.url, state: 'closed' }]);
    expect((await get(`${n.proxyUrl}/after`)).status).toBe(200);
    expect((await metricBy(n, 'graceful_edge_requests_total', 'outcome')).body_timeout).toBe(5);
  });

  it('relays a 304 that carries Content-Length, and the connection keeps serving', async () => {
    const origin = cleanups.closing(await notModifiedOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--proxy-engine', engine] });
    nodes.push(n);
    for (let i = 0; i < 3; i++) {
      const r = await get(`${n.proxyUrl}/cached/${i}`);
      expect(r.status).toBe(304);
      expect(r.headers.etag).toBe('"v1"');
      expect(r.body).toBe('');
    }
    await sleep(50);
    expect(await breakersOf(n)).toEqual([{ target: origin.url, state: 'closed' }]);
  });
});
