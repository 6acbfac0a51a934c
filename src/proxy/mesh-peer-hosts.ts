/**
 * Whether a client address is a mesh peer's. A peer forwarding a request is a
 * proxy in front of this node like a `--trusted-proxy` one, so its
 * X-Forwarded-* / Forwarded must survive the second hop; the hop header it
 * adds proves nothing by itself (any client can send it), the source address
 * checked against the routing table does.
 *
 * Every peer in the table counts, whatever its status: a peer that left is
 * still draining and forwards its late requests here. A peer known by a host
 * name (not an IP literal) is not matched: resolving names per request would
 * trust whatever DNS says.
 */
import { BlockList, isIP } from 'node:net';
import { parseHostPort } from '../config/host-port.js';
import type { PeerTable } from '../routing/peer-table.js';

export interface PeerAddressCheck {
  /** True when `remote` (an IP, without `::ffff:`) is the host of a peer in the routing table. */
  isPeer(remote: string): boolean;
}

export class MeshPeerHosts implements PeerAddressCheck {
  #version = -1;
  #hosts: BlockList | null = null;

  constructor(private readonly peers: Pick<PeerTable, 'version' | 'list'>) {}

  isPeer(remote: string): boolean {
    // Rebuilt only when the table changed: a request costs one lookup.
    if (this.peers.version !== this.#version) {
      this.#version = this.peers.version;
      this.#hosts = hostsOf(this.peers.list().map((p) => p.address));
    }
    const family = isIP(remote);
    return this.#hosts !== null && family !== 0 && this.#hosts.check(remote, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** A BlockList of the IP hosts among `host:port` addresses (null: none). */
export function hostsOf(addresses: readonly string[]): BlockList | null {
  let list: BlockList | null = null;
  for (const address of addresses) {
    let host: string;
    try {
      host = parseHostPort(address).host;
    } catch {
      continue;
    }
    if (host.toLowerCase().startsWith('::ffff:')) host = host.slice(7);
    const family = isIP(host);
    if (family === 0) continue;
    list ??= new BlockList();
    list.addAddress(host, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}
