/** Config precedence (flag > env > file > default) and validation, on the pure loader. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/schema.js';
import { RESTART_TIMEOUT_MS } from '../../machines/lifecycle.js';
import { Cleanups } from '../helpers/cleanups.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

function configFile(content: unknown): string {
  const file = path.join(cleanups.tempDir('ge-config-'), 'config.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('loadConfig', () => {
  it('embedded defaults', () => {
    const c = loadConfig({ flags: {}, env: {} });
    expect(c).toMatchObject({
      listen: '127.0.0.1:8080',
      admin: '127.0.0.1:9090',
      dataDir: './data',
      drainTimeoutMs: 30_000,
      shutdownDelayMs: 0,
      snapshotIntervalMs: 60_000,
      restartTimeoutMs: RESTART_TIMEOUT_MS,
      meshPort: 7946,
      meshKey: null,
      mdns: true,
      etcdPrefix: '/graceful-edge/nodes/',
      logLevel: 'info',
      upstreams: [],
      peers: [],
    });
    expect(c.nodeId).toMatch(/-8080$/);
  });

  it('flag > env > file > default', () => {
    const file = configFile({ drainTimeout: 5, shutdownDelay: 1, 'snapshot-interval': 7, logLevel: 'warn' });
    const env = { GRACEFUL_EDGE_DRAIN_TIMEOUT: '10', GRACEFUL_EDGE_SHUTDOWN_DELAY: '2' };
    const c = loadConfig({ flags: { config: file, drainTimeout: '20' }, env });
    expect(c.drainTimeoutMs).toBe(20_000); // flag
    expect(c.shutdownDelayMs).toBe(2_000); // env over file
    expect(c.snapshotIntervalMs).toBe(7_000); // file (kebab-case key)
    expect(c.logLevel).toBe('warn');
    expect(c.listen).toBe('127.0.0.1:8080'); // default
  });

  it('--restart-timeout: flag, env GRACEFUL_EDGE_RESTART_TIMEOUT, file key, in seconds', () => {
    expect(loadConfig({ flags: { restartTimeout: '2' }, env: { GRACEFUL_EDGE_RESTART_TIMEOUT: '300' } }).restartTimeoutMs).toBe(2_000);
    expect(loadConfig({ flags: {}, env: { GRACEFUL_EDGE_RESTART_TIMEOUT: '300' } }).restartTimeoutMs).toBe(300_000);
    expect(loadConfig({ flags: { config: configFile({ 'restart-timeout': 1.5 }) }, env: {} }).restartTimeoutMs).toBe(1_500);
  });

  it('repeatable options from env are comma-separated; booleans and peers parse', () => {
    const c = loadConfig({
      flags: {},
      env: {
        GRACEFUL_EDGE_UPSTREAM: 'http://127.0.0.1:3000, http://127.0.0.1:3001',
        GRACEFUL_EDGE_PEER: '127.0.0.1:8081/7947,[::1]:8082',
        GRACEFUL_EDGE_MDNS: 'false',
        GRACEFUL_EDGE_MESH_KEY: 'a-shared-secret-of-some-length',
      },
    });
    expect(c.upstreams).toEqual(['http://127.0.0.1:3000', 'http://127.0.0.1:3001']);
    expect(c.peers).toEqual([
      { address: '127.0.0.1:8081', meshPort: 7947 },
      { address: '[::1]:8082', meshPort: 7946 },
    ]);
    expect(c.mdns).toBe(false);
    expect(c.meshKey?.toString()).toBe('a-shared-secret-of-some-length');
  });

  it.each([
    [{ flags: { drainTimeout: 'soon' } }, '--drain-timeout'],
    [{ flags: { restartTimeout: '0' } }, '--restart-timeout'],
    [{ flags: {}, env: { GRACEFUL_EDGE_RESTART_TIMEOUT: 'later' } }, '--restart-timeout'],
    [{ flags: { listen: 'nowhere' } }, '--listen'],
    [{ flags: { upstream: ['ftp://x'] } }, '--upstream'],
    [{ flags: { peer: ['127.0.0.1:8081/99999'] } }, '--peer'],
    [{ flags: { logLevel: 'loud' } }, '--log-level'],
    [{ flags: { admin: '0.0.0.0:9090' } }, '--admin-token'],
    [{ flags: { meshKeyFile: '/nonexistent/key' } }, '--mesh-key-file'],
    [{ flags: {}, env: { GRACEFUL_EDGE_MESH_PORT: '70000' } }, '--mesh-port'],
    [{ flags: {}, env: { GRACEFUL_EDGE_MESH_KEY: 'short' } }, 'GRACEFUL_EDGE_MESH_KEY'],
  ])('%j is refused naming %s', (opts, option) => {
    const run = () => loadConfig({ env: {}, ...opts });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(option);
  });

  it('a config file that is unreadable, not JSON, not an object or has an unknown key is refused naming --config', () => {
    for (const content of ['{not json', '[1,2]', { drainTimeot: 3 }]) {
      expect(() => loadConfig({ flags: { config: configFile(content) }, env: {} })).toThrow(/--config/);
    }
    expect(() => loadConfig({ flags: { config: '/nonexistent/config.json' }, env: {} })).toThrow(/--config: cannot read/);
  });
});

describe('loadConfig: --workers', () => {
  it('defaults to 1; a number from a flag, env or file; auto is one per CPU', async () => {
    const os = await import('node:os');
    expect(loadConfig({ flags: {}, env: {} }).workers).toBe(1);
    expect(loadConfig({ flags: { workers: '3' }, env: {} }).workers).toBe(3);
    expect(loadConfig({ flags: {}, env: { GRACEFUL_EDGE_WORKERS: '2' } }).workers).toBe(2);
    expect(loadConfig({ flags: { config: configFile({ workers: 4 }) }, env: {} }).workers).toBe(4);
    expect(loadConfig({ flags: { workers: 'auto' }, env: {} }).workers).toBe(os.availableParallelism());
  });

  it.each(['0', '257', 'two', '2.5', ''])('"%s" is refused naming --workers', (value) => {
    const load = () => loadConfig({ flags: { config: configFile({ workers: value }) }, env: {} });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/^invalid --workers: must be "auto" or a whole number from 1 to 256/);
  });
});
