/**
 * The proxy's error answers never name a target (issue 11, item 15): an
 * upstream URL may carry credentials, and the client is anonymous. The log
 * says which target failed, with user and password removed.
 */
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { deadUrl } from '../helpers/ports.js';
import { startOrigin } from '../proxy/support/origin.js';
import { connect } from '../proxy/support/misbehaving-client.js';

const { nodes, cleanups } = testScope();

describe.each(['undici', 'http-proxy'] as const)('error bodies (engine %s)', (engine) => {
  it('a 504 and a 502 say what happened, not where; the log names the target without its credentials', async () => {
    const origin = cleanups.closing(await startOrigin());
    const slow = `http://svc:S3cret@127.0.0.1:${origin.port}`;
    const n = await startNode({ args: ['--upstream', slow, '--target-timeout', '0.3', '--proxy-engine', engine] });
    nodes.push(n);

    const timedOut = await fetch(`${n.proxyUrl}/hang`);
    expect(timedOut.status).toBe(504);
    const body504 = await timedOut.text();
    expect(JSON.parse(body504)).toEqual({ error: 'target timed out' });

    const line = await n.waitForLog((l) => l.msg === 'answered a gateway error for a target' && l.status === 504);
    expect(line).toMatchObject({ level: 40, target: `http://127.0.0.1:${origin.port}/`, error: 'target timed out' });

    // Not a free port on 127.0.0.1: the node's own listener may be given it,
    // and the node then forwards to itself (seen once: a 431 after the loop).
    const dead = (await deadUrl()).replace('http://', 'http://admin:Pa55word@');
    const n2 = await startNode({ args: ['--upstream', dead, '--proxy-engine', engine] });
    nodes.push(n2);
    const refused = await fetch(`${n2.proxyUrl}/x`);
    expect(refused.status).toBe(502);
    const body502 = await refused.text();
    expect(JSON.parse(body502)).toEqual({ error: 'bad gateway: ECONNREFUSED' });
    await n2.waitForLog((l) => l.msg === 'answered a gateway error for a target' && l.status === 502);

    // A websocket upgrade to the dead upstream: the raw 502 is as quiet.
    const s = await connect(n2.proxy);
    cleanups.defer(() => s.destroy());
    let raw = '';
    s.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    const closed = new Promise((r) => s.once('close', r));
    s.write('GET /live HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n');
    await closed;
    expect(raw).toMatch(/^HTTP\/1\.1 502 /);
    await n2.waitForLog((l) => l.msg === 'websocket upgrade failed');

    for (const text of [body504, body502, raw]) {
      expect(text).not.toMatch(/S3cret|Pa55word|127\.0\.0\.1|127\.66\.|svc|admin@/);
    }
    // No log line of either node carries a password.
    for (const l of [...n.logs, ...n2.logs]) expect(JSON.stringify(l)).not.toMatch(/S3cret|Pa55word/);
  });
});
