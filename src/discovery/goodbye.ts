/**
 * The mDNS goodbye (RFC 6762 §10.1): every record the node announced, re-sent
 * with TTL 0, so browsers drop it at once instead of after its TTL. Sent more
 * than once (a single datagram can be lost; python-zeroconf sends 3, 125 ms
 * apart) and awaited: each send's callback means the datagram was handed to
 * the kernel, so the socket is closed only after the last one left.
 */
import type { DnsRecord, MulticastDns } from './bonjour-transport.js';

export interface GoodbyePlan {
  repeats: number;
  spacingMs: number;
}

const REPEATS = 3;
const SPACING_MS = 125;
/** Kept free at the end of the deregister slice for closing the socket. */
const CLOSE_MARGIN_MS = 50;

/** Fits 3 sends into the time given, shrinking the spacing if it must. */
export function planGoodbye(timeoutMs: number): GoodbyePlan {
  const room = Math.max(0, timeoutMs - CLOSE_MARGIN_MS);
  return { repeats: REPEATS, spacingMs: Math.min(SPACING_MS, Math.floor(room / REPEATS)) };
}

export function goodbyeRecords(records: DnsRecord[]): DnsRecord[] {
  return records.map((r) => ({ ...r, ttl: 0 }));
}

export interface GoodbyeResult {
  sent: number;
  failed: number;
  lastError: Error | null;
}

/** Sends the TTL-0 records `plan.repeats` times; resolves when the last send completed or `deadline` passed. */
export function sendGoodbye(mdns: MulticastDns, records: DnsRecord[], plan: GoodbyePlan, deadlineMs: number): Promise<GoodbyeResult> {
  const result: GoodbyeResult = { sent: 0, failed: 0, lastError: null };
  const answers = goodbyeRecords(records);
  return new Promise<GoodbyeResult>((resolve) => {
    let settled = 0;
    const timers: NodeJS.Timeout[] = [];
    const done = () => {
      timers.forEach(clearTimeout);
      resolve(result);
    };
    const deadline = setTimeout(done, deadlineMs);
    for (let i = 0; i < plan.repeats; i++) {
      const send = () =>
        mdns.respond({ answers }, (error) => {
          if (error) {
            result.failed++;
            result.lastError = error;
          } else result.sent++;
          if (++settled === plan.repeats) {
            clearTimeout(deadline);
            done();
          }
        });
      if (i === 0) send();
      else timers.push(setTimeout(send, i * plan.spacingMs));
    }
  });
}
