/**
 * Registry area (`--etcd`): the `registrar` actor, alive while `serving`,
 * keeps this node registered in etcd and turns the prefix watch into peer
 * events; the leave step revokes the lease so the key disappears at once.
 * Without `--etcd` it provides nothing and the chart's idle stub stays, and
 * etcd3 with its gRPC stack (~25 MiB of RSS) is never loaded: the
 * registration module is a dynamic import, started at once when configured.
 */
import { fromCallback } from 'xstate';
import type { AnyEventObject } from 'xstate';
import type { LifecycleEvent } from '../../machines/events.js';
import type { RegistrarInput } from '../../machines/lifecycle.js';
import type { Shared } from '../runtime.js';
import type { RestartState } from '../restart/restart-state.js';
import type { AreaProvision } from '../areas/provision.js';
import type { EtcdRegistration } from './etcd-registration.js';
import { LEASE_TTL_SEC, initialEtcdStatus, type EtcdRegistryStatus } from './registry-status.js';

/**
 * `status` is this area's (null without `--etcd`), read by the admin's
 * /state; only this area changes it.
 */
export function createRegistryArea(rt: Shared, restart: RestartState, startedAt: number): AreaProvision & { readonly status: Readonly<EtcdRegistryStatus> | null } {
  if (rt.config.etcd.length === 0) return { status: null };
  const status = initialEtcdStatus(rt.config.etcd, `${rt.config.etcdPrefix}${rt.config.nodeId}`, LEASE_TTL_SEC);
  const loading: Promise<EtcdRegistration | null> = import('./etcd-registration.js').then(
    (m) => new m.EtcdRegistration({ ...rt, restart, startedAt }, status),
    (error: unknown) => {
      status.lastError = `etcd client could not be loaded: ${(error as Error).message}`;
      rt.logger.error({ component: 'etcd', err: error }, 'etcd client could not be loaded');
      return null;
    },
  );
  restart.onRelease(() => void loading.then((registration) => registration?.handOver()));
  const registrar = fromCallback<AnyEventObject, RegistrarInput>(({ sendBack, input }) => {
    let stopped = false;
    void loading.then((registration) => {
      if (!stopped) registration?.start((event: LifecycleEvent) => sendBack(event), input);
    });
    return () => {
      stopped = true;
      void loading.then((registration) => {
        if (registration?.started) registration.stop();
        else
          rt.logger.warn(
            { component: 'etcd' },
            'serving ended without a deregistration step: the etcd client was still loading, nothing was registered and nothing is left to revoke',
          );
      });
    };
  });
  return {
    actors: { registrar },
    leave: async ({ timeoutMs }) => {
      const registration = await loading;
      return registration ? registration.leave(timeoutMs) : { leaseRevoked: false };
    },
    status,
  };
}
