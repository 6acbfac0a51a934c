/**
 * The node's UDP mesh socket: sends signed messages, verifies what arrives,
 * answers acks and pongs, and hands accepted leave/ping messages to the
 * owner. Everything rejected is counted by verdict and changes nothing.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { formatHostPort } from '../config/host-port.js';
import { encodeMessage } from './wire.js';
import type { MeshKind, MeshMessage } from './wire.js';
import { NoticeVerifier } from './notice-verifier.js';
import type { VerifierOptions } from './notice-verifier.js';
import { SequenceSource } from './sequence.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';

export interface Rinfo {
  address: string;
  port: number;
}

export interface MeshTarget {
  host: string;
  port: number;
}

/** Verdicts beyond the verifier's: what the owner made of an authentic message. */
export type HandledVerdict = 'accepted' | 'unknown_peer' | 'not_serving' | 'unsolicited' | 'superseded';

export interface MeshHandlers {
  /** An authentic leave; the ack is sent whatever this returns. */
  onLeave(msg: MeshMessage, from: Rinfo): HandledVerdict;
  /** Whether to answer an authentic ping now (a leaving node does not). */
  answerPing(msg: MeshMessage, from: Rinfo): boolean;
}

export interface MeshEndpointOptions {
  key: Buffer | null;
  nodeId: string;
  /** This node's proxy `host:port`, as peers know it. */
  selfAddress: () => string;
  logger: Logger;
  metrics: Metrics;
  sent: { inc(labels: { kind: MeshKind }): void };
  handlers: MeshHandlers;
  verifier?: VerifierOptions;
}

type ReplyKind = 'ack' | 'pong';
type Waiter = { kind: ReplyKind; onReply: (msg: MeshMessage, from: Rinfo) => void };

export class MeshEndpoint {
  readonly #socket: dgram.Socket;
  readonly #verifier: NoticeVerifier;
  readonly #seq = new SequenceSource();
  readonly #waiting = new Map<number, Waiter>();
  readonly #limiter = new RateLimitedLog(5_000);
  /**
   * Per node id, the seq of its latest pong. Only a serving node answers pings,
   * so a leave numbered below it is older than the node's last proof of life:
   * a notice from before a restart, replayed to a node that had not seen it.
   */
  readonly #aliveSince = new Map<string, number>();
  #closed = false;

  readonly #adopted: boolean;

  constructor(
    private readonly opts: MeshEndpointOptions,
    host: string,
    /** A bound socket passed by the previous process (hot restart). */
    adopt?: dgram.Socket,
  ) {
    this.#verifier = new NoticeVerifier(opts.key, opts.verifier);
    this.#adopted = adopt !== undefined;
    this.#socket = adopt ?? dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    this.#socket.on('message', (buf, rinfo) => this.#receive(buf, rinfo));
  }

  /** Binds; resolves with the port actually bound (the given one may be 0). */
  bind(host: string, port: number): Promise<number> {
    if (this.#adopted) {
      this.#socket.on('error', (e) => this.#warn('socket', { err: e.message }, 'mesh socket error'));
      return Promise.resolve(this.#socket.address().port);
    }
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#socket.once('error', onError);
      this.#socket.bind(port, host, () => {
        this.#socket.off('error', onError);
        // Later socket errors (e.g. ICMP-triggered) must never crash the node.
        this.#socket.on('error', (e) => this.#warn('socket', { err: e.message }, 'mesh socket error'));
        resolve(this.#socket.address().port);
      });
    });
  }

  /** Sends one signed message; returns its sequence number (to match the reply). */
  send(kind: MeshKind, to: MeshTarget, re?: number): number {
    const key = this.opts.key;
    if (!key) throw new Error('mesh messages need a key');
    const seq = this.#seq.next();
    const msg: MeshMessage = { k: kind, id: this.opts.nodeId, addr: this.opts.selfAddress(), seq, ts: Date.now(), ...(re === undefined ? {} : { re }) };
    const buf = encodeMessage(msg, key);
    if (this.#closed) return seq;
    this.#socket.send(buf, to.port, to.host, (error) => {
      if (error) {
        this.#warn(`send:${to.host}`, { kind, to: formatHostPort(to), err: error.message }, 'cannot send a mesh datagram');
      }
    });
    this.opts.sent.inc({ kind });
    return seq;
  }

  /** Calls `onReply` for the ack/pong answering `seq`; returns a cancel function. */
  expectReply(seq: number, kind: ReplyKind, onReply: Waiter['onReply']): () => void {
    this.#waiting.set(seq, { kind, onReply });
    return () => this.#waiting.delete(seq);
  }

  /** The UDP socket, to pass to a hot-restart successor. */
  get socket(): dgram.Socket {
    return this.#socket;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiting.clear();
    try {
      this.#socket.close();
    } catch {
      // already closed (bind failed)
    }
  }

  #count(kind: MeshKind | 'unknown', verdict: string): void {
    this.opts.metrics.meshNotices.inc({ kind, verdict });
  }

  #warn(key: string, fields: Record<string, unknown>, msg: string, level: 'warn' | 'debug' = 'warn'): void {
    const suppressed = this.#limiter.admit(key);
    if (suppressed === null) return;
    this.opts.logger[level]({ ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
  }

  #receive(buf: Buffer, rinfo: Rinfo): void {
    const source = formatHostPort({ host: rinfo.address, port: rinfo.port });
    const v = this.#verifier.verify(buf);
    if (!v.ok) {
      this.#count(v.kind, v.verdict);
      const level = v.verdict === 'no_key' ? 'debug' : 'warn';
      this.#warn(
        `reject:${v.verdict}`,
        { mesh: 'rejected', verdict: v.verdict, kind: v.kind, source, bytes: buf.length, reason: v.reason, ...(v.from ? { claimed: v.from } : {}) },
        'mesh datagram dropped',
        level,
      );
      return;
    }
    const msg = v.message;
    switch (msg.k) {
      case 'leave': {
        const alive = this.#aliveSince.get(msg.id);
        if (alive !== undefined && msg.seq < alive) {
          this.#count('leave', 'superseded');
          this.#warn(
            'reject:superseded',
            { mesh: 'rejected', verdict: 'superseded', kind: 'leave', from: msg.id, source, seq: msg.seq, aliveSince: alive },
            'mesh datagram dropped: a leave older than its last pong, which proved it serving',
          );
          return;
        }
        const verdict = this.opts.handlers.onLeave(msg, rinfo);
        this.#count('leave', verdict);
        // Ack even an unknown sender: it stops its retries, and we route nothing to it anyway.
        this.send('ack', { host: rinfo.address, port: rinfo.port }, msg.seq);
        return;
      }
      case 'ping': {
        if (this.opts.handlers.answerPing(msg, rinfo)) {
          this.#count('ping', 'accepted');
          this.send('pong', { host: rinfo.address, port: rinfo.port }, msg.seq);
        } else {
          this.#count('ping', 'not_serving');
        }
        return;
      }
      case 'ack':
      case 'pong': {
        const waiter = msg.re === undefined ? undefined : this.#waiting.get(msg.re);
        if (!waiter || waiter.kind !== msg.k) {
          this.#count(msg.k, 'unsolicited');
          this.#warn(`unsolicited:${msg.k}`, { kind: msg.k, from: msg.id, source, re: msg.re }, 'mesh reply answers nothing we sent', 'debug');
          return;
        }
        this.#waiting.delete(msg.re!);
        this.#count(msg.k, 'accepted');
        if (msg.k === 'pong') this.#aliveSince.set(msg.id, Math.max(msg.seq, this.#aliveSince.get(msg.id) ?? 0));
        waiter.onReply(msg, rinfo);
        return;
      }
    }
  }
}
