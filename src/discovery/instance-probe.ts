/**
 * Probing for a unique instance name (RFC 6762 §8.1). bonjour-service's own
 * probe only `console.log`s a conflict — and then sends a goodbye for the name
 * it does not own, which would make browsers drop the rightful owner. So the
 * node probes before it registers anything and picks the next free name.
 *
 * The probes are real probes: the question plus, in the Authority section,
 * the records the node proposes (§8.2). Responders treat such a query as a
 * probe and answer at once; a plain query would be answered after the
 * responder's aggregation delay (python-zeroconf: 20–500 ms, and 1–1.2 s when
 * it multicast the record within the last second), which can miss the window.
 * A responder that is slower still is caught after announcing (§9, see
 * mdns-session.ts).
 */
import type { DnsPacket, DnsRecord, MulticastDns } from './bonjour-transport.js';
import { findConflict, tiebreak } from './name-conflict.js';
import type { Conflict } from './name-conflict.js';

const PROBES = 3;
const PROBE_INTERVAL_MS = 250;
/** RFC 6762 §8.1: wait at least 250 ms after the last probe. */
const ANSWER_WAIT_MS = 250;
const MAX_CANDIDATES = 16;

/** `node-a` → `node-a`, `node-a-2`, `node-a-3`, … (dots are not allowed in a label here). */
export function candidateNames(base: string): string[] {
  const label = base.split('.').join('-');
  return Array.from({ length: MAX_CANDIDATES }, (_, i) => (i === 0 ? label : `${label}-${i + 1}`));
}

export function fqdnOf(instance: string, serviceType: string): string {
  return `${instance}._${serviceType}._tcp.local`;
}

/** The probe packet: ANY for the name, our proposed records as authorities. */
export function probePacket(fqdn: string, proposed: DnsRecord[]): { questions: { name: string; type: string }[]; authorities: DnsRecord[] } {
  const wanted = fqdn.toLowerCase();
  return {
    questions: [{ name: fqdn, type: 'ANY' }],
    authorities: proposed.filter((r) => r.name.toLowerCase() === wanted),
  };
}

/** RFC 6762 §8.2: the loser of a simultaneous probe waits this long, then probes again. */
const TIEBREAK_DEFER_MS = 1_000;
/** Losing the tie-break this often for one name counts as the name being taken. */
const MAX_DEFERRALS = 3;

/**
 * Probes `fqdn` three times, 250 ms apart. Resolves with the first answer
 * whose SRV/TXT contradicts `proposed` (another responder owns the name), or
 * null when none came by 250 ms after the last probe or the probe was aborted.
 *
 * Another host probing for the same name at the same time (§8.2): the host
 * whose proposed records compare lower defers — waits one second and probes
 * again, by when the winner answers for the name. Our own probe, looped back,
 * compares equal and is ignored.
 */
export function probeConflict(
  mdns: MulticastDns,
  fqdn: string,
  proposed: DnsRecord[],
  signal: AbortSignal,
  onSendError: (e: Error) => void,
): Promise<Conflict | null> {
  return new Promise<Conflict | null>((resolve) => {
    let timers: NodeJS.Timeout[] = [];
    let done = false;
    let deferrals = 0;
    /** Bumped by a deferral, so a decision already queued for the old round is void. */
    let round = 0;
    /** Waiting out a lost tie-break: the winner's further probes change nothing. */
    let deferring = false;
    const finish = (conflict: Conflict | null) => {
      if (done) return;
      done = true;
      mdns.off('response', onResponse);
      mdns.off('query', onQuery);
      signal.removeEventListener('abort', onAbort);
      timers.forEach(clearTimeout);
      resolve(conflict);
    };
    const onResponse = (packet: DnsPacket) => {
      const conflict = findConflict([...(packet.answers ?? []), ...(packet.additionals ?? [])], proposed);
      if (conflict) finish(conflict);
    };
    const onQuery = (packet: DnsPacket) => {
      const theirs = (packet.authorities ?? []).filter((r) => typeof r.name === 'string' && r.name.toLowerCase() === wanted);
      if (deferring || theirs.length === 0 || tiebreak(proposed, theirs, fqdn) >= 0) return;
      if (++deferrals > MAX_DEFERRALS) return finish({ record: theirs[0]!, detail: `lost the simultaneous probe tie-break ${MAX_DEFERRALS} times` });
      timers.forEach(clearTimeout);
      round++;
      deferring = true;
      timers = [setTimeout(probe, TIEBREAK_DEFER_MS)];
    };
    const onAbort = () => finish(null);
    const wanted = fqdn.toLowerCase();
    const packet = probePacket(fqdn, proposed);
    const probe = () => {
      const mine = round;
      deferring = false;
      timers = [];
      for (let i = 0; i < PROBES; i++) {
        timers.push(setTimeout(() => mdns.query(packet, (e) => e && onSendError(e)), i * PROBE_INTERVAL_MS));
      }
      // Under load the timer and an answer can be due in the same loop turn;
      // timers run before pending I/O, so decide only after that I/O was read.
      timers.push(setTimeout(() => setImmediate(() => mine === round && finish(null)), (PROBES - 1) * PROBE_INTERVAL_MS + ANSWER_WAIT_MS));
    };
    if (signal.aborted) return finish(null);
    mdns.on('response', onResponse);
    mdns.on('query', onQuery);
    signal.addEventListener('abort', onAbort);
    probe();
  });
}
