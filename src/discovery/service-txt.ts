/**
 * The TXT record of `_graceful-edge._tcp`: what a peer needs to route to a
 * node and send it mesh notices. Anything found on the network is untrusted
 * input, so reading it validates every field and says precisely what is wrong.
 */
import * as z from '../zod.js';
import { formatHostPort, isLoopbackHost, parseHostPort } from '../config/host-port.js';

export const SERVICE_TYPE = 'graceful-edge';
export const TXT_VERSION = '1';

export interface SelfAdvert {
  nodeId: string;
  /** The proxy's bound `host:port`. */
  proxy: string;
  meshPort: number;
}

export type TxtRecord = Record<string, string>;

export function encodeTxt(self: SelfAdvert): TxtRecord {
  const { port } = parseHostPort(self.proxy);
  return {
    v: TXT_VERSION,
    id: self.nodeId,
    address: self.proxy,
    proxyPort: String(port),
    meshPort: String(self.meshPort),
  };
}

const portText = (name: string, min: number) =>
  z.pipe(
    z.string({ error: `TXT ${name} is missing` }).check(z.regex(/^\d{1,5}$/, `TXT ${name} is not a port number`)),
    z.pipe(
      z.transform(Number),
      z.number().check(z.refine((n) => n >= min && n <= 65535, `TXT ${name} is out of range`)),
    ),
  );

const txtSchema = z.object({
  id: z
    .string({ error: 'TXT id is missing' })
    .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'TXT id is not a valid node id')),
  address: z.optional(z.string()),
  proxyPort: portText('proxyPort', 1),
  meshPort: portText('meshPort', 0),
});

export interface AdvertisedPeer {
  id: string;
  address: string;
  meshPort: number;
}

export type TxtVerdict = { ok: true; peer: AdvertisedPeer } | { ok: false; reason: string };

const UNSPECIFIED = new Set(['0.0.0.0', '::', '']);

/**
 * Reads a discovered service. `refererAddress` is the packet's source: it is
 * where the node really is when the advertised host cannot be used from here
 * (unspecified, or loopback of another machine).
 */
export function readAdvert(txt: unknown, srvPort: number | undefined, refererAddress: string | undefined): TxtVerdict {
  if (txt === null || typeof txt !== 'object') return { ok: false, reason: 'no TXT record' };
  const parsed = txtSchema.safeParse(txt);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues[0]?.message ?? 'bad TXT record' };
  const { id, proxyPort, meshPort } = parsed.data;
  if (srvPort !== undefined && srvPort !== proxyPort) {
    return { ok: false, reason: `SRV port ${srvPort} differs from TXT proxyPort ${proxyPort}` };
  }
  let host: string | null = null;
  if (parsed.data.address !== undefined) {
    let advertised;
    try {
      advertised = parseHostPort(parsed.data.address);
    } catch {
      return { ok: false, reason: `TXT address "${parsed.data.address.slice(0, 80)}" is not HOST:PORT` };
    }
    if (advertised.port !== proxyPort) return { ok: false, reason: 'TXT address port differs from proxyPort' };
    const fromElsewhere = refererAddress !== undefined && !isLoopbackHost(refererAddress) && !UNSPECIFIED.has(refererAddress);
    if (!UNSPECIFIED.has(advertised.host) && !(isLoopbackHost(advertised.host) && fromElsewhere)) host = advertised.host;
  }
  if (host === null) {
    if (refererAddress === undefined || UNSPECIFIED.has(refererAddress)) {
      return { ok: false, reason: 'no usable address (none advertised, packet source unknown)' };
    }
    host = refererAddress;
  }
  return { ok: true, peer: { id, address: formatHostPort({ host, port: proxyPort }), meshPort } };
}
