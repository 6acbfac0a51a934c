/**
 * Watch-based discovery through etcd: read the prefix, then watch it from the
 * next revision; other nodes' keys become PEER.FOUND / PEER.LEFT for the
 * chart. A broken watch is dropped and both steps run again, so what changed
 * meanwhile is not missed. Runs beside the registration (etcd-registration.ts)
 * on the same client, while serving.
 */
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { LifecycleEvent } from '../../machines/events.js';
import { errorMessage } from '../../machines/error-message.js';
import type { Logger } from '../log/logger.js';
import { throwIfAborted } from './bounded.js';
import { decodeNodeRecord, peerFromRecord } from './node-record.js';
import type { EtcdRegistryStatus } from './registry-status.js';

const WATCH_CONNECT_TIMEOUT_MS = 2_000;
const WATCH_BACKOFF = { initialDelay: 250, maxDelay: 5_000 };

export interface PeerWatchOptions {
  prefix: string;
  /** This node's key: never a peer. */
  ownKey: string;
  nodeId: string;
  /** The proxy address this node is bound to: a record naming it is not a peer. */
  selfAddress: () => string | null;
  /** The client in use, or null once closed. */
  client: () => Etcd3 | null;
  status: EtcdRegistryStatus;
  log: Logger;
  send: (event: LifecycleEvent) => void;
  /** Someone else deleted this node's key. */
  onOwnKeyDeleted: () => void;
}

export class EtcdPeerWatch {
  #watcher: Watcher | null = null;
  /** Other nodes' keys → the address they named, to say who left on delete. */
  readonly #known = new Map<string, string>();
  /** Keys ignored, with the reason last logged (each reason is logged once per key). */
  readonly #rejected = new Map<string, string>();

  constructor(private readonly opts: PeerWatchOptions) {}

  /** Watches until `signal` aborts, re-establishing a broken watch with a capped backoff. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.log;
    let outage = false;
    while (!signal.aborted) {
      const policy = retry(handleAll, {
        maxAttempts: Number.POSITIVE_INFINITY,
        backoff: new ExponentialBackoff(WATCH_BACKOFF),
      }).dangerouslyUnref();
      // Registration failures already warn once per attempt; the watch only says when it breaks and heals.
      const listener = policy.onRetry((r) => {
        if (signal.aborted) return;
        const error = 'error' in r ? errorMessage(r.error) : 'no result';
        log.debug({ attempt: r.attempt, retryInMs: Math.round(r.delay), error }, 'etcd watch not established');
      });
      let watch: { ended: Promise<string> };
      try {
        watch = await policy.execute(() => this.#watchOnce(signal), signal);
      } catch {
        return; // aborted: the node is leaving
      } finally {
        listener.dispose();
      }
      if (outage) log.info({ prefix: this.opts.prefix }, 'etcd watch re-established');
      const reason = await watch.ended;
      if (signal.aborted) return;
      outage = true;
      log.warn({ error: reason }, 'etcd watch broken: reading the prefix again when etcd answers');
    }
  }

  /** Detaches the current watcher (it needs etcd too); resolves when etcd confirmed or refused. */
  cancel(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = null;
    this.opts.status.watching = false;
    return watcher ? watcher.cancel() : Promise.resolve();
  }

  async #watchOnce(signal: AbortSignal): Promise<{ ended: Promise<string> }> {
    throwIfAborted(signal);
    const client = this.opts.client();
    if (!client) throw new Error('etcd client closed');
    const prefix = this.opts.prefix;
    const snapshot = await client.getAll().prefix(prefix).exec();
    throwIfAborted(signal);
    this.#resync(snapshot.kvs);

    const watcher = client
      .watch()
      .prefix(prefix)
      .startRevision((BigInt(snapshot.header.revision) + 1n).toString())
      .watcher();
    let settle: (reason: string) => void = () => undefined;
    const ended = new Promise<string>((resolve) => (settle = resolve));
    let broken = false;
    const breakWith = (reason: string) => {
      if (broken) return;
      broken = true;
      if (this.#watcher === watcher) this.#watcher = null;
      this.opts.status.watching = false;
      // Detach it, or the client's watch manager keeps reconnecting it on its own.
      watcher.cancel().catch(() => undefined);
      settle(reason);
    };
    // A listener on 'error' always: an unhandled 'error' event would crash the process.
    watcher.on('error', (error) => breakWith(errorMessage(error)));
    watcher.on('disconnected', (error) => breakWith(errorMessage(error)));
    watcher.on('end', () => breakWith('watch ended'));
    watcher.on('put', (kv) => this.#onPut(kv));
    watcher.on('delete', (kv) => this.#onDelete(kv));

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => breakWith(`watch not established in ${WATCH_CONNECT_TIMEOUT_MS} ms`), WATCH_CONNECT_TIMEOUT_MS);
      const onAbort = () => breakWith('leaving');
      signal.addEventListener('abort', onAbort, { once: true });
      watcher.once('connected', () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      void ended.then((reason) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(new Error(reason));
      });
    });
    this.#watcher = watcher;
    this.opts.status.watching = true;
    return { ended };
  }

  /** After (re)reading the prefix: found what is there, left what vanished meanwhile. */
  #resync(kvs: IKeyValue[]): void {
    const present = new Set<string>();
    for (const kv of kvs) {
      present.add(kv.key.toString());
      this.#onPut(kv);
    }
    for (const [key, address] of this.#known) {
      if (present.has(key)) continue;
      this.#known.delete(key);
      this.#peerLeft(key, address, 'etcd key deleted');
    }
    this.opts.status.peers = this.#known.size;
  }

  #onPut(kv: IKeyValue): void {
    const key = kv.key.toString();
    if (key === this.opts.ownKey) return;
    const decoded = decodeNodeRecord(kv.value);
    let problem = decoded.ok ? null : decoded.error;
    if (decoded.ok && decoded.record.id === this.opts.nodeId) problem = `names this node's id "${decoded.record.id}"`;
    if (decoded.ok && decoded.record.address === this.opts.selfAddress()) problem = `names this node's address ${decoded.record.address}`;
    const previous = this.#known.get(key);
    if (problem !== null || !decoded.ok) {
      this.#reject(key, problem ?? 'invalid');
      if (previous) {
        this.#known.delete(key);
        this.#peerLeft(key, previous, 'etcd record no longer valid');
      }
      return;
    }
    this.#rejected.delete(key);
    this.opts.status.rejectedKeys = this.#rejected.size;
    const record = decoded.record;
    if (previous && previous !== record.address) this.#peerLeft(key, previous, `etcd key now names ${record.address}`);
    this.#known.set(key, record.address);
    this.opts.status.peers = this.#known.size;
    if (previous !== record.address) {
      this.opts.log.info({ key, peer: record.address, peerId: record.id }, 'etcd: peer found');
    }
    this.opts.send({ type: 'PEER.FOUND', peer: peerFromRecord(record) });
  }

  #onDelete(kv: IKeyValue): void {
    const key = kv.key.toString();
    if (key === this.opts.ownKey) {
      this.opts.onOwnKeyDeleted();
      return;
    }
    if (this.#rejected.delete(key)) this.opts.status.rejectedKeys = this.#rejected.size;
    const address = this.#known.get(key);
    if (!address) return;
    this.#known.delete(key);
    this.opts.status.peers = this.#known.size;
    this.#peerLeft(key, address, 'etcd key deleted');
  }

  #peerLeft(key: string, address: string, reason: string): void {
    this.opts.log.info({ key, peer: address, reason }, 'etcd: peer gone');
    this.opts.send({ type: 'PEER.LEFT', address, reason });
  }

  #reject(key: string, reason: string): void {
    if (this.#rejected.get(key) !== reason) {
      this.opts.log.warn({ key, reason }, 'ignoring an etcd key');
    }
    this.#rejected.set(key, reason);
    this.opts.status.rejectedKeys = this.#rejected.size;
  }
}
