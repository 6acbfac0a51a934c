/**
 * Test-side tools for the mesh, written from the documented wire format
 * (src/mesh/wire.ts header) rather than imported, so the daemon is checked
 * against the format, not against itself.
 */
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';

export interface TestMessage {
  k: 'leave' | 'ack' | 'ping' | 'pong';
  id: string;
  addr: string;
  seq: number;
  ts: number;
  re?: number;
}

/** 'GE' | version 1 | uint16 body length | JSON body | sig length | HMAC-SHA256(header+body). */
export function frame(msg: TestMessage, key: Buffer | null): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const header = Buffer.from([0x47, 0x45, 1, body.length >> 8, body.length & 0xff]);
  const signed = Buffer.concat([header, body]);
  if (!key) return Buffer.concat([signed, Buffer.from([0])]);
  return Buffer.concat([signed, Buffer.from([32]), createHmac('sha256', key).update(signed).digest()]);
}

export function parseFrame(buf: Buffer): { msg: TestMessage; signatureOk: (key: Buffer) => boolean } {
  const len = buf.readUInt16BE(3);
  const signed = buf.subarray(0, 5 + len);
  const msg = JSON.parse(buf.subarray(5, 5 + len).toString('utf8')) as TestMessage;
  const sig = buf.subarray(6 + len);
  return { msg, signatureOk: (key) => createHmac('sha256', key).update(signed).digest().equals(sig) };
}

export interface UdpPeer {
  port: number;
  received: Array<{ buf: Buffer; from: { address: string; port: number } }>;
  send(buf: Buffer, port: number, host?: string): Promise<void>;
  waitFor(pred: (msg: TestMessage) => boolean, timeoutMs?: number): Promise<TestMessage>;
  onMessage(fn: (msg: TestMessage, from: { address: string; port: number }) => void): void;
  close(): Promise<void>;
}

/** A UDP socket on loopback that plays a mesh peer. */
export async function udpPeer(port = 0): Promise<UdpPeer> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, '127.0.0.1', () => resolve());
  });
  const received: UdpPeer['received'] = [];
  const listeners: Array<(msg: TestMessage, from: { address: string; port: number }) => void> = [];
  sock.on('message', (buf, rinfo) => {
    received.push({ buf, from: rinfo });
    let msg: TestMessage;
    try {
      msg = parseFrame(buf).msg;
    } catch {
      return;
    }
    for (const l of listeners) l(msg, rinfo);
  });
  return {
    port: sock.address().port,
    received,
    send: (buf, toPort, host = '127.0.0.1') =>
      new Promise((resolve, reject) => sock.send(buf, toPort, host, (e) => (e ? reject(e) : resolve()))),
    onMessage: (fn) => void listeners.push(fn),
    waitFor: (pred, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        for (const r of received) {
          try {
            const m = parseFrame(r.buf).msg;
            if (pred(m)) return resolve(m);
          } catch {
            /* not a frame */
          }
        }
        const timer = setTimeout(() => reject(new Error(`no matching mesh message within ${timeoutMs} ms`)), timeoutMs);
        listeners.push((m) => {
          if (pred(m)) {
            clearTimeout(timer);
            resolve(m);
          }
        });
      }),
    close: () => new Promise((resolve) => sock.close(() => resolve())),
  };
}

export const MESH_KEY = 'test-mesh-key-0123456789abcdef';
