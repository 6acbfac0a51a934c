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

  it('the idle timeout fires when the client stops sending while the body is being read', async () => {
    const src = new PassThrough();
    let idle = 0;
    const body = new ReplayableBody(src, 1024, 150, () => idle++);
    const attempt = body.open();
    attempt.resume(); // a consumer that reads everything
    src.write('part;');
    await new Promise((r) => setTimeout(r, 100));
    src.write('part;'); // still sending: the clock restarts
    await new Promise((r) => setTimeout(r, 100));
    expect(idle).toBe(0);
    await new Promise((r) => setTimeout(r, 200)); // silence past the timeout
    expect(idle).toBe(1);
    expect(body.timedOut).toBe(true);
  });

  it('time the target spends not reading is not the client\'s', async () => {
    const src = new PassThrough();
    let idle = 0;
    const body = new ReplayableBody(src, 1024, 100, () => idle++);
    body.open(); // an attempt that never reads (a target holding back)
    src.write('x'.repeat(64));
    await new Promise((r) => setTimeout(r, 350));
    expect(idle).toBe(0);
    src.end();
  });

  it('no timer once the body has ended', async () => {
    const src = new PassThrough();
    let idle = 0;
    const body = new ReplayableBody(src, 1024, 80, () => idle++);
    const all = text(body.open());
    src.end('done');
    expect(await all).toBe('done');
    await new Promise((r) => setTimeout(r, 200));
    expect(idle).toBe(0);
  });
});
