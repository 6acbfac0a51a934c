/**
 * A client that keeps ONE TCP connection and sends requests on it by hand,
 * so a test can send a request on a connection opened before the listener
 * closed (an http.Agent would open a new one or hide the reset).
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawConnection {
  readonly socket: net.Socket;
  #buf = Buffer.alloc(0);
  #wake: (() => void) | null = null;
  ended = false;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('end', () => {
      this.ended = true;
      this.#wake?.();
    });
    socket.on('error', () => {
      this.ended = true;
      this.#wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.#wake?.();
    });
  }

  static open(hostPort: string): Promise<RawConnection> {
    const i = hostPort.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const s = net.connect(Number(hostPort.slice(i + 1)), hostPort.slice(0, i), () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  async #need(pred: () => boolean, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.ended) throw new Error(`connection closed; got ${JSON.stringify(this.#buf.toString())}`);
      if (Date.now() > until) throw new Error('raw response timed out');
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, 50);
      });
    }
  }

  async request(method: string, path: string, headers: Record<string, string> = {}, body = '', timeoutMs = 10_000): Promise<RawResponse> {
    const lines = [`${method} ${path} HTTP/1.1`, 'host: test', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    if (body) lines.push(`content-length: ${Buffer.byteLength(body)}`);
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    await this.#need(() => this.#buf.includes('\r\n\r\n'), timeoutMs);
    const headEnd = this.#buf.indexOf('\r\n\r\n');
    const [statusLine, ...hl] = this.#buf.subarray(0, headEnd).toString('latin1').split('\r\n');
    const h: Record<string, string> = {};
    for (const l of hl) {
      const c = l.indexOf(':');
      h[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    this.#buf = this.#buf.subarray(headEnd + 4);
    let out: Buffer;
    if (h['content-length'] !== undefined) {
      const n = Number(h['content-length']);
      await this.#need(() => this.#buf.length >= n, timeoutMs);
      out = this.#buf.subarray(0, n);
      this.#buf = this.#buf.subarray(n);
    } else if (/chunked/i.test(h['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        await this.#need(() => this.#buf.includes('\r\n'), timeoutMs);
        const e = this.#buf.indexOf('\r\n');
        const size = parseInt(this.#buf.subarray(0, e).toString(), 16);
        await this.#need(() => this.#buf.length >= e + 2 + size + 2, timeoutMs);
        parts.push(this.#buf.subarray(e + 2, e + 2 + size));
        this.#buf = this.#buf.subarray(e + 2 + size + 2);
        if (size === 0) break;
      }
      out = Buffer.concat(parts);
    } else {
      await this.#need(() => this.ended, timeoutMs).catch(() => undefined);
      out = this.#buf;
      this.#buf = Buffer.alloc(0);
    }
    return { status: Number(statusLine!.split(' ')[1]), headers: h, body: out.toString('utf8') };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Resolves with the error code of a fresh connection attempt (null if it connected). */
export function tryConnect(hostPort: string): Promise<string | null> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = net.connect(Number(hostPort.slice(i + 1)), hostPort.slice(0, i));
    s.once('connect', () => (s.destroy(), resolve(null)));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}
