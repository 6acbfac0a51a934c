/**
 * An origin that records the exact bytes of each request it received (a raw
 * `net` server, so nothing is normalised on the way in) and answers by path:
 * `/hints` sends 103 Early Hints then 200; `/processing` 102 then 200;
 * `/hop` answers with hop-by-hop fields that must not reach the client;
 * a WebSocket upgrade gets a 101 without `Date` (to `/ws-refused`, a chunked
 * 403 with hop-by-hop fields), after which every byte
 * that arrives is sent back as it came (a raw echo); anything else `200 ok`.
 */
import net from 'node:net';

export interface RecordedRequest {
  /** The request line, e.g. `GET /x HTTP/1.1`. */
  line: string;
  /** Header lines as received, in order, `name: value`. */
  headerLines: string[];
  /** Lower-cased name → values. */
  headers: Map<string, string[]>;
  body: Buffer;
}

export interface RecordingOrigin {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

function answerFor(r: RecordedRequest): string[] {
  const path = r.line.split(' ')[1] ?? '';
  if ((r.headers.get('upgrade') ?? []).some((u) => /websocket/i.test(u))) {
    if (path.startsWith('/ws-refused')) {
      // Not a WebSocket endpoint: an ordinary answer, chunked, with this hop's own fields.
      return [
        'HTTP/1.1 403 Forbidden\r\nConnection: keep-alive, X-Secret\r\nX-Secret: only-for-this-hop\r\nKeep-Alive: timeout=77\r\n' +
          'X-Kept: yes\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\n\r\n',
      ];
    }
    return ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'];
  }
  const ok = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok';
  if (path.startsWith('/hints')) return ['HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n', ok];
  if (path.startsWith('/processing')) return ['HTTP/1.1 102 Processing\r\n\r\n', ok];
  if (path.startsWith('/hop')) {
    return [
      'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nX-Secret: only-for-this-hop\r\nKeep-Alive: timeout=77\r\n' +
        'Proxy-Authenticate: Basic realm="origin"\r\nX-Kept: yes\r\ncontent-length: 2\r\n\r\nok',
    ];
  }
  return [ok];
}

/** Parses complete requests off the front of `buf`; returns them and the rest. */
function takeRequests(buf: Buffer): { done: RecordedRequest[]; rest: Buffer } {
  const done: RecordedRequest[] = [];
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [line, ...headerLines] = buf.subarray(0, end).toString('latin1').split('\r\n');
    const headers = new Map<string, string[]>();
    for (const h of headerLines) {
      const c = h.indexOf(':');
      const name = h.slice(0, c).trim().toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), h.slice(c + 1).trim()]);
    }
    let bodyEnd = end + 4;
    const cl = headers.get('content-length')?.[0];
    if (cl !== undefined) {
      if (buf.length < bodyEnd + Number(cl)) break;
      bodyEnd += Number(cl);
    } else if (/chunked/i.test(headers.get('transfer-encoding')?.[0] ?? '')) {
      const term = buf.indexOf('0\r\n\r\n', bodyEnd);
      if (term < 0) break;
      bodyEnd = term + 5;
    }
    done.push({ line: line!, headerLines, headers, body: buf.subarray(end + 4, bodyEnd) });
    buf = buf.subarray(bodyEnd);
  }
  return { done, rest: buf };
}

export async function startRecordingOrigin(): Promise<RecordingOrigin> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf: Buffer = Buffer.alloc(0);
    let upgraded = false;
    s.on('data', (d: Buffer) => {
      if (upgraded) return void s.write(d);
      const { done, rest } = takeRequests(Buffer.concat([buf, d]));
      buf = rest;
      for (const r of done) {
        requests.push(r);
        const parts = answerFor(r);
        if (parts[0]!.startsWith('HTTP/1.1 101')) {
          // The proxy relays tunnel bytes only after this 101, never with the request.
          upgraded = true;
          s.write(parts[0]!);
          return;
        }
        // Informational heads go out a moment before the final answer, as a real origin would.
        parts.forEach((p, i) => (i === 0 ? s.write(p) : setTimeout(() => s.writable && s.write(p), 50 * i)));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Exchange {
  /** Everything the proxy sent back, as latin1 text. */
  text: string;
  /** True when the proxy closed the connection (within the wait). */
  closed: boolean;
}

/**
 * Sends `bytes` on a fresh connection and collects the answer until the proxy
 * closes the connection, or `waitMs` after `doneWhen` matched (or the wait ran out).
 */
export function exchange(hostPort: string, bytes: string, opts: { waitMs?: number; doneWhen?: (text: string) => boolean } = {}): Promise<Exchange> {
  const i = hostPort.lastIndexOf(':');
  const waitMs = opts.waitMs ?? 3_000;
  return new Promise((resolve) => {
    const s = net.connect(Number(hostPort.slice(i + 1)), hostPort.slice(0, i), () => s.write(bytes, 'latin1'));
    let text = '';
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed });
    };
    let timer = setTimeout(() => finish(false), waitMs);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (opts.doneWhen?.(text)) {
        clearTimeout(timer);
        // A short look for a close that follows the answer.
        timer = setTimeout(() => finish(false), 300);
      }
    });
    s.on('error', () => finish(true));
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
  });
}

/** Status codes of every response head in `text`, in order (1xx included). */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/** True when `text` holds `n` complete `ok` answers. */
export const okCount = (text: string): number => text.split('\r\n\r\nok').length - 1;

export interface Upgrade {
  /** The proxy's answer head (up to the blank line), as latin1 text. */
  head: string;
  /** The whole answer when it was not a 101 (the proxy closed after it). */
  text: string;
  /** What came back through the tunnel for `payload` (the recording origin echoes it); null without a 101. */
  echoed: string | null;
}

/**
 * Sends an upgrade request head on a fresh connection; on a 101, sends
 * `payload` through the tunnel and waits for it to come back.
 */
export function upgrade(hostPort: string, requestHead: string, payload: string, waitMs = 3_000): Promise<Upgrade> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = net.connect(Number(hostPort.slice(i + 1)), hostPort.slice(0, i), () => s.write(requestHead, 'latin1'));
    let text = '';
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end);
      const echoed = /^HTTP\/1\.1 101 /.test(text) && end >= 0 ? text.slice(end + 4) : null;
      resolve({ head, text, echoed });
    };
    const timer = setTimeout(finish, waitMs);
    let sent = false;
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0 || !text.startsWith('HTTP/1.1 101 ')) return;
      if (!sent) {
        sent = true;
        s.write(payload, 'latin1');
      }
      if (text.length - (end + 4) >= payload.length) finish();
    });
    s.on('error', finish);
    s.on('close', finish);
  });
}
