/**
 * Discovery area: mDNS / DNS-SD (bonjour-service).
 *
 * `announcer` (invoked while `serving`, with the bound addresses as input) publishes `_graceful-edge._tcp` and
 * browses for other nodes, sending PEER.FOUND / PEER.LEFT to the chart. The
 * `leave` step (run by `deregistering`) sends the goodbye. Both share the one
 * session kept in this closure; see mdns-session.ts for why that is safe.
 * bonjour-service is loaded (dynamic import) only when the announcer starts
 * with mDNS on: `--no-mdns` never loads it.
 */
import { fromCallback } from 'xstate';
import type { AnyEventObject } from 'xstate';
import type { LifecycleEvent } from '../../machines/events.js';
import type { DeregisterInput, ServingInput } from '../../machines/lifecycle.js';
import type { Shared } from '../runtime.js';
import type { RestartState } from '../restart/restart-state.js';
import type { AreaProvision } from '../areas/provision.js';
import type { MdnsSession } from './mdns-session.js';
import { initialMdnsStatus, type MdnsStatus } from './mdns-status.js';

/** If serving ends without a deregister step (e.g. the proxy failed), say goodbye anyway. */
const ORPHAN_GOODBYE_MS = 500;

/** `status` is this area's, read by the admin's /state; only this area changes it. */
export function createDiscoveryArea(rt: Shared, restart: RestartState): AreaProvision & { readonly status: Readonly<MdnsStatus> } {
  const log = rt.logger.child({ component: 'mdns' });
  const status = initialMdnsStatus(rt.config.mdns, rt.config.mdnsInterface);
  let session: MdnsSession | null = null;
  const events = new rt.metrics.client.Counter({
    name: 'graceful_edge_mdns_events_total',
    help: 'mDNS events: announcement, goodbye (datagrams sent), send_error, malformed (undecodable packets), ignored_service (bad TXT/SRV), name_conflict.',
    labelNames: ['event'] as const,
    registers: [rt.metrics.registry],
  });

  // The chart invokes this only once the proxy is bound, with the addresses to announce.
  const announcer = fromCallback<AnyEventObject, ServingInput>(({ sendBack, input }) => {
    if (!rt.config.mdns) return undefined;
    let stopped = false;
    const opening = import('./mdns-session.js').then((m) => {
      const own = new m.MdnsSession({
        nodeId: rt.config.nodeId,
        iface: rt.config.mdnsInterface,
        logger: log,
        status,
        hooks: {
          peerFound: (peer) => sendBack({ type: 'PEER.FOUND', peer } satisfies LifecycleEvent),
          peerLeft: (address, reason) => sendBack({ type: 'PEER.LEFT', address, reason } satisfies LifecycleEvent),
          count: (event, n = 1) => events.inc({ event }, n),
        },
      });
      session = own;
      return own;
    });
    void (async () => {
      const mdns = await opening;
      if (stopped) return;
      await mdns.start({ nodeId: rt.config.nodeId, proxy: input.proxyAddress, meshPort: input.meshPort ?? rt.config.meshPort });
    })().catch((error: unknown) => {
      status.phase = 'failed';
      status.lastError = (error as Error).message;
      log.error({ err: error }, 'mDNS failed');
    });
    return () => {
      stopped = true;
      // Nothing more is announced or browsed from here on; the goodbye is the
      // leave step's. Should no leave step come, it is sent anyway.
      void opening.then((mdns) => {
        mdns.quiesce();
        // Hot restart: not a departure. Peers keep the records (until their TTL);
        // the successor announces the same ones. A shutdown later still says goodbye.
        if (restart.presenceHeld) return;
        setTimeout(() => void mdns.goodbye(ORPHAN_GOODBYE_MS), 0);
      }, () => undefined);
    };
  });

  const leave = async ({ timeoutMs }: DeregisterInput) => {
    if (!session) return {};
    return { goodbyeSent: await session.goodbye(timeoutMs) };
  };

  return { actors: { announcer }, leave, status };
}
