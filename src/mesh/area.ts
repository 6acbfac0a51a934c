/**
 * Mesh area. For now: static peers enter the routing table when the node
 * starts. Leave notices and the UDP socket come with the mesh work (issue 3).
 */
import { fromCallback } from 'xstate';
import type { AnyEventObject } from 'xstate';
import type { NodeRuntime } from '../runtime.js';
import type { AreaProvision } from '../lifecycle/provided.js';
import { staticPeerEvents } from './static-peers.js';

export function createMeshArea(rt: NodeRuntime): AreaProvision {
  const meshSocket = fromCallback<AnyEventObject>(({ sendBack }) => {
    for (const event of staticPeerEvents(rt.config)) sendBack(event);
  });
  return { actors: { meshSocket } };
}
