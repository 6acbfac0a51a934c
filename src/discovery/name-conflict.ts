/**
 * Name conflicts (RFC 6762 §8.1, §9), the pure part.
 *
 * A conflict is another responder's record with the same name and type as one
 * of our unique records (SRV/TXT of our instance name) but different rdata.
 * Comparing rdata, not the sender, is what keeps our own multicast — looped
 * back to our socket — from ever looking like a conflict, and lets a sleep
 * proxy or a cache repeat our exact records harmlessly. TTL-0 records are
 * goodbyes, never claims.
 */
import type { DnsRecord } from './bonjour-transport.js';

/** Records that name one instance and must be unique to one responder. */
const UNIQUE_TYPES = new Set(['SRV', 'TXT']);

function bareName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** TXT rdata as the bytes on the wire: length-prefixed strings. */
function txtWire(data: unknown): Buffer | null {
  const parts = Array.isArray(data) ? data : [data];
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let bytes: Buffer;
    if (Buffer.isBuffer(part)) bytes = part;
    else if (typeof part === 'string') bytes = Buffer.from(part);
    else if (part instanceof Uint8Array) bytes = Buffer.from(part);
    else return null;
    chunks.push(Buffer.from([bytes.length & 0xff]), bytes);
  }
  return Buffer.concat(chunks);
}

interface SrvData {
  port?: unknown;
  target?: unknown;
  priority?: unknown;
  weight?: unknown;
}

function srvEqual(a: unknown, b: unknown): boolean {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const x = a as SrvData;
  const y = b as SrvData;
  return (
    Number(x.port) === Number(y.port) &&
    Number(x.priority ?? 0) === Number(y.priority ?? 0) &&
    Number(x.weight ?? 0) === Number(y.weight ?? 0) &&
    typeof x.target === 'string' &&
    typeof y.target === 'string' &&
    bareName(x.target) === bareName(y.target)
  );
}

/** Same rdata for a record of `type` (only the unique types are compared). */
export function sameRdata(type: string, a: unknown, b: unknown): boolean {
  if (type === 'SRV') return srvEqual(a, b);
  if (type === 'TXT') {
    const x = txtWire(a);
    const y = txtWire(b);
    return x !== null && y !== null && x.equals(y);
  }
  return false;
}

export interface Conflict {
  /** The other responder's record (name, type, rdata as received). */
  record: DnsRecord;
  /** Short human description of the competing rdata, for the log. */
  detail: string;
}

function describe(record: DnsRecord): string {
  if (record.type === 'SRV') {
    const d = (record.data ?? {}) as SrvData;
    return `SRV ${String(d.target)}:${String(d.port)}`;
  }
  const wire = txtWire(record.data);
  return `TXT of ${wire?.length ?? 0} bytes`;
}

/**
 * The first record in `received` that contradicts one of `ours` (unique
 * SRV/TXT records of our instance), or null. A packet may carry our exact
 * records (our own loopback, a cache's answer): those are not conflicts.
 */
export function findConflict(received: DnsRecord[], ours: DnsRecord[]): Conflict | null {
  const mine = ours.filter((r) => UNIQUE_TYPES.has(r.type) && typeof r.name === 'string');
  if (mine.length === 0) return null;
  for (const rr of received) {
    if (!UNIQUE_TYPES.has(rr.type) || typeof rr.name !== 'string' || (rr.ttl ?? 0) <= 0) continue;
    const name = bareName(rr.name);
    const same = mine.filter((m) => m.type === rr.type && bareName(m.name) === name);
    if (same.length === 0) continue;
    if (!same.some((m) => sameRdata(rr.type, m.data, rr.data))) return { record: rr, detail: describe(rr) };
  }
  return null;
}

/**
 * RFC 6762 §8.1: after fifteen conflicts within any ten seconds, wait at
 * least five seconds before each further probe — a misbehaving (or hostile)
 * responder must not make the node flood the network with probes.
 */
export class ConflictRateLimit {
  static readonly WINDOW_MS = 10_000;
  static readonly MAX_IN_WINDOW = 15;
  static readonly BACKOFF_MS = 5_000;
  readonly #at: number[] = [];

  record(now: number): void {
    this.#at.push(now);
    this.#prune(now);
  }

  /** How long to wait before the next probe (0 when under the limit). */
  delayBeforeProbe(now: number): number {
    this.#prune(now);
    return this.#at.length >= ConflictRateLimit.MAX_IN_WINDOW ? ConflictRateLimit.BACKOFF_MS : 0;
  }

  #prune(now: number): void {
    while (this.#at.length > 0 && now - this.#at[0]! >= ConflictRateLimit.WINDOW_MS) this.#at.shift();
  }
}

/**
 * Unique records other responders were heard announcing, kept for their TTL.
 * A name seen in use needs no probe to be known taken; and a responder that
 * answered some earlier query (a browser's) is remembered even if it is too
 * slow to answer our probe in time.
 */
export class SeenClaims {
  readonly #byKey = new Map<string, { record: DnsRecord; until: number }>();

  /** Records from one response; a TTL-0 record (goodbye) withdraws the claim. */
  remember(records: DnsRecord[], now: number): void {
    for (const rr of records) {
      if (!UNIQUE_TYPES.has(rr.type) || typeof rr.name !== 'string') continue;
      const key = `${bareName(rr.name)}|${rr.type}`;
      const ttl = rr.ttl ?? 0;
      if (ttl <= 0) this.#byKey.delete(key);
      else this.#byKey.set(key, { record: rr, until: now + ttl * 1000 });
    }
  }

  /** A live record someone else holds that contradicts `proposed`, or null. */
  conflictWith(proposed: DnsRecord[], now: number): Conflict | null {
    const live: DnsRecord[] = [];
    for (const [key, claim] of this.#byKey) {
      if (claim.until <= now) this.#byKey.delete(key);
      else live.push(claim.record);
    }
    return findConflict(live, proposed);
  }
}

const TYPE_CODES: Record<string, number> = { TXT: 16, SRV: 33 };

function nameWire(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  return Buffer.concat([...labels.flatMap((l) => [Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)]), Buffer.from([0])]);
}

/** Raw uncompressed rdata (RFC 6762 §8.2 compares these bytes). */
function rdataWire(rr: DnsRecord): Buffer {
  if (rr.type === 'TXT') return txtWire(rr.data) ?? Buffer.alloc(0);
  const d = (rr.data ?? {}) as SrvData;
  const head = Buffer.alloc(6);
  head.writeUInt16BE(Number(d.priority ?? 0) & 0xffff, 0);
  head.writeUInt16BE(Number(d.weight ?? 0) & 0xffff, 2);
  head.writeUInt16BE(Number(d.port ?? 0) & 0xffff, 4);
  return Buffer.concat([head, nameWire(typeof d.target === 'string' ? d.target : '')]);
}

/**
 * Simultaneous probe tie-break (RFC 6762 §8.2): both hosts' proposed records
 * for the name, sorted by type then rdata bytes, compared in turn; the first
 * difference decides, and a host with records left over wins. Returns < 0
 * when ours lose (we must wait one second and probe again), > 0 when they win
 * for us, 0 when identical (our own probe, looped back).
 */
export function tiebreak(ours: DnsRecord[], theirs: DnsRecord[], name: string): number {
  const relevant = (records: DnsRecord[]) =>
    records
      .filter((r) => UNIQUE_TYPES.has(r.type) && typeof r.name === 'string' && bareName(r.name) === bareName(name))
      .map((r) => ({ type: TYPE_CODES[r.type] ?? 0, rdata: rdataWire(r) }))
      .sort((a, b) => a.type - b.type || Buffer.compare(a.rdata, b.rdata));
  const a = relevant(ours);
  const b = relevant(theirs);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = a[i]!.type - b[i]!.type || Buffer.compare(a[i]!.rdata, b[i]!.rdata);
    if (diff !== 0) return Math.sign(diff);
  }
  return Math.sign(a.length - b.length);
}
