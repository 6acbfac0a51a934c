/**
 * What an operator sees of mDNS in `GET /state` (`discovery.mdns`). The
 * library reports `up` even when nothing reaches the wire, so the node keeps
 * its own account of what was sent, what failed and what was ignored.
 */
export type MdnsPhase = 'off' | 'starting' | 'probing' | 'announcing' | 'announced' | 'goodbye' | 'closed' | 'failed';

export interface MdnsSendError {
  code: string;
  message: string;
  at: number;
}

export interface MdnsStatus {
  phase: MdnsPhase;
  /** The DNS-SD instance name in use (changes when a conflict was found). */
  instance: string | null;
  /** Instance names given up because another responder owned them. */
  conflicts: string[];
  host: string | null;
  /** `--mdns-interface`, or null for the system default. */
  interface: string | null;
  announcements: number;
  goodbyesSent: number;
  /** Peers currently known through mDNS. */
  peers: number;
  sendErrors: number;
  lastSendError: MdnsSendError | null;
  /** Packets that could not be decoded as DNS. */
  malformedPackets: number;
  /** Services of our type ignored because their TXT/SRV made no sense. */
  ignoredServices: number;
  lastError: string | null;
}

export function initialMdnsStatus(enabled: boolean, iface: string | null): MdnsStatus {
  return {
    phase: enabled ? 'starting' : 'off',
    instance: null,
    conflicts: [],
    host: null,
    interface: iface,
    announcements: 0,
    goodbyesSent: 0,
    peers: 0,
    sendErrors: 0,
    lastSendError: null,
    malformedPackets: 0,
    ignoredServices: 0,
    lastError: null,
  };
}
