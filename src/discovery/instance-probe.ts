/**
 * Probing for a unique instance name (RFC 6762 §8.1). bonjour-service's own
 * probe only `console.log`s a conflict — and then sends a goodbye for the name
 * it does not own, which would make browsers drop the rightful owner. So the
 * node probes before it registers anything and picks the next free name.
 */
import type { DnsPacket, MulticastDns } from './bonjour-transport.js';

const PROBES = 3;
const PROBE_INTERVAL_MS = 250;
const MAX_CANDIDATES = 16;

/** `node-a` → `node-a`, `node-a-2`, `node-a-3`, … (dots are not allowed in a label here). */
export function candidateNames(base: string): string[] {
  const label = base.split('.').join('-');
  return Array.from({ length: MAX_CANDIDATES }, (_, i) => (i === 0 ? label : `${label}-${i + 1}`));
}

export function fqdnOf(instance: string, serviceType: string): string {
  return `${instance}._${serviceType}._tcp.local`;
}

/** Resolves true when another responder answers for `fqdn` during the probe. */
export function probeTaken(mdns: MulticastDns, fqdn: string, signal: AbortSignal, onSendError: (e: Error) => void): Promise<boolean> {
  const wanted = fqdn.toLowerCase();
  return new Promise<boolean>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const finish = (taken: boolean) => {
      mdns.off('response', onResponse);
      signal.removeEventListener('abort', onAbort);
      timers.forEach(clearTimeout);
      resolve(taken);
    };
    const onResponse = (packet: DnsPacket) => {
      const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
      if (records.some((rr) => typeof rr.name === 'string' && rr.name.toLowerCase() === wanted && (rr.ttl ?? 0) > 0)) finish(true);
    };
    const onAbort = () => finish(false);
    mdns.on('response', onResponse);
    signal.addEventListener('abort', onAbort);
    for (let i = 0; i < PROBES; i++) {
      timers.push(setTimeout(() => mdns.query(fqdn, 'ANY', (e) => e && onSendError(e)), i * PROBE_INTERVAL_MS));
    }
    timers.push(setTimeout(() => finish(false), PROBES * PROBE_INTERVAL_MS));
  });
}
