/** Both engines behind the one interface, against a real origin on loopback. */
import http from 'node:http';
import type net from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/proxy/area.js';
import { ForwardError } from '../../src/proxy/forward-engine.js';
import type { ForwardAttempt, ResponseBody, Target } from '../../src/proxy/forward-engine.js';
import { freeTcpPort } from '../helpers/ports.js';
import { startOrigin } from './support/origin.js';
import type { Origin } from './support/origin.js';

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(() => origin.close());

/** Runs one forward inside a real server handler, so incoming/response are genuine. */
async function viaServer<T>(fn: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<T>, body?: string, path = '/x'): Promise<T> {
  let result!: Promise<T>;
  const server = http.createServer((req, res) => {
    result = fn(req, res);
    result.finally(() => res.end('done')).catch(() => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await fetch(`http://127.0.0.1:${port}${path}`, { method: body ? 'POST' : 'GET', body }).then((r) => r.text());
  server.close();
  return result;
}

/** A relayed body, collected through the same pipeTo the forwarder uses. */
function bodyText(body: ResponseBody): Promise<string> {
  const sink = new PassThrough();
  const collected = text(sink);
  return new Promise((resolve, reject) => body.pipeTo(sink, (e) => (e ? reject(e) : resolve(collected))));
}

function attempt(target: Target, req: http.IncomingMessage, res: http.ServerResponse, body: Readable | null, signal = new AbortController().signal): ForwardAttempt {
  return { target, incoming: req, response: res, headers: { host: 'test', 'x-test': '1', ...(body ? { 'content-type': 'text/plain' } : {}) }, body, signal };
}

describe.each(['undici', 'http-proxy'] as const)('engine %s', (name) => {
  it('streams a body in and the response out', async () => {
    const engine = createEngine(name);
    const target: Target = { key: origin.url, kind: 'upstream', url: new URL(`${origin.url}/base`) };
    const out = await viaServer(async (req, res) => {
      const r = await engine.forward(attempt(target, req, res, Readable.from([Buffer.from('a'), Buffer.from('bc')])));
      return { status: r.status, body: JSON.parse(await bodyText(r.body)) as Record<string, unknown> };
    }, 'abc', '/p?q=1');
    expect(out.status).toBe(200);
    expect(out.body).toMatchObject({ method: 'POST', url: '/base/p?q=1', body: 'abc', headers: { 'x-test': '1' } });
    await engine.close();
  });

  it('reports a refused connection as `refused` (safe to retry)', async () => {
    const engine = createEngine(name);
    const port = await freeTcpPort();
    const target: Target = { key: 'dead', kind: 'upstream', url: new URL(`http://127.0.0.1:${port}/`) };
    const err = await viaServer((req, res) => engine.forward(attempt(target, req, res, null)).then(() => null, (e: unknown) => e));
    expect(err).toBeInstanceOf(ForwardError);
    expect(err).toMatchObject({ failure: 'refused', code: 'ECONNREFUSED' });
    await engine.close();
  });

  it('reports an abort as `aborted`', async () => {
    const engine = createEngine(name);
    const target: Target = { key: origin.url, kind: 'upstream', url: new URL(`${origin.url}/`) };
    const err = await viaServer((req, res) => {
      const ac = new AbortController();
      setTimeout(() => ac.abort('test'), 100);
      return engine.forward(attempt(target, req, res, null, ac.signal)).then(() => null, (e: unknown) => e);
    }, undefined, '/hang');
    expect(err).toMatchObject({ failure: 'aborted' });
    await engine.close();
  });
});
