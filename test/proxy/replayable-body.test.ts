/** The bounded replay copy that makes a retry possible without buffering the whole body. */
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { ReplayableBody } from '../../src/proxy/replayable-body.js';

describe('ReplayableBody', () => {
  it('a second attempt gets what the first consumed plus the rest', async () => {
    const src = new PassThrough();
    const body = new ReplayableBody(src, 1024);
    const first = body.open();
    src.write('hello ');
    const got = await new Promise<string>((r) => first.once('data', (d: Buffer) => r(d.toString())));
    expect(got).toBe('hello ');
    const second = body.open();
    expect(first.destroyed).toBe(true);
    src.end('world');
    expect(await text(second)).toBe('hello world');
    expect(body.replayable).toBe(true);
  });

  it('past the limit it streams on but can no longer be replayed', async () => {
    const src = new PassThrough();
    const body = new ReplayableBody(src, 8);
    const first = body.open();
    const all = text(first);
    src.end('0123456789abcdef');
    expect(await all).toBe('0123456789abcdef');
    expect(body.replayable).toBe(false);
  });

  it('a body that ended before the retry is replayed whole', async () => {
    const src = new PassThrough();
    const body = new ReplayableBody(src, 1024);
    const first = body.open();
    src.end('complete');
    expect(await text(first)).toBe('complete');
    expect(await text(body.open())).toBe('complete');
  });
});
