/**
 * The `deregister` actor: every area's leave step (mDNS goodbye, signed leave
 * notices, etcd lease revoke) at once, each bounded by the same timeout, so
 * one slow channel never holds up the others or the shutdown.
 */
import { fromPromise } from 'xstate';
import type { DeregisterOutcome } from '../../machines/events.js';
import type { DeregisterInput } from '../../machines/lifecycle.js';
import type { Logger } from '../log/logger.js';
import type { AreaProvision } from './provision.js';

export function createDeregisterActor(areas: AreaProvision[], logger: Logger) {
  return fromPromise<DeregisterOutcome, DeregisterInput>(async ({ input }) => {
    const started = Date.now();
    const outcome: DeregisterOutcome = { goodbyeSent: false, noticesSent: 0, acked: 0, leaseRevoked: null };
    const steps = areas.flatMap((a) => (a.leave ? [a.leave] : []));
    const results = await Promise.allSettled(steps.map((leave) => leave(input)));
    for (const r of results) {
      if (r.status === 'fulfilled') Object.assign(outcome, r.value);
      else logger.warn({ err: r.reason }, 'a deregistration step failed');
    }
    logger.info({ ...outcome, tookMs: Date.now() - started }, 'deregistered');
    return outcome;
  });
}
