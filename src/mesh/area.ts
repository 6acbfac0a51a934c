/**
 * Mesh area: the UDP mesh socket (root actor: it must outlive `serving` so
 * the leave notices sent while `leaving` still get their acks), the peer
 * prober (`serving`), and the leave step of deregistering.
 */
import { fromCallback } from 'xstate';
import type { AnyEventObject } from 'xstate';
import type { LifecycleEvent, MeshCommand } from '../../machines/events.js';
import type { Shared } from '../runtime.js';
import type { ReadonlyPeers } from '../routing/peer-table.js';
import type { RestartState } from '../restart/restart-state.js';
import type { AreaProvision } from '../areas/provision.js';
import { formatHostPort, parseHostPort } from '../config/host-port.js';
import { staticPeerEvents } from './static-peers.js';
import { MeshEndpoint } from './endpoint.js';
import { matchPeer } from './peer-match.js';
import { sendLeaveNotices } from './leave-step.js';
import { startPeerProber } from './peer-prober.js';
import type { PeerProber } from './peer-prober.js';
import { MESH_KINDS } from './wire.js';

export function createMeshArea(rt: Shared, peers: ReadonlyPeers, restart: RestartState): AreaProvision {
  const logger = rt.logger.child({ component: 'mesh' });
  const key = rt.config.meshKey;
  const sent = new rt.metrics.client.Counter({
    name: 'graceful_edge_mesh_sent_total',
    help: 'Mesh messages sent, by kind (leave, ack, ping, pong).',
    labelNames: ['kind'] as const,
    registers: [rt.metrics.registry],
  });
  for (const kind of MESH_KINDS) sent.inc({ kind }, 0);
  /** Set while the root's mesh socket is bound; the leave step and prober use it. */
  let endpoint: MeshEndpoint | null = null;
  /** Set while the prober runs (serving); the mesh socket nudges it. */
  let prober: PeerProber | null = null;

  const meshSocket = fromCallback<MeshCommand>(({ sendBack, receive }) => {
    // Told by the chart: serving (with the bound proxy address) or not. A
    // leaving node must not look alive to a prober.
    let serving = false;
    let selfAddress = rt.config.listen;
    receive((cmd) => {
      if (cmd.type === 'MESH.SERVING') {
        serving = true;
        selfAddress = cmd.proxyAddress;
      } else serving = false;
    });
    for (const event of staticPeerEvents(rt.config)) sendBack(event);
    if (!key) {
      logger.warn(
        { mesh: 'no_key' },
        'no mesh key (--mesh-key-file or GRACEFUL_EDGE_MESH_KEY): leave notices are neither sent nor accepted',
      );
    }
    // The mesh socket follows the proxy listener's host: a loopback proxy gets a loopback mesh.
    const host = parseHostPort(rt.config.listen).host;
    const ep = new MeshEndpoint(
      {
        key,
        nodeId: rt.config.nodeId,
        selfAddress: () => selfAddress,
        logger,
        metrics: rt.metrics,
        sent,
        handlers: {
          onLeave: (msg, from) => {
            const match = matchPeer(peers.list(), msg, from.address);
            if (!match.peer) {
              logger.warn({ mesh: 'leave', from: msg.id, addr: msg.addr, reason: match.reason }, 'leave notice ignored');
              return 'unknown_peer';
            }
            if (match.peer.status !== 'left') {
              logger.info({ mesh: 'leave', from: msg.id, peer: match.peer.address }, 'leave notice received');
            }
            sendBack({ type: 'PEER.LEFT', address: match.peer.address, reason: 'leave notice' } satisfies LifecycleEvent);
            return 'accepted';
          },
          answerPing: (msg, from) => {
            // Only a serving node pings: a peer we had as left (or suspect)
            // that pings us has started again. Our own probe, due now rather
            // than after its backoff, decides whether it gets traffic.
            const match = matchPeer(peers.list(), msg, from.address);
            if (match.peer && match.peer.status !== 'alive') prober?.probeSoon(match.peer.address);
            return serving;
          },
        },
      },
      host,
      restart.inherited.mesh,
    );
    let closed = false;
    // Hot restart: the successor receives on this socket now; this process stops reading it.
    const unrelease = restart.onRelease(() => {
      endpoint = null;
      ep.close();
    });
    ep.bind(host, rt.config.meshPort).then(
      (port) => {
        if (closed) return;
        endpoint = ep;
        sendBack({ type: 'MESH.LISTENING', port } satisfies LifecycleEvent);
        restart.register('mesh', ep.socket);
        logger.info({ mesh: port, udp: formatHostPort({ host, port }) }, 'mesh listening');
      },
      (error: NodeJS.ErrnoException) => {
        logger.error(
          { err: error.message, code: error.code, meshPort: rt.config.meshPort, udp: formatHostPort({ host, port: rt.config.meshPort }) },
          'mesh socket cannot bind: leave notices are neither sent nor received',
        );
        ep.close();
      },
    );
    return () => {
      unrelease();
      closed = true;
      endpoint = null;
      ep.close();
    };
  });

  const peerProber = fromCallback<AnyEventObject>(({ sendBack }) => {
    const started = startPeerProber({
      endpoint: () => endpoint,
      hasKey: key !== null,
      peers: () => peers.list(),
      peer: (address) => peers.get(address),
      logger,
      sendBack,
    });
    prober = started;
    return () => {
      if (prober === started) prober = null;
      started.stop();
    };
  });

  return {
    actors: { meshSocket, peerProber },
    leave: ({ timeoutMs, shutdownAt }) =>
      sendLeaveNotices(
        {
          endpoint,
          hasKey: key !== null,
          peers: () => peers.list(),
          logger,
          signalAt: () => shutdownAt,
        },
        timeoutMs,
      ),
  };
}
