/**
 * Decides whether a received datagram may change anything. Checks run from
 * cheapest to dearest and the first failure is the verdict; only a message
 * that passes all of them is 'accepted' (and only then enters the replay cache).
 */
import { timingSafeEqual } from 'node:crypto';
import { FrameError, MAX_MESSAGE_BYTES, decodeFrame, sign } from './wire.js';
import type { MeshKind, MeshMessage } from './wire.js';
import { ReplayCache } from './replay-cache.js';

export type RejectVerdict = 'oversized' | 'malformed' | 'no_key' | 'unsigned' | 'bad_signature' | 'stale' | 'replay';

export type Verification =
  | { ok: true; message: MeshMessage }
  | { ok: false; verdict: RejectVerdict; kind: MeshKind | 'unknown'; reason: string; from?: string };

export interface VerifierOptions {
  /** Accepted clock difference between sender and receiver, either way. */
  windowMs?: number;
  maxBytes?: number;
  replayCacheSize?: number;
}

export const DEFAULT_WINDOW_MS = 30_000;

export class NoticeVerifier {
  readonly #cache: ReplayCache;
  readonly #windowMs: number;
  readonly #maxBytes: number;

  constructor(
    private readonly key: Buffer | null,
    opts: VerifierOptions = {},
  ) {
    this.#windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.#maxBytes = opts.maxBytes ?? MAX_MESSAGE_BYTES;
    this.#cache = new ReplayCache(this.#windowMs, opts.replayCacheSize);
  }

  verify(buf: Buffer, now = Date.now()): Verification {
    if (buf.length > this.#maxBytes) {
      return { ok: false, verdict: 'oversized', kind: 'unknown', reason: `${buf.length} bytes, more than ${this.#maxBytes}` };
    }
    let frame;
    try {
      frame = decodeFrame(buf);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      return { ok: false, verdict: 'malformed', kind: 'unknown', reason: error.message };
    }
    const { message, signed, signature } = frame;
    const from = `${message.id} (${message.addr})`;
    const reject = (verdict: RejectVerdict, reason: string): Verification => ({ ok: false, verdict, kind: message.k, reason, from });
    if (!this.key) return reject('no_key', 'this node has no mesh key: notices are not accepted');
    if (!signature) return reject('unsigned', 'no signature');
    const expected = sign(this.key, signed);
    // Lengths are equal by construction (decodeFrame); timingSafeEqual would throw otherwise.
    if (!timingSafeEqual(expected, signature)) return reject('bad_signature', 'HMAC does not match the shared key');
    const skew = now - message.ts;
    if (Math.abs(skew) > this.#windowMs) {
      return reject('stale', `timestamp ${skew > 0 ? `${skew} ms in the past` : `${-skew} ms in the future`} (window ±${this.#windowMs} ms)`);
    }
    if (this.#cache.checkAndRemember(message.id, message.seq, message.ts, now)) {
      return reject('replay', `sequence ${message.seq} from ${message.id} was already seen`);
    }
    return { ok: true, message };
  }
}
