/**
 * The one description of every option: its type, its default and how a
 * string (from a flag, an env variable) becomes a value. Validation errors
 * name the option as an operator types it (`--drain-timeout`).
 */
import os from 'node:os';
import { z } from 'zod';
import { parseCidr } from '../proxy/forwarding-headers.js';
import type { TlsFiles } from '../proxy/tls/tls-files.js';
import { formatHostPort, isLoopbackHost, parseHostPort, parsePeerSpec } from './host-port.js';

const seconds = (name: string, min: number) =>
  z.coerce
    .number({ error: `${name} must be a number of seconds` })
    .refine(Number.isFinite, `${name} must be a finite number of seconds`)
    .min(min, `${name} must be at least ${min}`)
    .max(86_400, `${name} must be at most 86400`);

const hostPort = z.string().transform((text, ctx) => {
  try {
    return formatHostPort(parseHostPort(text));
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const port = z.coerce.number().int('must be a whole number').min(0).max(65535);

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((s) => s.trim()).filter(Boolean));

const bool = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']).transform((s) => ['true', '1', 'yes', 'on'].includes(s)),
]);

const url = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const PROXY_ENGINES = ['undici', 'http-proxy'] as const;
/** More data-plane processes than this is a typo, not a machine. */
export const MAX_WORKERS = 256;

export const rawConfigSchema = z.object({
  nodeId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, ".", "_" or "-"')
    .optional(),
  listen: hostPort.default('127.0.0.1:8080'),
  admin: hostPort.default('127.0.0.1:9090'),
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  upstream: list.pipe(z.array(url)).default([]),
  dataDir: z.string().min(1).default('./data'),
  drainTimeout: seconds('drain-timeout', 0).default(30),
  shutdownDelay: seconds('shutdown-delay', 0).default(0),
  snapshotInterval: seconds('snapshot-interval', 0.05).default(60),
  peer: list.default([]),
  meshPort: port.default(7946),
  meshKeyFile: z.string().min(1).optional(),
  meshKey: z.string().min(16, 'must be at least 16 characters').optional(),
  mdns: bool.default(true),
  mdnsInterface: z.string().min(1).optional(),
  etcd: list.pipe(z.array(url)).default([]),
  etcdPrefix: z.string().startsWith('/', 'must start with "/"').default('/graceful-edge/nodes/'),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  proxyEngine: z.enum(PROXY_ENGINES).default('undici'),
  targetTimeout: seconds('target-timeout', 0.1).default(30),
  maxConnections: z.coerce.number().int('max-connections must be a whole number').min(1, 'max-connections must be at least 1').optional(),
  // At most Node's request timeout (300 s), which must not be shorter.
  headerTimeout: seconds('header-timeout', 0.1).max(300, 'header-timeout must be at most 300').default(10),
  requestBodyTimeout: seconds('request-body-timeout', 0.1).default(30),
  inspectorUrl: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').optional(),
  trustedProxy: list
    .pipe(
      z.array(
        z.string().refine((s) => {
          try {
            return parseCidr(s) !== null;
          } catch {
            return false;
          }
        }, 'must be an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32)'),
      ),
    )
    .default([]),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  workers: z
    .union([z.number(), z.string()])
    .transform((v, ctx): number | 'auto' => {
      const text = String(v).trim();
      if (text === 'auto') return 'auto';
      if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= MAX_WORKERS) return Number(text);
      ctx.addIssue({ code: 'custom', message: `must be "auto" or a whole number from 1 to ${MAX_WORKERS} (got "${text}")` });
      return z.NEVER;
    })
    .default(1),
});

export type RawConfig = z.input<typeof rawConfigSchema>;

export interface PeerSpec {
  address: string;
  meshPort: number;
}

/** The validated configuration the daemon runs with. */
export interface Config {
  nodeId: string;
  listen: string;
  admin: string;
  adminToken: string | null;
  upstreams: string[];
  dataDir: string;
  drainTimeoutMs: number;
  shutdownDelayMs: number;
  snapshotIntervalMs: number;
  peers: PeerSpec[];
  meshPort: number;
  /** The shared secret for mesh notices, or null (notices off). */
  meshKey: Buffer | null;
  mdns: boolean;
  mdnsInterface: string | null;
  etcd: string[];
  etcdPrefix: string;
  logLevel: (typeof LOG_LEVELS)[number];
  proxyEngine: (typeof PROXY_ENGINES)[number];
  /** Longest wait for a proxy target's response head (then 504). */
  targetTimeoutMs: number;
  /** Proxy client connections held at once; null: derived from the fd limit (proxy/connection-limit.ts). */
  maxConnections: number | null;
  /** A proxy client connection must send its request head this soon after accept (then 408 and close). */
  headerTimeoutMs: number;
  /** Longest pause of a client while sending its request body (then 408). */
  requestBodyTimeoutMs: number;
  inspectorUrl: string | null;
  /** Addresses (CIDR) whose X-Forwarded-* / Forwarded headers are kept. */
  trustedProxies: string[];
  /** Processes serving the proxy listener; 1: in this process (`--workers auto`: one per CPU). */
  workers: number;
  /** `--tls-cert` / `--tls-key`, read and checked at start; null: plain HTTP/1.1. */
  tls: TlsFiles | null;
}

/** Option key (camelCase) → the flag an operator types. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export class ConfigError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`invalid ${option}: ${message}`);
    this.name = 'ConfigError';
  }
}

export function finishConfig(raw: z.output<typeof rawConfigSchema>, meshKey: Buffer | null): Config {
  const peers = raw.peer.map((spec) => {
    try {
      const p = parsePeerSpec(spec, raw.meshPort);
      return { address: formatHostPort(p), meshPort: p.meshPort };
    } catch (error) {
      throw new ConfigError('--peer', (error as Error).message);
    }
  });
  const adminHost = parseHostPort(raw.admin).host;
  if (!isLoopbackHost(adminHost) && !raw.adminToken) {
    throw new ConfigError('--admin-token', `required when --admin binds a non-loopback address (${raw.admin})`);
  }
  const listenPort = parseHostPort(raw.listen).port;
  return {
    nodeId: raw.nodeId ?? `${os.hostname()}-${listenPort}`,
    listen: raw.listen,
    admin: raw.admin,
    adminToken: raw.adminToken ?? null,
    upstreams: raw.upstream,
    dataDir: raw.dataDir,
    drainTimeoutMs: Math.round(raw.drainTimeout * 1000),
    shutdownDelayMs: Math.round(raw.shutdownDelay * 1000),
    snapshotIntervalMs: Math.round(raw.snapshotInterval * 1000),
    peers,
    meshPort: raw.meshPort,
    meshKey,
    mdns: raw.mdns,
    mdnsInterface: raw.mdnsInterface ?? null,
    etcd: raw.etcd,
    etcdPrefix: raw.etcdPrefix.endsWith('/') ? raw.etcdPrefix : `${raw.etcdPrefix}/`,
    logLevel: raw.logLevel,
    proxyEngine: raw.proxyEngine,
    targetTimeoutMs: Math.round(raw.targetTimeout * 1000),
    maxConnections: raw.maxConnections ?? null,
    headerTimeoutMs: Math.round(raw.headerTimeout * 1000),
    requestBodyTimeoutMs: Math.round(raw.requestBodyTimeout * 1000),
    inspectorUrl: raw.inspectorUrl ?? null,
    trustedProxies: raw.trustedProxy,
    workers: raw.workers === 'auto' ? os.availableParallelism() : raw.workers,
    tls: null,
  };
}
