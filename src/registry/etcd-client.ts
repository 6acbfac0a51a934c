/**
 * An etcd3 client whose every call is bounded, so etcd can never hold the
 * node's start-up or shutdown.
 *
 * Why these options:
 * - etcd3 1.1.x documents `dialTimeout` but never reads it; the bound comes
 *   from a gRPC deadline on every unary call instead (streams - watch and
 *   lease keep-alive - have none, their owners bound them).
 * - Its default fault handling (3 global retries, a per-host breaker open for
 *   5 s) would retry behind our back and hide outages; the registrar has its
 *   own capped backoff that it logs, so the client's policies are no-ops.
 * - The watch manager re-arms a (referenced) reconnect timer after each stream
 *   error; the registrar drops a disconnected watcher and re-creates it
 *   itself, so a short cap here only bounds how long such a timer can keep a
 *   leaving process alive, and a closing client's timer is 0 ms.
 */
import { ExponentialBackoff, noop } from 'cockatiel';
import type { IBackoff } from 'cockatiel';
import { Etcd3 } from 'etcd3';

/** Longest a single unary etcd call may take. */
export const ETCD_CALL_TIMEOUT_MS = 2_000;

/**
 * The watch manager's reconnect delay, except that once the owner is closing
 * it is 0: the timer armed when the closing client cancels its stream then
 * fires at once (and finds nothing to reconnect) instead of holding the exit.
 */
class ClosableBackoff implements IBackoff<unknown> {
  constructor(
    private readonly inner: IBackoff<unknown>,
    private readonly closing: () => boolean,
  ) {}
  get duration(): number {
    return this.closing() ? 0 : this.inner.duration;
  }
  next(context: unknown): IBackoff<unknown> {
    return new ClosableBackoff(this.inner.next(context), this.closing);
  }
}

export function createEtcdClient(endpoints: string[], opts: { closing: () => boolean; callTimeoutMs?: number }): Etcd3 {
  const callTimeoutMs = opts.callTimeoutMs ?? ETCD_CALL_TIMEOUT_MS;
  return new Etcd3({
    hosts: endpoints,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: {
      host: () => noop,
      global: noop,
      watchBackoff: new ClosableBackoff(new ExponentialBackoff({ initialDelay: 100, maxDelay: 300 }).next(), opts.closing),
    },
  });
}
