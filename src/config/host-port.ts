/** `HOST:PORT` and `[v6]:PORT` as used by --listen, --admin and --peer. */
import net from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new Error(`expected HOST:PORT or [IPv6]:PORT, got "${text}"`);
  const host = (match[1] ?? match[2])!;
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`port ${port} is out of range`);
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `host:port` optionally followed by `/meshport`. */
export function parsePeerSpec(text: string, defaultMeshPort: number): HostPort & { meshPort: number } {
  const slash = text.lastIndexOf('/');
  const hostPart = slash >= 0 ? text.slice(0, slash) : text;
  const meshPart = slash >= 0 ? text.slice(slash + 1) : undefined;
  const hp = parseHostPort(hostPart);
  let meshPort = defaultMeshPort;
  if (meshPart !== undefined) {
    if (!/^\d{1,5}$/.test(meshPart) || Number(meshPart) > 65535 || Number(meshPart) === 0) {
      throw new Error(`bad mesh port "${meshPart}" in "${text}"`);
    }
    meshPort = Number(meshPart);
  }
  return { ...hp, meshPort };
}

/**
 * Loopback by its text: `localhost` or a loopback IP literal. A name that
 * merely starts with "127." (`127.admin.internal`) is a DNS name and may
 * resolve anywhere; the admin listener also checks the address it bound.
 */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return net.isIPv4(host) && host.startsWith('127.');
}
