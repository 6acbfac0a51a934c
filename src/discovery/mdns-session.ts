/**
 * One node's mDNS presence, from the first probe to the goodbye: publish
 * `_graceful-edge._tcp`, browse the same type, keep discovered peers' TTLs,
 * and say goodbye exactly once.
 *
 * It is shared by the `announcer` actor (lives while `serving`) and the
 * discovery area's `leave` step (runs in `deregistering`): leaving `serving`
 * stops the actor first, which only *quiets* the session (no more browsing,
 * no more announcements); the goodbye and the socket's close belong to the
 * leave step, so the two can never race or announce after the goodbye.
 */
import { Bonjour } from 'bonjour-service';
import type { Browser, Service } from 'bonjour-service';
import { parseHostPort } from '../config/host-port.js';
import type { Logger } from '../log/logger.js';
import type { PeerInfo } from '../../machines/events.js';
import { openTransport } from './bonjour-transport.js';
import type { BonjourTransport, DnsPacket, DnsRecord } from './bonjour-transport.js';
import { planGoodbye, sendGoodbye } from './goodbye.js';
import { candidateNames, probeConflict } from './instance-probe.js';
import { ConflictRateLimit, SeenClaims, findConflict } from './name-conflict.js';
import type { Conflict } from './name-conflict.js';
import type { MdnsStatus } from './mdns-status.js';
import { RecordLifetimes } from './record-lifetimes.js';
import { addressRecords, serviceRecords } from './service-records.js';
import { SERVICE_TYPE, encodeTxt, readAdvert } from './service-txt.js';
import type { SelfAdvert } from './service-txt.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';

/** RFC 6762 §8.3: at least two announcements, one second apart; then answer queries. */
const ANNOUNCE_AT_MS = [0, 1_000, 3_000];
const LIFETIME_TICK_MS = 250;
/** A repeated complaint about the same thing is logged at most this often. */
const LOG_EVERY_MS = 10_000;

export type MdnsCountedEvent = 'announcement' | 'goodbye' | 'send_error' | 'malformed' | 'ignored_service' | 'name_conflict';

export interface SessionHooks {
  peerFound(peer: PeerInfo): void;
  peerLeft(address: string, reason: string): void;
  /** For /metrics. */
  count(event: MdnsCountedEvent, n?: number): void;
}

interface Tracked {
  address: string;
  id: string;
}

/** What the node announces under one instance name. */
interface Claim {
  instance: string;
  /** Lower-case `<instance>._graceful-edge._tcp.local`. */
  fqdn: string;
  records: DnsRecord[];
}

export class MdnsSession {
  readonly #log: Logger;
  readonly #status: MdnsStatus;
  readonly #hooks: SessionHooks;
  readonly #nodeId: string;
  readonly #transport: BonjourTransport;
  readonly #abort = new AbortController();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #tracked = new Map<string, Tracked>();
  readonly #lifetimes = new RecordLifetimes();
  /** SRV/TXT TTL (seconds) per service name, from the packet being processed. */
  readonly #packetTtls = new Map<string, number>();
  readonly #complaints = new RateLimitedLog(LOG_EVERY_MS);
  readonly #seenClaims = new SeenClaims();
  readonly #conflictLimit = new ConflictRateLimit();
  /** Pending announcements of the current name (cancelled when it is given up). */
  readonly #announceTimers = new Set<NodeJS.Timeout>();
  #browser: Browser | null = null;
  #advert: SelfAdvert | null = null;
  /** The name held and answered for; null while probing or after giving one up. */
  #claim: Claim | null = null;
  /** Every candidate before this index was found taken. */
  #nextCandidate = 0;
  #announcedFqdn: string | null = null;
  #quiet = false;
  #goodbye: Promise<boolean> | null = null;

  constructor(opts: { nodeId: string; iface: string | null; logger: Logger; status: MdnsStatus; hooks: SessionHooks }) {
    this.#nodeId = opts.nodeId;
    this.#log = opts.logger;
    this.#status = opts.status;
    this.#hooks = opts.hooks;
    this.#transport = openTransport({ iface: opts.iface, onAnswerError: (e) => this.#sendFailed('answer', e) });
    const { mdns } = this.#transport;
    mdns.on('warning', (e: Error) => this.#warning(e));
    // Before the browser's listener: TTLs and goodbyes of SRV/TXT records,
    // which bonjour-service's browser ignores.
    mdns.on('response', (packet: DnsPacket) => this.#onResponse(packet));
  }

  /** Binds, browses, probes a unique name, registers and announces. */
  async start(advert: SelfAdvert): Promise<void> {
    const status = this.#status;
    try {
      await this.#transport.ready;
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      status.phase = 'failed';
      status.lastError = `cannot bind UDP ${5353}: ${e.code ?? e.message}`;
      this.#log.error({ err: e, code: e.code }, 'mDNS disabled: cannot bind UDP 5353');
      return;
    }
    if (this.#quiet) return;
    this.#advert = advert;
    this.#browse();
    await this.#claimName();
  }

  /** The records the node would announce as `instance`. */
  #claimFor(instance: string, advert: SelfAdvert): Claim {
    const host = `${advert.nodeId}.local`;
    const { host: proxyHost, port } = parseHostPort(advert.proxy);
    const service = new Bonjour.Service(
      { name: instance, type: SERVICE_TYPE, protocol: 'tcp', port, host, txt: encodeTxt(advert) },
      () => undefined,
      () => undefined,
    ) as Service;
    const library = service.records() as DnsRecord[];
    return {
      instance,
      fqdn: service.fqdn.toLowerCase(),
      records: serviceRecords(library, addressRecords(host, proxyHost, library, this.#status.interface)),
    };
  }

  /**
   * Probes the candidates from `#nextCandidate` on and announces the first
   * free one. Used at start and again after a conflict while announced.
   */
  async #claimName(): Promise<void> {
    const status = this.#status;
    const advert = this.#advert;
    if (advert === null) return;
    const candidates = candidateNames(advert.nodeId);
    status.phase = 'probing';
    while (this.#nextCandidate < candidates.length) {
      const name = candidates[this.#nextCandidate]!;
      const wait = this.#conflictLimit.delayBeforeProbe(Date.now());
      if (wait > 0) {
        this.#complain('conflict-rate', 'warn', { waitMs: wait, instance: name }, 'mDNS: too many name conflicts (15 in 10 s); waiting before probing again');
        if (!(await this.#sleep(wait))) return;
      }
      const claim = this.#claimFor(name, advert);
      const conflict =
        this.#seenClaims.conflictWith(claim.records, Date.now()) ??
        (await probeConflict(this.#transport.mdns, claim.fqdn, claim.records, this.#abort.signal, (e) => this.#sendFailed('probe', e)));
      if (this.#quiet) return;
      if (conflict === null) return this.#hold(claim);
      this.#nextCandidate++;
      this.#noteConflict(name);
      this.#log.warn(
        { instance: name, record: conflict.detail },
        'mDNS name conflict: trying another name',
      );
    }
    status.phase = 'failed';
    status.lastError = 'every candidate instance name is taken';
    this.#log.error({ tried: status.conflicts }, 'mDNS: every candidate instance name is taken; not announcing');
  }

  #noteConflict(name: string): void {
    this.#status.conflicts.push(name);
    this.#conflictLimit.record(Date.now());
    this.#hooks.count('name_conflict');
  }

  /** Registers the records (so queries are answered) and schedules the announcements. */
  #hold(claim: Claim): void {
    const status = this.#status;
    this.#claim = claim;
    this.#transport.server.register(claim.records);
    status.instance = claim.instance;
    status.host = `${this.#advert?.nodeId}.local`;
    status.phase = 'announcing';
    if (status.conflicts.length > 0) {
      this.#log.warn({ instance: claim.instance, conflicts: status.conflicts }, 'mDNS: announcing under another name after a name conflict');
    }
    for (const at of ANNOUNCE_AT_MS) {
      const timer = setTimeout(() => (this.#announceTimers.delete(timer), this.#announce(claim)), at);
      this.#announceTimers.add(timer);
    }
  }

  #announce(claim: Claim): void {
    if (this.#quiet || this.#claim !== claim) return;
    this.#transport.mdns.respond({ answers: claim.records }, (error) => {
      if (error) return this.#sendFailed('announcement', error);
      this.#status.announcements++;
      this.#hooks.count('announcement');
      // A conflict may have taken the name while this datagram was queued.
      if (this.#claim !== claim) return;
      if (this.#status.phase === 'announcing') this.#status.phase = 'announced';
      if (this.#announcedFqdn !== claim.fqdn) {
        this.#announcedFqdn = claim.fqdn;
        this.#log.info({ instance: claim.instance, fqdn: claim.fqdn, host: this.#status.host, records: claim.records.length }, 'mDNS: announced');
      }
    });
  }

  /**
   * RFC 6762 §9: another responder now answers for the name the node holds.
   * The node gives the name up — stops answering for it and sends NO goodbye,
   * since a TTL-0 record for that name would make browsers drop the other
   * responder, who may be its rightful owner — then probes the next name.
   */
  #yieldName(claim: Claim, conflict: Conflict): void {
    for (const t of this.#announceTimers) clearTimeout(t);
    this.#announceTimers.clear();
    this.#transport.server.unregister(claim.records);
    this.#claim = null;
    this.#status.instance = null;
    this.#status.phase = 'probing';
    this.#nextCandidate++;
    this.#noteConflict(claim.instance);
    // Called while the conflicting datagram is being decoded: lastSource() is its sender.
    this.#log.warn(
      { instance: claim.instance, from: this.#transport.lastSource(), record: conflict.detail, after: 'announcing' },
      'mDNS name conflict after announcing: giving the name up without a goodbye and trying another',
    );
    // Ask for the name: the other responder answers with its records (cache-
    // flush bit set), so caches that took ours replace them with its own.
    this.#transport.mdns.query(claim.fqdn, 'ANY', (e) => e && this.#sendFailed('query', e));
    // With no name held (#claim is null) no further conflict is acted on
    // until the next name is: one rename at a time.
    void this.#claimName().catch((error: unknown) => {
      this.#status.phase = 'failed';
      this.#status.lastError = (error as Error).message;
      this.#log.error({ err: error }, 'mDNS rename failed');
    });
  }

  /** Resolves true after `ms`, false if the session was quieted first. */
  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.#quiet) return resolve(false);
      const onAbort = () => (clearTimeout(timer), resolve(false));
      const timer = setTimeout(() => (this.#abort.signal.removeEventListener('abort', onAbort), resolve(!this.#quiet)), ms);
      this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #browse(): void {
    const browser = this.#transport.browse();
    this.#browser = browser;
    browser.on('up', (s: Service) => this.#seen(s));
    browser.on('srv-update', (s: Service) => this.#seen(s));
    browser.on('txt-update', (s: Service) => this.#seen(s));
    browser.on('down', (s: Service) => this.#forget(s.fqdn, 'mdns goodbye'));
    this.#later(LIFETIME_TICK_MS, () => this.#tickLifetimes(), true);
  }

  #seen(service: Service): void {
    if (this.#quiet || typeof service.fqdn !== 'string') return;
    const key = service.fqdn.toLowerCase();
    if (key === this.#claim?.fqdn) return;
    const advert = readAdvert(service.txt, service.port, service.referer?.address);
    if (!advert.ok) {
      this.#status.ignoredServices++;
      this.#hooks.count('ignored_service');
      this.#complain(`ignore:${key}:${advert.reason}`, 'warn', { service: service.fqdn, from: service.referer?.address, reason: advert.reason }, 'mDNS: ignoring a service');
      if (this.#tracked.has(key)) this.#forget(service.fqdn, 'mdns record invalid');
      return;
    }
    if (advert.peer.id === this.#nodeId) return;
    const known = this.#tracked.get(key);
    if (known && known.address !== advert.peer.address) this.#forget(service.fqdn, 'mdns address changed', false);
    this.#tracked.set(key, { address: advert.peer.address, id: advert.peer.id });
    const ttl = this.#packetTtls.get(key) ?? service.ttl ?? 120;
    this.#lifetimes.refresh(key, ttl, Date.now());
    this.#status.peers = this.#tracked.size;
    this.#hooks.peerFound({
      address: advert.peer.address,
      meshPort: advert.peer.meshPort,
      id: advert.peer.id,
      source: 'mdns',
      status: 'alive',
      lastSeen: Date.now(),
    });
  }

  /** Drops a peer: chart event, lifetime, and the browser's copy (so a return is an `up` again). */
  #forget(fqdn: string, reason: string, tellBrowser = true): void {
    const key = fqdn.toLowerCase();
    const known = this.#tracked.get(key);
    if (!known) return;
    this.#tracked.delete(key);
    this.#lifetimes.forget(key);
    this.#status.peers = this.#tracked.size;
    this.#log.debug({ service: fqdn, peer: known.address, reason }, 'mDNS: service gone');
    this.#hooks.peerLeft(known.address, reason);
    if (tellBrowser) (this.#browser as unknown as { removeService?: (n: string) => void } | null)?.removeService?.(fqdn);
  }

  #onResponse(packet: DnsPacket): void {
    if (this.#quiet) return;
    this.#packetTtls.clear();
    const now = Date.now();
    const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
    this.#seenClaims.remember(records, now);
    // RFC 6762 §9: conflicts are watched for as long as a name is held, not
    // only while probing. Our own looped-back packets carry our exact rdata.
    const claim = this.#claim;
    if (claim !== null) {
      const conflict = findConflict(records, claim.records);
      if (conflict !== null) this.#yieldName(claim, conflict);
    }
    for (const rr of records) {
      if ((rr.type !== 'SRV' && rr.type !== 'TXT') || typeof rr.name !== 'string') continue;
      const key = rr.name.toLowerCase();
      const ttl = rr.ttl ?? 0;
      if (ttl === 0) {
        // A goodbye of the SRV alone (no PTR) still means the instance is gone.
        if (rr.type === 'SRV' && this.#tracked.has(key)) this.#forget(rr.name, 'mdns goodbye');
        continue;
      }
      const prev = this.#packetTtls.get(key);
      this.#packetTtls.set(key, prev === undefined ? ttl : Math.min(prev, ttl));
    }
    for (const [key, ttl] of this.#packetTtls) if (this.#tracked.has(key)) this.#lifetimes.refresh(key, ttl, now);
  }

  #tickLifetimes(): void {
    const { expired, query } = this.#lifetimes.tick(Date.now());
    for (const key of expired) this.#forget(key, 'mdns ttl expired');
    if (query && !this.#quiet) this.#transport.mdns.query(`_${SERVICE_TYPE}._tcp.local`, 'PTR', (e) => e && this.#sendFailed('query', e));
  }

  #warning(error: Error): void {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) {
      // multicast-dns could not decode the datagram as DNS.
      this.#status.malformedPackets++;
      this.#hooks.count('malformed');
      const from = this.#transport.lastSource();
      this.#complain('malformed', 'warn', { from, error: error.message, malformed: this.#status.malformedPackets }, 'mDNS: dropped an undecodable packet');
      return;
    }
    this.#complain(`warning:${code}`, 'warn', { code, error: error.message }, 'mDNS socket warning');
  }

  #sendFailed(what: string, error: Error): void {
    const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    this.#status.sendErrors++;
    this.#hooks.count('send_error');
    this.#status.lastSendError = { code, message: error.message, at: Date.now() };
    const hint = code === 'ENETUNREACH' ? { hint: 'no route for multicast: check --mdns-interface or the 224.0.0.0/4 route' } : {};
    this.#complain(`send:${what}:${code}`, 'warn', { what, code, sendErrors: this.#status.sendErrors, ...hint }, 'mDNS packet not sent');
  }

  #complain(key: string, level: 'warn' | 'debug', fields: Record<string, unknown>, msg: string): void {
    this.#complaints.hit(key, (suppressed) => this.#log[level]({ ...fields, ...(suppressed ? { suppressed } : {}) }, msg));
  }

  #later(ms: number, fn: () => void, repeat = false): void {
    const timer = repeat ? setInterval(fn, ms) : setTimeout(() => (this.#timers.delete(timer), fn()), ms);
    this.#timers.add(timer);
  }

  /** Stops browsing and announcing; answers to queries stop with the goodbye. */
  quiesce(): void {
    if (this.#quiet) return;
    this.#quiet = true;
    this.#abort.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const t of this.#announceTimers) clearTimeout(t);
    this.#announceTimers.clear();
    this.#browser?.stop();
  }

  /**
   * Unregisters every record (no more answers), sends them with TTL 0 three
   * times and closes the socket after the last one left. Idempotent: the
   * first caller's deadline applies. Resolves true when a goodbye was sent.
   */
  goodbye(timeoutMs: number): Promise<boolean> {
    return (this.#goodbye ??= this.#sayGoodbye(timeoutMs));
  }

  async #sayGoodbye(timeoutMs: number): Promise<boolean> {
    this.quiesce();
    const claim = this.#claim;
    this.#claim = null;
    const records = claim?.records ?? [];
    let sent = false;
    if (records.length > 0 && this.#status.phase !== 'failed') {
      this.#transport.server.unregister(records);
      const started = Date.now();
      const plan = planGoodbye(timeoutMs);
      const result = await sendGoodbye(this.#transport.mdns, records, plan, Math.max(0, timeoutMs - 25));
      this.#status.goodbyesSent += result.sent;
      this.#hooks.count('goodbye', result.sent);
      this.#status.phase = 'goodbye';
      sent = result.sent > 0;
      if (result.lastError) this.#sendFailed('goodbye', result.lastError);
      this.#log[sent ? 'info' : 'warn'](
        { instance: this.#status.instance, fqdn: claim?.fqdn, ttl: 0, sent: result.sent, failed: result.failed, spacingMs: plan.spacingMs, tookMs: Date.now() - started },
        'mDNS goodbye sent',
      );
    } else {
      this.#log.info({ phase: this.#status.phase }, 'mDNS: no name is held, no goodbye to send');
    }
    await this.#transport.close();
    this.#status.phase = 'closed';
    return sent;
  }
}
