/**
 * Registry area (`--etcd`): the `registrar` actor, alive while `serving`,
 * keeps this node registered in etcd and turns the prefix watch into peer
 * events; the leave step revokes the lease so the key disappears at once.
 * Without `--etcd` it provides nothing and the chart's idle stub stays.
 */
import { fromCallback } from 'xstate';
import type { AnyEventObject } from 'xstate';
import type { LifecycleEvent } from '../../machines/events.js';
import type { NodeRuntime } from '../runtime.js';
import type { AreaProvision } from '../lifecycle/provided.js';
import { EtcdRegistration } from './etcd-registration.js';

export function createRegistryArea(rt: NodeRuntime): AreaProvision {
  if (rt.config.etcd.length === 0) return {};
  const registration = new EtcdRegistration(rt);
  rt.registry = { etcd: registration.status };
  rt.restart?.onRelease(() => registration.handOver());
  const registrar = fromCallback<AnyEventObject>(({ sendBack }) => {
    registration.start((event: LifecycleEvent) => sendBack(event));
    return () => registration.stop();
  });
  return {
    actors: { registrar },
    leave: (timeoutMs) => registration.leave(timeoutMs),
  };
}
