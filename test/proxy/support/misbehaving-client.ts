/**
 * Clients that misbehave on purpose, each on its own raw TCP connection to
 * the proxy: resets (SO_LINGER 0 via `resetAndDestroy`), half-closes, bodies
 * cut short, broken chunked framing, WebSocket upgrades dropped mid-way.
 * Each resolves once the misdeed is done; none waits for an answer.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function connect(hostPort: string): Promise<net.Socket> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(hostPort.slice(i + 1)), hostPort.slice(0, i), () => resolve(s));
    s.once('error', reject);
  });
}

/** Swallows the errors the proxy's side may raise after we misbehave. */
function quiet(s: net.Socket): net.Socket {
  s.on('error', () => undefined);
  return s;
}

function upgradeRequest(path: string): string {
  return [
    `GET ${path} HTTP/1.1`,
    'host: test',
    'upgrade: websocket',
    'connection: Upgrade',
    `sec-websocket-key: ${randomBytes(16).toString('base64')}`,
    'sec-websocket-version: 13',
    '',
    '',
  ].join('\r\n');
}

/** A masked text frame, as a client must send it (RFC 6455 §5.3). */
export function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  if (payload.length < 126) return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
  if (payload.length > 0xffff) throw new Error('frames up to 64 KiB only');
  return Buffer.concat([Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]), mask, masked]);
}

function waitFor(s: net.Socket, needle: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => (s.off('data', onData), reject(new Error(`no ${needle} in ${timeoutMs} ms: ${JSON.stringify(got)}`))), timeoutMs);
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes(needle)) {
        clearTimeout(timer);
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
  });
}

/** Item 1: upgrade for a path whose upstream never answers, wait, reset (SO_LINGER 0). */
export async function upgradeThenReset(proxy: string, path = '/hang', waitMs = 300): Promise<void> {
  const s = quiet(await connect(proxy));
  s.write(upgradeRequest(path));
  await sleep(waitMs);
  s.resetAndDestroy();
}

/** An upgrade for a path whose upstream never answers, then a half-close (FIN) and silence. */
export async function upgradeThenHalfClose(proxy: string, path = '/hang'): Promise<net.Socket> {
  const s = quiet(await connect(proxy));
  s.end(upgradeRequest(path));
  s.resume();
  return s;
}

/**
 * Item 1 (second form): a real 101, the origin echoes a message the client
 * never reads, then a normal close; the unread bytes make the kernel send RST.
 */
export async function upgradeThenCloseWithUnread(proxy: string, path = '/live'): Promise<void> {
  const s = quiet(await connect(proxy));
  s.write(upgradeRequest(path));
  await waitFor(s, '\r\n\r\n');
  // Stop reading: past the stream's 16 KiB buffer, what the origin echoes
  // stays in the kernel's receive queue, so the close below sends RST.
  s.pause();
  for (let i = 0; i < 8; i++) s.write(clientTextFrame(`unread ${i} `.padEnd(60_000, 'x')));
  await sleep(300);
  s.destroy();
}

/** A reset in the middle of a request head. */
export async function resetMidHead(proxy: string): Promise<void> {
  const s = quiet(await connect(proxy));
  s.write('GET /hang HTTP/1.1\r\nhost: te');
  await sleep(100);
  s.resetAndDestroy();
}

/** A reset while the upstream is still working on the request. */
export async function resetWhilePending(proxy: string): Promise<void> {
  const s = quiet(await connect(proxy));
  s.write('GET /hang HTTP/1.1\r\nhost: test\r\n\r\n');
  await sleep(200);
  s.resetAndDestroy();
}

/** A request, then the client's write side shut (FIN) before the answer. */
export async function halfClose(proxy: string): Promise<void> {
  const s = quiet(await connect(proxy));
  s.end('GET /echo HTTP/1.1\r\nhost: test\r\n\r\n');
  await sleep(200);
  s.destroy();
}

/** Part of a declared body, then a close (`how`: FIN or RST). */
export async function closeMidBody(proxy: string, how: 'close' | 'reset'): Promise<void> {
  const s = quiet(await connect(proxy));
  s.write('POST /echo HTTP/1.1\r\nhost: test\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\n');
  s.write('x'.repeat(1000));
  await sleep(200);
  if (how === 'reset') s.resetAndDestroy();
  else s.destroy();
}

/** A chunked body whose second chunk is garbage, sent after forwarding started. */
export async function badChunkAfterForwarding(proxy: string): Promise<void> {
  const s = quiet(await connect(proxy));
  s.write('POST /echo HTTP/1.1\r\nhost: test\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n');
  s.write('5\r\nhello\r\n');
  await sleep(200);
  s.write('zz-not-a-chunk-size\r\nbroken\r\n');
  await sleep(200);
  s.destroy();
}
