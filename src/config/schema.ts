/**
 * The one description of every option: its type, its default and how a
 * string (from a flag, an env variable) becomes a value. Validation errors
 * name the option as an operator types it (`--drain-timeout`).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import * as z from '../zod.js';
import { parseCidr } from '../proxy/forwarding-headers.js';
import type { TlsFiles } from '../proxy/tls/tls-files.js';
import { formatHostPort, isLoopbackHost, parseHostPort, parsePeerSpec } from './host-port.js';

const seconds = (name: string, min: number) =>
  z.coerce
    .number({ error: `${name} must be a number of seconds` })
    .check(
      z.refine(Number.isFinite, `${name} must be a finite number of seconds`),
      z.gte(min, `${name} must be at least ${min}`),
      z.lte(86_400, `${name} must be at most 86400`),
    );

/** `host:port`, normalised (`[v6]:port`); shared with records read from etcd. */
export const hostPort = z.pipe(
  z.string(),
  z.transform((text: string, ctx) => {
    try {
      return formatHostPort(parseHostPort(text));
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: text });
      return z.NEVER;
    }
  }),
);

const port = z.coerce.number().check(z.int('must be a whole number'), z.gte(0), z.lte(65535));

const list = z.pipe(
  z.union([z.string(), z.array(z.string())]),
  z.transform((value: string | string[]) => (Array.isArray(value) ? value : value.split(',')).map((s) => s.trim()).filter(Boolean)),
);

const BOOL_WORDS = ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'] as const;
const bool = z.union([
  z.boolean(),
  z.pipe(
    z.enum(BOOL_WORDS),
    z.transform((s: (typeof BOOL_WORDS)[number]) => ['true', '1', 'yes', 'on'].includes(s)),
  ),
]);

const url = z.string().check(
  z.refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL'),
);

const nonEmpty = () => z.string().check(z.minLength(1));
const secret = () => z.optional(z.string().check(z.minLength(16, 'must be at least 16 characters')));

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const PROXY_ENGINES = ['undici', 'http-proxy'] as const;
/** More data-plane processes than this is a typo, not a machine. */
export const MAX_WORKERS = 256;

export const rawConfigSchema = z.object({
  nodeId: z.optional(z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, ".", "_" or "-"'))),
  listen: z._default(hostPort, '127.0.0.1:8080'),
  admin: z._default(hostPort, '127.0.0.1:9090'),
  adminToken: secret(),
  upstream: z._default(z.pipe(list, z.array(url)), []),
  dataDir: z._default(nonEmpty(), './data'),
  drainTimeout: z._default(seconds('drain-timeout', 0), 30),
  shutdownDelay: z._default(seconds('shutdown-delay', 0), 0),
  snapshotInterval: z._default(seconds('snapshot-interval', 0.05), 60),
  // The chart's RESTART_TIMEOUT_MS, not imported: loading the chart (and
  // xstate) here would put it on every command's start-up path.
  // A successor is a whole node starting: less than a second is never enough.
  restartTimeout: z._default(seconds('restart-timeout', 1), 60),
  peer: z._default(list, []),
  meshPort: z._default(port, 7946),
  meshKeyFile: z.optional(nonEmpty()),
  meshKey: secret(),
  mdns: z._default(bool, true),
  mdnsInterface: z.optional(nonEmpty()),
  etcd: z._default(z.pipe(list, z.array(url)), []),
  etcdPrefix: z._default(z.string().check(z.startsWith('/', 'must start with "/"')), '/graceful-edge/nodes/'),
  logLevel: z._default(z.enum(LOG_LEVELS), 'info'),
  proxyEngine: z._default(z.enum(PROXY_ENGINES), 'undici'),
  targetTimeout: z._default(seconds('target-timeout', 0.1), 30),
  maxConnections: z.optional(
    z.coerce
      .number()
      .check(z.int('max-connections must be a whole number'), z.gte(1, 'max-connections must be at least 1')),
  ),
  // At most Node's request timeout (300 s), which must not be shorter.
  headerTimeout: z._default(seconds('header-timeout', 0.1).check(z.lte(300, 'header-timeout must be at most 300')), 10),
  requestBodyTimeout: z._default(seconds('request-body-timeout', 0.1), 30),
  inspectorUrl: z.optional(z.string().check(z.regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL'))),
  trustedProxy: z._default(
    z.pipe(
      list,
      z.array(
        z.string().check(
          z.refine((s) => {
            try {
              return parseCidr(s) !== null;
            } catch {
              return false;
            }
          }, 'must be an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32)'),
        ),
      ),
    ),
    [],
  ),
  tlsCert: z.optional(nonEmpty()),
  tlsKey: z.optional(nonEmpty()),
  workers: z._default(
    z.pipe(
      z.union([z.number(), z.string()]),
      z.transform((v: number | string, ctx): number | 'auto' => {
        const text = String(v).trim();
        if (text === 'auto') return 'auto';
        if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= MAX_WORKERS) return Number(text);
        ctx.issues.push({ code: 'custom', message: `must be "auto" or a whole number from 1 to ${MAX_WORKERS} (got "${text}")`, input: v });
        return z.NEVER;
      }),
    ),
    1,
  ),
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
  /** Longest wait for a hot-restart successor's READY (then it is killed and this process serves on). */
  restartTimeoutMs: number;
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

/**
 * `<hostname>-<proxy port>`. A node on port 0 has no port of its own when the
 * id is needed, and every such node on a host would be `<hostname>-0`: one id
 * for two mesh members, and a false loop (508) when one is the other's
 * upstream, since Via names nodes by id. Its data dir names it instead: no
 * two running nodes share one (the lock), and a restart or a hot-restart
 * successor keeps it.
 */
function defaultNodeId(listenPort: number, dataDir: string): string {
  if (listenPort !== 0) return `${os.hostname()}-${listenPort}`;
  return `${os.hostname()}-0-${createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 8)}`;
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
    nodeId: raw.nodeId ?? defaultNodeId(listenPort, raw.dataDir),
    listen: raw.listen,
    admin: raw.admin,
    adminToken: raw.adminToken ?? null,
    upstreams: raw.upstream,
    dataDir: raw.dataDir,
    drainTimeoutMs: Math.round(raw.drainTimeout * 1000),
    shutdownDelayMs: Math.round(raw.shutdownDelay * 1000),
    snapshotIntervalMs: Math.round(raw.snapshotInterval * 1000),
    restartTimeoutMs: Math.round(raw.restartTimeout * 1000),
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
