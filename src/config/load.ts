/**
 * Merges the four sources of configuration — flag > env > file > default —
 * and validates the result once. Every failure is a ConfigError naming the
 * option, which the CLI turns into one line and exit code 2.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, finishConfig, flagName, rawConfigSchema } from './schema.js';
import type { Config } from './schema.js';
import { loadTlsFiles, TlsOptionError } from '../proxy/tls/tls-files.js';

const ENV_PREFIX = 'GRACEFUL_EDGE_';

const kebabToCamel = (s: string) => s.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = Object.keys(rawConfigSchema.shape);
  for (const key of keys) {
    const name = ENV_PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
    const value = env[name];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

function fromFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('--config', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('--config', `${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('--config', `${path} must hold a JSON object`);
  }
  const known = new Set(Object.keys(rawConfigSchema.shape));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) {
    const key = kebabToCamel(k);
    if (!known.has(key)) throw new ConfigError('--config', `unknown option "${k}" in ${path}`);
    out[key] = v;
  }
  return out;
}

export interface LoadOptions {
  /** Options given as flags (camelCase keys, undefined when not given). */
  flags: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig({ flags, env = process.env }: LoadOptions): Config {
  const { config: configPath, ...flagValues } = flags;
  const filePath = typeof configPath === 'string' ? configPath : env[`${ENV_PREFIX}CONFIG`];
  const merged: Record<string, unknown> = {
    ...(filePath ? fromFile(filePath) : {}),
    ...fromEnv(env),
  };
  for (const [k, v] of Object.entries(flagValues)) {
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) merged[k] = v;
  }
  const result = rawConfigSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = String(issue.path[0] ?? 'config');
    throw new ConfigError(key === 'meshKey' ? 'GRACEFUL_EDGE_MESH_KEY' : flagName(key), issue.message);
  }
  let meshKey: Buffer | null = null;
  if (result.data.meshKey) meshKey = Buffer.from(result.data.meshKey, 'utf8');
  else if (result.data.meshKeyFile) {
    try {
      meshKey = readFileSync(result.data.meshKeyFile);
    } catch (error) {
      throw new ConfigError('--mesh-key-file', `cannot read ${result.data.meshKeyFile}: ${(error as NodeJS.ErrnoException).code}`);
    }
    // A trailing newline from `echo secret > file` is not part of the secret.
    const trimmed = meshKey.toString('utf8').trim();
    if (trimmed.length < 16) throw new ConfigError('--mesh-key-file', 'the key must be at least 16 characters');
    meshKey = Buffer.from(trimmed, 'utf8');
  }
  const config = finishConfig(result.data, meshKey);
  try {
    config.tls = loadTlsFiles(result.data.tlsCert, result.data.tlsKey);
  } catch (error) {
    if (error instanceof TlsOptionError) throw new ConfigError(error.option, error.message);
    throw error;
  }
  return config;
}
