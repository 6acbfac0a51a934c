/**
 * The records this node announces. bonjour-service builds PTR/SRV/TXT and an
 * A/AAAA record for every non-internal interface; but a proxy bound to one
 * address is reachable only there (and a loopback-only host would have no
 * address record at all, which standard browsers treat as unresolvable). So
 * the address records follow where the proxy really listens.
 */
import net from 'node:net';
import type { DnsRecord } from './bonjour-transport.js';

const ADDRESS_TTL = 120;

export function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

export function addressRecords(host: string, proxyHost: string, libraryRecords: DnsRecord[], iface: string | null): DnsRecord[] {
  const record = (ip: string): DnsRecord => ({ name: host, type: net.isIPv6(ip) ? 'AAAA' : 'A', ttl: ADDRESS_TTL, data: ip });
  if (net.isIP(proxyHost) && !isUnspecified(proxyHost)) return [record(proxyHost)];
  const fromInterfaces = libraryRecords.filter((r) => r.type === 'A' || r.type === 'AAAA');
  if (iface) {
    const pinned = fromInterfaces.filter((r) => r.data === iface);
    return pinned.length > 0 ? pinned : [record(iface)];
  }
  return fromInterfaces;
}

/** The service records without the library's address records, plus ours. */
export function serviceRecords(libraryRecords: DnsRecord[], addresses: DnsRecord[]): DnsRecord[] {
  return [...libraryRecords.filter((r) => r.type !== 'A' && r.type !== 'AAAA'), ...addresses];
}
