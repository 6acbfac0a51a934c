/**
 * TLS and HTTP/2 on the proxy listener (issue 10), from outside: curl over
 * h2 and http/1.1 with a self-signed cert made here, bad TLS input refused
 * and counted without harming other clients, bad cert options exit 2, and a
 * SIGTERM during HTTP/2 load: GOAWAY on every session, every accepted stream
 * completed, exit 0, the shutdown record counting the streams.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { metricBy } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { runCli, startNode } from '../helpers/daemon.js';
import { savedState } from '../helpers/saved-state.js';
import { until } from '../helpers/wait.js';
import { delayedBody, slowBody, startOrigin } from '../proxy/support/origin.js';
import { startRecordingOrigin } from '../proxy/support/recording-origin.js';

const run = promisify(execFile);
const { nodes, cleanups } = testScope();

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made by openssl in a
 * temp dir (EC P-256: quick to make even on a busy machine); `other: true`
 * makes a second, unrelated one.
 */
async function selfSigned(opts: { other?: boolean } = {}): Promise<{ cert: string; key: string; dir: string }> {
  const dir = cleanups.tempDir('ge-tls-');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', opts.other ? '/CN=other' : '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert, key, dir };
}

async function curl(args: string[]): Promise<{ status: string; version: string; body: string }> {
  const { stdout } = await run('curl', ['-sk', '--max-time', '10', '-w', '\n%{http_code} %{http_version}', ...args]);
  const nl = stdout.lastIndexOf('\n');
  const [status, version] = stdout.slice(nl + 1).split(' ');
  return { status: status!, version: version!, body: stdout.slice(0, nl) };
}

describe.each(['undici', 'http-proxy'] as const)('TLS and HTTP/2 (engine %s)', (engine) => {
  it('serves curl --http2 and --http1.1 over TLS; upstreams get HTTP/1.1 with X-Forwarded-Proto https', async () => {
    const { cert, key } = await selfSigned();
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--tls-cert', cert, '--tls-key', key, '--proxy-engine', engine] });
    nodes.push(n);
    expect(n.logs.find((l) => typeof l.proxy === 'string' && l.msg === 'proxy listening')).toMatchObject({ tls: true, url: expect.stringMatching(/^https:\/\//) });

    const h2 = await curl(['--http2', `https://${n.proxy}/h2/path?q=1`]);
    expect(h2).toMatchObject({ status: '200', version: '2' });
    expect(JSON.parse(h2.body)).toMatchObject({ method: 'GET', url: '/h2/path?q=1', headers: { 'x-forwarded-proto': 'https', host: n.proxy } });

    const h1 = await curl(['--http1.1', `https://${n.proxy}/h1`]);
    expect(h1).toMatchObject({ status: '200', version: '1.1' });

    const post = await curl(['--http2', '-X', 'POST', '--data-binary', 'body over h2', `https://${n.proxy}/post`]);
    expect(JSON.parse(post.body)).toMatchObject({ method: 'POST', body: 'body over h2' });
    // No pseudo-header leaked upstream.
    expect(Object.keys(origin.seen[0]!.headers).filter((h) => h.startsWith(':'))).toEqual([]);
  });

  it('sends GOAWAY to every HTTP/2 session at SIGTERM; accepted streams complete; exit 0; the record counts them', async () => {
    const { cert, key } = await selfSigned();
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--tls-cert', cert, '--tls-key', key, '--drain-timeout', '15', '--proxy-engine', engine] });
    nodes.push(n);

    const SESSIONS = 3;
    const sessions = Array.from({ length: SESSIONS }, () => {
      const s = http2.connect(`https://${n.proxy}`, { rejectUnauthorized: false });
      s.on('error', () => undefined);
      cleanups.defer(() => s.destroy());
      const goaway = new Promise<{ code: number; last: number }>((resolve) => s.once('goaway', (code, last) => resolve({ code, last })));
      return { s, goaway };
    });
    const get = (s: http2.ClientHttp2Session, p: string) =>
      new Promise<{ status: number; body: string; id: number }>((resolve, reject) => {
        const r = s.request({ ':path': p });
        let status = 0;
        let body = '';
        r.on('response', (h) => (status = Number(h[':status'])));
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => resolve({ status, body, id: r.id ?? -1 }));
        r.on('error', reject);
      });

    // Fast load first (bounded), then two slow streams per session stay open over the signal.
    for (const { s } of sessions) for (let i = 0; i < 5; i++) expect((await get(s, `/fast/${i}`)).status).toBe(200);
    const slow = sessions.flatMap(({ s }) => [get(s, '/slow?ms=4000&chunks=4'), get(s, '/slow?ms=5000&chunks=5')]);
    await until('slow streams in flight at the origin', async () => origin.seen.filter((r) => r.url.startsWith('/slow')).length === SESSIONS * 2, { timeoutMs: 30_000 });

    const t0 = Date.now();
    n.kill('SIGTERM');
    const goaways = await Promise.all(sessions.map((x) => x.goaway));
    const done = await Promise.all(slow);
    for (const g of goaways) expect(g.code).toBe(http2.constants.NGHTTP2_NO_ERROR);
    for (const [i, r] of done.entries()) {
      expect(r.status).toBe(200);
      expect(r.body).toBe(slowBody(i % 2 === 0 ? 4 : 5));
      // Each slow stream was accepted: at or below its session's last-stream-id.
      expect(r.id).toBeLessThanOrEqual(goaways[Math.floor(i / 2)]!.last);
    }
    expect(await n.exited).toEqual({ code: 0, signal: null });
    console.log(`[tls] ${engine}: exit ${Date.now() - t0} ms after SIGTERM, ${SESSIONS} sessions, ${SESSIONS * 2} slow streams`);
    const drained = n.logs.find((l) => l.phase === 'drained');
    expect(drained?.drained).toBe(SESSIONS * 2);
    expect(n.logs.some((l) => l.msg === 'sent GOAWAY to every HTTP/2 session' && l.http2Sessions === SESSIONS)).toBe(true);
    const saved = await savedState(n.dataDir);
    expect(saved.shutdowns.at(-1)).toMatchObject({ drained: SESSIONS * 2, cut: 0 });
  }, 120_000);
});

describe.each(['undici', 'http-proxy'] as const)('HTTP/2 details (engine %s)', (engine) => {
  it('relays 103 Early Hints over HTTP/2 as an informational HEADERS frame', async () => {
    const { cert, key } = await selfSigned();
    const origin = await startRecordingOrigin();
    cleanups.defer(() => origin.close());
    const n = await startNode({ args: ['--upstream', origin.url, '--tls-cert', cert, '--tls-key', key, '--proxy-engine', engine] });
    nodes.push(n);
    const s = http2.connect(`https://${n.proxy}`, { rejectUnauthorized: false });
    cleanups.defer(() => s.destroy());
    const r = s.request({ ':path': '/hints' });
    const info: Array<Record<string, unknown>> = [];
    r.on('headers', (h) => info.push(h));
    const status = await new Promise<number>((resolve) => r.on('response', (h) => resolve(Number(h[':status']))));
    r.resume();
    expect(status).toBe(200);
    expect(info).toEqual([expect.objectContaining({ ':status': 103, link: '</style.css>; rel=preload; as=style' })]);
  });

  it('drains HTTP/1.1 over TLS as before: the delayed answer completes with Connection: close; exit 0', async () => {
    const { cert, key } = await selfSigned();
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--tls-cert', cert, '--tls-key', key, '--drain-timeout', '15', '--proxy-engine', engine] });
    nodes.push(n);
    const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
    cleanups.defer(() => agent.destroy());
    const answer = new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
      https
        .get(`https://${n.proxy}/delay?ms=3000`, { agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
        })
        .on('error', reject);
    });
    await until('the delayed request at the origin', async () => origin.seen.some((r) => r.url.startsWith('/delay')));
    n.kill('SIGTERM');
    const r = await answer;
    // The head goes out after the signal, so it says close, as over plain HTTP/1.1.
    expect(r).toEqual({ status: 200, connection: 'close', body: delayedBody(3000) });
    expect(await n.exited).toEqual({ code: 0, signal: null });
    expect((await savedState(n.dataDir)).shutdowns.at(-1)).toMatchObject({ drained: 1, cut: 0 });
  });

  it('tunnels wss:// over TLS HTTP/1.1 and answers CONNECT with 501 there too', async () => {
    const { cert, key } = await selfSigned();
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--tls-cert', cert, '--tls-key', key, '--proxy-engine', engine] });
    nodes.push(n);
    const ws = new WebSocket(`wss://${n.proxy}/live`, { rejectUnauthorized: false });
    cleanups.defer(() => ws.terminate());
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    const echoed = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    ws.send('over wss');
    expect(await echoed).toBe('over wss');

    const connect = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: Number(n.proxy.split(':')[1]), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () =>
        s.write('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n'),
      );
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
      setTimeout(() => s.destroy(), 3_000);
    });
    expect(connect).toMatch(/^HTTP\/1\.1 501 /);
  });

  it('resets the streams still open at the drain deadline and counts them as cut; exit 0', async () => {
    const { cert, key } = await selfSigned();
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--tls-cert', cert, '--tls-key', key, '--drain-timeout', '2', '--proxy-engine', engine] });
    nodes.push(n);
    const s = http2.connect(`https://${n.proxy}`, { rejectUnauthorized: false });
    s.on('error', () => undefined);
    cleanups.defer(() => s.destroy());
    const streams = [0, 1].map(() => {
      const r = s.request({ ':path': '/slow?ms=20000&chunks=20' });
      r.resume();
      return new Promise<string>((resolve) => {
        r.on('error', () => undefined);
        r.on('close', () => resolve(r.rstCode === 0 && r.readableEnded ? 'ended' : `rst ${r.rstCode}`));
      });
    });
    await until('slow streams at the origin', async () => origin.seen.filter((x) => x.url.startsWith('/slow')).length === 2, { timeoutMs: 30_000 });
    const t0 = Date.now();
    n.kill('SIGTERM');
    const ends = await Promise.all(streams);
    const resetAfter = Date.now() - t0;
    // Reset with CANCEL (8), not ended as if complete.
    expect(ends).toEqual([`rst ${http2.constants.NGHTTP2_CANCEL}`, `rst ${http2.constants.NGHTTP2_CANCEL}`]);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    console.log(`[tls] ${engine}: streams reset ${resetAfter} ms, exit ${Date.now() - t0} ms after SIGTERM (--drain-timeout 2)`);
    const saved = await savedState(n.dataDir);
    expect(saved.shutdowns.at(-1)).toMatchObject({ cut: 2 });
  }, 120_000);
});

describe('bad TLS input and options', () => {
  it('refuses plain HTTP, random bytes, a truncated and an unfinished handshake, counts them, and keeps serving', async () => {
    const { cert, key } = await selfSigned();
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--tls-cert', cert, '--tls-key', key] });
    nodes.push(n);
    const [host, port] = [n.proxy.slice(0, n.proxy.lastIndexOf(':')), Number(n.proxy.slice(n.proxy.lastIndexOf(':') + 1))];
    const send = (bytes: Buffer | string, end = true) =>
      new Promise<string>((resolve) => {
        const s = net.connect(port, host, () => (end ? s.end(bytes) : s.write(bytes)));
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString('latin1')));
        s.on('error', () => undefined);
        s.on('close', () => resolve(got));
        setTimeout(() => s.destroy(), 3_000);
      });

    // A handshake that never finishes: connect and say nothing (runs out the 10 s handshake timeout).
    const silent = net.connect(port, host);
    silent.on('error', () => undefined);
    cleanups.defer(() => silent.destroy());
    const silentClosed = new Promise<void>((r) => silent.once('close', () => r()));

    await send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await send(randomBytes(512));
    // The first 40 bytes of a real ClientHello, then the connection ends.
    const hello = await new Promise<Buffer>((resolve) => {
      const srv = net.createServer((s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy(), srv.close()))).listen(0, '127.0.0.1', () => {
        const c = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
        c.on('error', () => undefined);
      });
    });
    await send(hello.subarray(0, 40));

    // Other clients are unaffected meanwhile.
    expect((await curl(['--http2', `https://${n.proxy}/ok`])).status).toBe('200');
    expect(n.proc.exitCode).toBeNull();

    await silentClosed;
    const failures = await until('every failure counted', async () => {
      const m = await metricBy(n, 'graceful_edge_tls_handshake_failures_total', 'reason');
      return (m.not_tls ?? 0) >= 1 && (m.timeout ?? 0) >= 1 && Object.values(m).reduce((a, b) => a + b, 0) >= 4 ? m : null;
    }, { timeoutMs: 30_000 });
    expect(failures.timeout).toBe(1);
    expect(n.logs.some((l) => l.msg === 'TLS handshake refused' && l.reason === 'not_tls')).toBe(true);
    expect((await curl(['--http1.1', `https://${n.proxy}/still`])).status).toBe('200');
  }, 120_000);

  it('exits 2 naming the option when the cert or key cannot be used', async () => {
    const { cert, key, dir } = await selfSigned();
    const other = await selfSigned({ other: true });
    const garbage = path.join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const cases: Array<[string[], string]> = [
      [['--tls-cert', cert], '--tls-key'],
      [['--tls-key', key], '--tls-cert'],
      [['--tls-cert', path.join(dir, 'missing.pem'), '--tls-key', key], '--tls-cert'],
      [['--tls-cert', garbage, '--tls-key', key], '--tls-cert'],
      [['--tls-cert', cert, '--tls-key', other.key], '--tls-key'],
    ];
    for (const [args, option] of cases) {
      const r = await runCli(['run', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--data-dir', dir, ...args], { timeoutMs: 60_000 });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`invalid ${option}`);
    }
  }, 180_000);
});
