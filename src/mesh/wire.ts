/**
 * The mesh wire format: one UDP datagram = one signed message.
 *
 *   offset 0   'G' 'E'            magic, so stray traffic is told apart at once
 *          2   version (1)
 *          3   body length        uint16 big-endian
 *          5   body               UTF-8 JSON: { k, id, addr, seq, ts, re? }
 *     5+len    signature length   0 (unsigned) or 32
 *     6+len    HMAC-SHA256        over bytes [0, 5+len), i.e. exactly what was sent
 *
 * Signing the transmitted bytes (not a re-serialisation) means the receiver
 * never has to rebuild a "canonical" JSON to check a signature.
 */
import { createHmac } from 'node:crypto';
import * as z from '../zod.js';

export const WIRE_VERSION = 1;
export const MAGIC = Buffer.from('GE', 'latin1');
const HEADER_BYTES = 5;
export const SIGNATURE_BYTES = 32;
/** Largest datagram accepted: real messages are ~150 bytes. */
export const MAX_MESSAGE_BYTES = 1024;

export const MESH_KINDS = ['leave', 'ack', 'ping', 'pong'] as const;
export type MeshKind = (typeof MESH_KINDS)[number];

const counter = () => z.number().check(z.int(), z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER));

const bodySchema = z.object({
  k: z.enum(MESH_KINDS),
  /** Sender's node id. */
  id: z.string().check(z.minLength(1), z.maxLength(63)),
  /** Sender's proxy `host:port`, its identity in peers' routing tables. */
  addr: z.string().check(z.minLength(3), z.maxLength(300)),
  /** Sender's sequence number, unique per sender (see sequence.ts). */
  seq: counter(),
  /** Sender's clock when it built the message, ms since the epoch. */
  ts: counter(),
  /** For ack/pong: the seq of the leave/ping answered. */
  re: z.optional(counter()),
});

export type MeshMessage = z.infer<typeof bodySchema>;

export function sign(key: Buffer, signed: Buffer): Buffer {
  return createHmac('sha256', key).update(signed).digest();
}

/** Encodes a message; without a key it is sent unsigned (only tests do that). */
export function encodeMessage(msg: MeshMessage, key: Buffer | null): Buffer {
  const body = Buffer.from(JSON.stringify(bodySchema.parse(msg)), 'utf8');
  if (HEADER_BYTES + body.length + 1 + SIGNATURE_BYTES > MAX_MESSAGE_BYTES) {
    throw new Error(`mesh message too large (${body.length} body bytes)`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt8(WIRE_VERSION, 2);
  header.writeUInt16BE(body.length, 3);
  const signed = Buffer.concat([header, body]);
  if (!key) return Buffer.concat([signed, Buffer.from([0])]);
  return Buffer.concat([signed, Buffer.from([SIGNATURE_BYTES]), sign(key, signed)]);
}

export interface DecodedFrame {
  message: MeshMessage;
  /** The bytes the signature covers. */
  signed: Buffer;
  /** Null when the sender did not sign. */
  signature: Buffer | null;
}

export class FrameError extends Error {}

/** Splits a datagram into message and signature; throws FrameError with a precise reason. */
export function decodeFrame(buf: Buffer): DecodedFrame {
  if (buf.length < HEADER_BYTES) throw new FrameError(`too short (${buf.length} bytes)`);
  if (!buf.subarray(0, 2).equals(MAGIC)) throw new FrameError('bad magic (not a graceful-edge mesh message)');
  const version = buf.readUInt8(2);
  if (version !== WIRE_VERSION) throw new FrameError(`unsupported version ${version}`);
  const bodyLength = buf.readUInt16BE(3);
  const bodyEnd = HEADER_BYTES + bodyLength;
  if (buf.length < bodyEnd) throw new FrameError(`truncated body (${buf.length - HEADER_BYTES} of ${bodyLength} bytes)`);
  let raw: unknown;
  try {
    raw = JSON.parse(buf.subarray(HEADER_BYTES, bodyEnd).toString('utf8'));
  } catch {
    throw new FrameError('body is not JSON');
  }
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new FrameError(`bad body field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
  }
  const signed = buf.subarray(0, bodyEnd);
  if (buf.length === bodyEnd) return { message: parsed.data, signed, signature: null };
  const sigLength = buf.readUInt8(bodyEnd);
  const rest = buf.length - bodyEnd - 1;
  if (sigLength === 0 && rest === 0) return { message: parsed.data, signed, signature: null };
  if (sigLength !== SIGNATURE_BYTES) throw new FrameError(`bad signature length ${sigLength}`);
  if (rest < SIGNATURE_BYTES) throw new FrameError(`truncated signature (${rest} of ${SIGNATURE_BYTES} bytes)`);
  if (rest > SIGNATURE_BYTES) throw new FrameError(`${rest - SIGNATURE_BYTES} trailing bytes`);
  return { message: parsed.data, signed, signature: buf.subarray(bodyEnd + 1) };
}
