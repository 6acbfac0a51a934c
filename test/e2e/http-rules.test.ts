/**
 * The HTTP/1.1 rules the proxy enforces (RFC 9110 / RFC 9112), from outside:
 * raw bytes in on a socket, the exact bytes the origin received recorded by a
 * raw `net` origin, for both engines. Each case was found by sending the same
 * raw requests through NGINX and this proxy (issue 10).
 */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { adminState, metricBy } from '../helpers/admin.js';
import { startNode, stopAll } from '../helpers/daemon.js';
import { freeTcpPort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { exchange, okCount, startRecordingOrigin, statuses, upgrade } from '../proxy/support/recording-origin.js';
import type { RecordedRequest, RecordingOrigin } from '../proxy/support/recording-origin.js';

const answered = (t: string) => /\r\n\r\n(ok|\{.*\})$/s.test(t);
/** A WebSocket upgrade request head (RFC 6455 §4.1) with `extra` header lines. */
const upgradeHead = (path: string, extra: string) =>
  `GET ${path} HTTP/1.1\r\n${extra}Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

describe.each(['undici', 'http-proxy'] as const)('HTTP/1.1 proxy rules (engine %s)', (engine) => {
  let origin: RecordingOrigin;
  let node: NodeProcess;
  let trusting: NodeProcess;
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    origin = await startRecordingOrigin();
    node = await startNode({ args: ['--upstream', origin.url, '--proxy-engine', engine] });
    trusting = await startNode({ args: ['--upstream', origin.url, '--proxy-engine', engine, '--trusted-proxy', '127.0.0.0/8', '--trusted-proxy', '::1'] });
    nodes.push(node, trusting);
  }, 30_000);
  afterAll(async () => {
    await stopAll(nodes);
    await origin.close();
  });

  /** A node whose upstream is its own listener: every request it forwards comes back to it. */
  async function loopingNode(nodeId: string): Promise<NodeProcess> {
    const self = `127.0.0.1:${await freeTcpPort()}`;
    const looping = await startNode({ args: ['--listen', self, '--upstream', `http://${self}`, '--proxy-engine', engine, '--node-id', nodeId] });
    nodes.push(looping);
    return looping;
  }

  /** The loop was refused on its first echo (logged, counted), and nothing more came: no flood of self-connections. */
  async function refusedOneEcho(looping: NodeProcess, clientOutcome: string): Promise<void> {
    const line = await looping.waitForLog((l) => l.msg === 'request refused by an HTTP rule' && l.rule === 'loop-detected');
    expect(line).toMatchObject({ status: 508 });
    await until('both passes counted', async () => {
      const outcomes = await metricBy(looping, 'graceful_edge_requests_total', 'outcome');
      return outcomes[clientOutcome] === 1 && outcomes['loop_detected'] === 1;
    });
    const outcomes = await metricBy(looping, 'graceful_edge_requests_total', 'outcome');
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(2);
  }

  /** The origin's requests that arrive while `fn` runs. */
  async function reaching(fn: () => Promise<unknown>): Promise<RecordedRequest[]> {
    const before = origin.requests.length;
    await fn();
    // The origin may get a request just after the client's answer was read.
    await new Promise((r) => setTimeout(r, 100));
    return origin.requests.slice(before);
  }

  it('ignores an h2c upgrade offer and answers it as a plain request, keeping the connection (RFC 9110 §7.8)', async () => {
    let ex!: Awaited<ReturnType<typeof exchange>>;
    const seen = await reaching(async () => {
      ex = await exchange(
        node.proxy,
        'GET /up HTTP/1.1\r\nHost: test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n' +
          'GET /after HTTP/1.1\r\nHost: test\r\n\r\n',
        { doneWhen: (t) => okCount(t) === 2 },
      );
    });
    expect(statuses(ex.text)).toEqual([200, 200]);
    expect(ex.closed).toBe(false);
    expect(seen.map((r) => r.line)).toEqual(['GET /up HTTP/1.1', 'GET /after HTTP/1.1']);
    expect(seen[0]!.headers.has('upgrade')).toBe(false);
    expect(seen[0]!.headers.has('http2-settings')).toBe(false);
  });

  it('answers 400 to two Host lines and closes, forwarding nothing (RFC 9112 §3.2)', async () => {
    let ex!: Awaited<ReturnType<typeof exchange>>;
    const seen = await reaching(async () => {
      ex = await exchange(node.proxy, 'GET /two-hosts HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n');
    });
    expect(statuses(ex.text)).toEqual([400]);
    expect(ex.text).toMatch(/duplicate-host/);
    expect(ex.text.toLowerCase()).toMatch(/connection: close/);
    expect(ex.closed).toBe(true);
    expect(seen).toEqual([]);
  });

  it('answers 400 and closes for Transfer-Encoding on HTTP/1.0, 501 for an unknown coding (RFC 9112 §6.1)', async () => {
    let http10!: Awaited<ReturnType<typeof exchange>>;
    let gzip!: Awaited<ReturnType<typeof exchange>>;
    const seen = await reaching(async () => {
      http10 = await exchange(node.proxy, 'POST /te10 HTTP/1.0\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
      gzip = await exchange(node.proxy, 'POST /gzip HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    });
    expect(statuses(http10.text)).toEqual([400]);
    expect(http10.closed).toBe(true);
    expect(statuses(gzip.text)).toEqual([501]);
    expect(gzip.text).toMatch(/unknown-transfer-coding/);
    expect(gzip.closed).toBe(true);
    expect(seen).toEqual([]);
    const outcomes = await metricBy(node, 'graceful_edge_requests_total', 'outcome');
    expect(outcomes.bad_request).toBeGreaterThanOrEqual(2);
    expect(outcomes.not_implemented).toBeGreaterThanOrEqual(1);
    expect(node.logs.some((l) => l.msg === 'request refused by an HTTP rule' && l.rule === 'transfer-encoding-http10')).toBe(true);
  });

  it('forwards the request target byte for byte: OPTIONS *, absolute-form, dot segments and quotes (RFC 9110 §7.7, RFC 9112 §3.2)', async () => {
    const targets = [
      ['OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n', 'OPTIONS * HTTP/1.1'],
      ["GET http://example.test/a/%2e%2e/b/%7E'x?q=%41&r=' HTTP/1.1\r\nHost: test\r\n\r\n", "GET /a/%2e%2e/b/%7E'x?q=%41&r=' HTTP/1.1"],
      ['GET http://example.test?only=query HTTP/1.1\r\nHost: test\r\n\r\n', 'GET /?only=query HTTP/1.1'],
      ["GET /a/./b/../c/%7e'd?x=%7e&y=a+b& HTTP/1.1\r\nHost: test\r\n\r\n", "GET /a/./b/../c/%7e'd?x=%7e&y=a+b& HTTP/1.1"],
      ['GET //double//slash? HTTP/1.1\r\nHost: test\r\n\r\n', 'GET //double//slash? HTTP/1.1'],
    ] as const;
    for (const [bytes, line] of targets) {
      let ex!: Awaited<ReturnType<typeof exchange>>;
      const seen = await reaching(async () => {
        ex = await exchange(node.proxy, bytes, { doneWhen: answered });
      });
      expect(statuses(ex.text), line).toEqual([200]);
      expect(seen.map((r) => r.line), line).toEqual([line]);
      // An absolute-form target names the host (RFC 9112 §3.2.2).
      if (bytes.startsWith('GET http://')) expect(seen[0]!.headers.get('host')).toEqual(['example.test']);
    }
  });

  it('relays 103 Early Hints and 102 before the final answer (RFC 9110 §15.2), not to HTTP/1.0', async () => {
    const hints = await exchange(node.proxy, 'GET /hints HTTP/1.1\r\nHost: test\r\n\r\n', { doneWhen: (t) => okCount(t) === 1 });
    expect(statuses(hints.text)).toEqual([103, 200]);
    expect(hints.text).toMatch(/HTTP\/1\.1 103 Early Hints\r\n(.*\r\n)*[Ll]ink: <\/style.css>; rel=preload; as=style\r\n/);
    const processing = await exchange(node.proxy, 'GET /processing HTTP/1.1\r\nHost: test\r\n\r\n', { doneWhen: (t) => okCount(t) === 1 });
    expect(statuses(processing.text)).toEqual([102, 200]);
    const old = await exchange(node.proxy, 'GET /hints HTTP/1.0\r\nHost: test\r\n\r\n', { doneWhen: (t) => okCount(t) === 1 });
    expect(statuses(old.text)).toEqual([200]);
  });

  it('answers CONNECT with 501 instead of a bare close (RFC 9110 §9.1)', async () => {
    const seen = await reaching(async () => {
      const ex = await exchange(node.proxy, 'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
      expect(statuses(ex.text)).toEqual([501]);
      expect(ex.text).toMatch(/\r\ndate: /i);
      expect(ex.closed).toBe(true);
    });
    expect(seen).toEqual([]);
  });

  it('adds Date to a relayed 101 that lacks it (RFC 9110 §6.6.1)', async () => {
    const ex = await exchange(
      node.proxy,
      'GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      { doneWhen: (t) => t.includes('\r\n\r\n') },
    );
    expect(statuses(ex.text)).toEqual([101]);
    expect(ex.text).toMatch(/\r\ndate: \w{3}, \d{2} \w{3} \d{4} /i);
  });

  it('sets X-Forwarded-Proto/-Host and Forwarded from what it saw, ignoring a client’s values', async () => {
    const seen = await reaching(() =>
      exchange(node.proxy, 'GET /spoof HTTP/1.1\r\nHost: real.test\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nForwarded: for=6.6.6.6;proto=https\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n', { doneWhen: answered }),
    );
    const h = seen[0]!.headers;
    expect(h.get('x-forwarded-proto')).toEqual(['http']);
    expect(h.get('x-forwarded-host')).toEqual(['real.test']);
    expect(h.get('forwarded')).toEqual(['for=127.0.0.1;host=real.test;proto=http']);
    // X-Forwarded-For is appended to (origins read it from the right).
    expect(h.get('x-forwarded-for')).toEqual(['6.6.6.6, 127.0.0.1']);
  });

  it('keeps a --trusted-proxy’s X-Forwarded-* and appends to its Forwarded', async () => {
    const seen = await reaching(() =>
      exchange(trusting.proxy, 'GET /lb HTTP/1.1\r\nHost: real.test:8443\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.test\r\nForwarded: for=203.0.113.9;proto=https\r\n\r\n', { doneWhen: answered }),
    );
    const h = seen[0]!.headers;
    expect(h.get('x-forwarded-proto')).toEqual(['https']);
    expect(h.get('x-forwarded-host')).toEqual(['shop.test']);
    expect(h.get('forwarded')).toEqual(['for=203.0.113.9;proto=https, for=127.0.0.1;host="real.test:8443";proto=http']);
  });

  it('adds itself to Via, after what the client sent (RFC 9110 §7.6.3)', async () => {
    const nodeId = String(node.logs.find((l) => typeof l.nodeId === 'string')!.nodeId);
    const seen = await reaching(() => exchange(node.proxy, 'GET /via HTTP/1.1\r\nHost: test\r\nVia: 1.0 lb.example\r\n\r\n', { doneWhen: answered }));
    expect(seen[0]!.headers.get('via')).toEqual([`1.0 lb.example, 1.1 ${nodeId}`]);
    const plain = await reaching(() => exchange(node.proxy, 'GET /via10 HTTP/1.0\r\nHost: test\r\n\r\n', { doneWhen: answered }));
    expect(plain[0]!.headers.get('via')).toEqual([`1.0 ${nodeId}`]);
  });

  it('answers 508 to a request that comes back through the node (its upstream is its own listener), after one loop', async () => {
    const looping = await loopingNode('loop-node');
    const ex = await exchange(looping.proxy, 'GET /loop HTTP/1.1\r\nHost: test\r\n\r\n', { doneWhen: answered });
    expect(statuses(ex.text)).toEqual([508]);
    expect(ex.text).toMatch(/"rule":"loop-detected"/);
    // The client's request (relayed the 508: ok) and its one echo.
    await refusedOneEcho(looping, 'ok');
  });

  it('gives a WebSocket upgrade the same forwarding headers as any request, and still tunnels both ways', async () => {
    const nodeId = String(node.logs.find((l) => typeof l.nodeId === 'string')!.nodeId);
    let up!: Awaited<ReturnType<typeof upgrade>>;
    const seen = await reaching(async () => {
      up = await upgrade(
        node.proxy,
        upgradeHead(
          '/ws-spoof',
          'Host: real.test\r\nConnection: keep-alive, Upgrade, X-Private\r\nX-Private: 1\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n' +
            'X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nForwarded: for=6.6.6.6;proto=https\r\nX-Forwarded-For: 6.6.6.6\r\nVia: 1.0 lb.example\r\n',
        ),
        'frame bytes through the tunnel',
      );
    });
    expect(statuses(up.head)).toEqual([101]);
    expect(up.echoed).toBe('frame bytes through the tunnel');
    expect(seen.map((r) => r.line)).toEqual(['GET /ws-spoof HTTP/1.1']);
    const h = seen[0]!.headers;
    expect(h.get('x-forwarded-for')).toEqual(['6.6.6.6, 127.0.0.1']);
    expect(h.get('x-forwarded-proto')).toEqual(['http']);
    expect(h.get('x-forwarded-host')).toEqual(['real.test']);
    expect(h.get('forwarded')).toEqual(['for=127.0.0.1;host=real.test;proto=http']);
    expect(h.get('via')).toEqual([`1.0 lb.example, 1.1 ${nodeId}`]);
    // The handshake's own fields cross; this hop's do not.
    expect(h.get('connection')).toEqual(['Upgrade']);
    expect(h.get('upgrade')).toEqual(['websocket']);
    expect(h.get('sec-websocket-key')).toEqual(['dGhlIHNhbXBsZSBub25jZQ==']);
    expect(h.get('sec-websocket-version')).toEqual(['13']);
    for (const name of ['x-private', 'proxy-authorization', 'x-forwarded-port']) expect(h.has(name), name).toBe(false);
  });

  it('relays an origin’s refusal of a WebSocket upgrade (403, chunked) without its hop-by-hop fields, saying Connection: close, then closes', async () => {
    const up = await upgrade(node.proxy, upgradeHead('/ws-refused', 'Host: test\r\nConnection: Upgrade\r\n'), 'never sent');
    expect(statuses(up.head)).toEqual([403]);
    expect(up.echoed).toBeNull();
    const head = up.head.toLowerCase();
    expect(head).not.toMatch(/x-secret|timeout=77|keep-alive/);
    expect(head).toMatch(/\r\nconnection: close(\r\n|$)/);
    expect(head).toMatch(/\r\nx-kept: yes\r\n/);
    expect(head).toMatch(/\r\ntransfer-encoding: chunked(\r\n|$)/);
    // One framing, re-encoded by this hop: the body decodes to the origin's, and the answer ends.
    expect(up.text.slice(up.head.length + 4)).toBe('5\r\nnope!\r\n0\r\n\r\n');
  });

  it('keeps a --trusted-proxy’s X-Forwarded-* on a WebSocket upgrade, as on any request', async () => {
    let up!: Awaited<ReturnType<typeof upgrade>>;
    const seen = await reaching(async () => {
      up = await upgrade(
        trusting.proxy,
        upgradeHead('/ws-lb', 'Host: real.test:8443\r\nConnection: Upgrade\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.test\r\nForwarded: for=203.0.113.9;proto=https\r\nX-Forwarded-For: 203.0.113.9\r\n'),
        'x',
      );
    });
    expect(statuses(up.head)).toEqual([101]);
    expect(up.echoed).toBe('x');
    const h = seen[0]!.headers;
    expect(h.get('x-forwarded-for')).toEqual(['203.0.113.9, 127.0.0.1']);
    expect(h.get('x-forwarded-proto')).toEqual(['https']);
    expect(h.get('x-forwarded-host')).toEqual(['shop.test']);
    expect(h.get('forwarded')).toEqual(['for=203.0.113.9;proto=https, for=127.0.0.1;host="real.test:8443";proto=http']);
  });

  it('refuses a WebSocket upgrade with two Host lines like any request, forwarding nothing', async () => {
    let up!: Awaited<ReturnType<typeof upgrade>>;
    const seen = await reaching(async () => {
      up = await upgrade(node.proxy, upgradeHead('/ws-two-hosts', 'Host: a.test\r\nHost: b.test\r\nConnection: Upgrade\r\n'), 'never tunnelled');
    });
    expect(statuses(up.text)).toEqual([400]);
    expect(up.text).toMatch(/"rule":"duplicate-host"/);
    expect(up.text).toMatch(/\r\ndate: /i);
    expect(up.echoed).toBeNull();
    expect(seen).toEqual([]);
  });

  it('answers 508 to a WebSocket upgrade that comes back through the node, after one loop', async () => {
    const looping = await loopingNode('ws-loop-node');
    const up = await upgrade(looping.proxy, upgradeHead('/ws-loop', 'Host: test\r\nConnection: Upgrade\r\n'), 'never tunnelled');
    expect(statuses(up.text)).toEqual([508]);
    expect(up.echoed).toBeNull();
    expect(up.text).toMatch(/"rule":"loop-detected"/);
    // The client's upgrade (its tunnel closed after relaying the 508) and its one echo.
    await refusedOneEcho(looping, 'websocket_closed');
    expect((await adminState(looping)).inFlightWebSockets).toBe(0);
  });

  it('drops Connection-named and proxy hop-by-hop fields both ways', async () => {
    let ex!: Awaited<ReturnType<typeof exchange>>;
    const seen = await reaching(async () => {
      ex = await exchange(
        node.proxy,
        'GET /hop HTTP/1.1\r\nHost: test\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n' +
          'Proxy-Connection: keep-alive\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nX-Public: 1\r\n\r\n',
        { doneWhen: answered },
      );
    });
    const sent = seen[0]!.headers;
    for (const name of ['x-private', 'proxy-authorization', 'proxy-connection', 'keep-alive', 'te']) expect(sent.has(name), name).toBe(false);
    expect(sent.get('x-public')).toEqual(['1']);
    const head = ex.text.slice(0, ex.text.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).not.toMatch(/x-secret|proxy-authenticate|timeout=77/);
    expect(head).toMatch(/x-kept: yes/);
  });

  it('refuses request smuggling shapes with 400 and a close, forwarding nothing', async () => {
    const shapes = {
      'CL + TE': 'POST /s HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'conflicting CLs': 'POST /s HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      'bad chunk size': 'POST /s HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      'obs-fold': 'GET /s HTTP/1.1\r\nHost: test\r\nX-A: b\r\n c\r\n\r\n',
      'space before colon': 'GET /s HTTP/1.1\r\nHost: test\r\nX-A : b\r\n\r\n',
    };
    for (const [shape, bytes] of Object.entries(shapes)) {
      let ex!: Awaited<ReturnType<typeof exchange>>;
      const seen = await reaching(async () => {
        ex = await exchange(node.proxy, bytes);
      });
      expect(statuses(ex.text), shape).toEqual([400]);
      expect(ex.closed, shape).toBe(true);
      // A complete request must not reach the origin (a bad chunk may start one that never completes).
      expect(seen.filter((r) => r.body.length > 0 || r.line.startsWith('GET')), shape).toEqual([]);
    }
    // A broken body once raised an uncaught exception in the http-proxy engine, which shut the node down.
    await new Promise((r) => setTimeout(r, 200));
    expect(node.logs.filter((l) => (l.level ?? 0) >= 50)).toEqual([]);
    expect(statuses((await exchange(node.proxy, 'GET /still HTTP/1.1\r\nHost: test\r\n\r\n', { doneWhen: answered })).text)).toEqual([200]);
  });
});
