/** The pure parts of the proxy's limits: the derived connection cap, the rate-limited log, target redaction. */
import { describe, expect, it } from 'vitest';
import { defaultMaxConnections, readFdSoftLimit, resolveConnectionLimit } from '../../src/proxy/connection-limit.js';
import { redactTarget } from '../../src/proxy/error-responses.js';
import { RateLimitedLog } from '../../src/log/rate-limited-log.js';

const limits = (soft: string, hard: string) =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             63432                63432                processes ',
    `Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     `,
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n');

describe('connection cap', () => {
  it('reads the soft fd limit from /proc/self/limits text', () => {
    expect(readFdSoftLimit(limits('256', '4096'))).toBe(256);
    expect(readFdSoftLimit(limits('unlimited', 'unlimited'))).toBeNull();
    expect(readFdSoftLimit('nothing here')).toBeNull();
    // This process, on Linux.
    expect(readFdSoftLimit()).toBeGreaterThan(0);
  });

  it('is (soft limit - 64) / 2, at least 1, 1024 when the limit is unknown', () => {
    expect(defaultMaxConnections(256)).toBe(96);
    expect(defaultMaxConnections(1024)).toBe(480);
    expect(defaultMaxConnections(65)).toBe(1);
    expect(defaultMaxConnections(10)).toBe(1);
    expect(defaultMaxConnections(null)).toBe(480);
  });

  it('a configured cap wins', () => {
    expect(resolveConnectionLimit(5, 256)).toEqual({ maxConnections: 5, source: 'configured', fdSoftLimit: 256 });
    expect(resolveConnectionLimit(null, 256)).toEqual({ maxConnections: 96, source: 'fd-limit', fdSoftLimit: 256 });
  });
});

describe('RateLimitedLog', () => {
  it('writes once per key per interval and reports what it suppressed', () => {
    const log = new RateLimitedLog(1_000);
    const wrote: [string, number][] = [];
    const hit = (key: string, now: number) => log.hit(key, (s) => wrote.push([key, s]), now);
    expect(hit('a', 0)).toBe(true);
    expect(hit('a', 10)).toBe(false);
    expect(hit('a', 999)).toBe(false);
    expect(hit('b', 500)).toBe(true);
    expect(hit('a', 1_000)).toBe(true);
    expect(wrote).toEqual([
      ['a', 0],
      ['b', 0],
      ['a', 2],
    ]);
  });

  it('forgets keys past its bound instead of growing', () => {
    const log = new RateLimitedLog(1_000, 2);
    let n = 0;
    for (const k of ['a', 'b', 'c', 'a']) log.hit(k, () => n++, 0);
    // 'c' cleared the memory, so 'a' wrote again.
    expect(n).toBe(4);
  });
});

describe('redactTarget', () => {
  it('drops user and password from an upstream URL, leaves the rest', () => {
    expect(redactTarget('http://svc:S3cret@10.0.0.5:8080/base')).toBe('http://10.0.0.5:8080/base');
    expect(redactTarget('http://token@svc')).toBe('http://svc/');
    expect(redactTarget('http://svc:3000')).toBe('http://svc:3000');
    expect(redactTarget('127.0.0.1:8081')).toBe('127.0.0.1:8081');
    expect(redactTarget('https://us%40er:p%3Ass@host:8443/')).toBe('https://host:8443/');
  });
});
