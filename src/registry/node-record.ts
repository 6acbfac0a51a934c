/**
 * The value a node keeps under `<prefix><node id>` in etcd, and how a value
 * read back from etcd becomes a peer. Anything else found under the prefix
 * (another program's keys, a hand-edited value) is rejected with a reason.
 */
import * as z from '../zod.js';
import type { PeerInfo } from '../../machines/events.js';
import { hostPort } from '../config/schema.js';

export interface NodeRecord {
  id: string;
  /** The node's proxy `host:port`, as peers should dial it. */
  address: string;
  meshPort: number;
  /** Epoch ms when the node process started. */
  startedAt: number;
}

const recordSchema = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(63)),
  address: hostPort,
  meshPort: z.number().check(z.int(), z.gte(0), z.lte(65535)),
  // zod 4's number() already refuses Infinity and NaN (classic's .finite() was a no-op).
  startedAt: z.number(),
});

/** etcd values are arbitrary bytes; a node record is small JSON. */
export const MAX_RECORD_BYTES = 4096;

export function encodeNodeRecord(record: NodeRecord): string {
  return JSON.stringify({ id: record.id, address: record.address, meshPort: record.meshPort, startedAt: record.startedAt });
}

export type DecodedRecord = { ok: true; record: NodeRecord } | { ok: false; error: string };

export function decodeNodeRecord(value: Buffer | string): DecodedRecord {
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  if (size > MAX_RECORD_BYTES) return { ok: false, error: `value is ${size} bytes, more than ${MAX_RECORD_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(value.toString());
  } catch {
    return { ok: false, error: 'value is not JSON' };
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'value';
    return { ok: false, error: `${where}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, record: parsed.data };
}

export function peerFromRecord(record: NodeRecord, now = Date.now()): PeerInfo {
  return {
    address: record.address,
    meshPort: record.meshPort,
    id: record.id,
    source: 'etcd',
    status: 'alive',
    lastSeen: now,
  };
}
