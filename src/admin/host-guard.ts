/**
 * Without a token, the admin listener trusts whoever can reach it, which is
 * only safe while it is reachable from this host alone:
 *
 * - the bound socket's address must be loopback (not the text of `--admin`:
 *   a name such as `127.admin.internal` or a `localhost` mapped elsewhere in
 *   /etc/hosts may resolve to any interface);
 * - the request's `Host` must be a loopback name or address. A browser on
 *   this host visiting an attacker's page whose DNS name is rebound to
 *   127.0.0.1 would otherwise read `/state` or `/events` from that page:
 *   the browser sends the attacker's name as `Host`, which is refused here.
 *
 * `/healthz` and `/readyz` answer any Host (load balancers' probes use all
 * kinds of names; they reveal only liveness and the lifecycle name).
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';

/** A bound socket address (as `server.address().address`) that only this host can reach. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(a)) return a.startsWith('127.');
  return a === '::1';
}

/** The host name of a `Host` header, without port or IPv6 brackets; null when unparsable. */
export function hostNameOf(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : null;
  }
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * Whether a tokenless admin may answer this request's `Host`: `localhost`
 * (and `*.localhost`, which resolvers must keep on loopback, RFC 6761), a
 * loopback IP literal, or no Host at all (HTTP/1.0 tools; browsers always send one).
 */
export function loopbackHostAllowed(req: IncomingMessage): boolean {
  const header = req.headers.host;
  if (header === undefined) return true;
  const name = hostNameOf(header);
  if (name === null) return false;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return isLoopbackAddress(name);
}
