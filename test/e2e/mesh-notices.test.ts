/**
 * Leave notices from outside: a real daemon, real UDP on loopback, and a test
 * socket that plays peer "node-b" with its own copy of the shared key. Nothing
 * invalid removes a peer; each verdict is counted in /metrics and logged once.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { freeTcpPort } from '../helpers/ports.js';
import { metric, peerStatus, peersOf } from '../helpers/admin.js';
import { until } from '../helpers/wait.js';
import { MESH_KEY, frame, parseFrame, udpPeer } from '../mesh/support.js';

const KEY = Buffer.from(MESH_KEY);
const { nodes, cleanups } = testScope();

async function nodeWithFakePeer(env: NodeJS.ProcessEnv, args: string[] = []) {
  const b = cleanups.closing(await udpPeer());
  const bAddress = `127.0.0.1:${await freeTcpPort()}`;
  const a = await startNode({ args: ['--node-id', 'node-a', '--peer', `${bAddress}/${b.port}`, ...args], env });
  nodes.push(a);
  const meshLine = await a.waitForLog((l) => typeof l.mesh === 'number' && String(l.msg).startsWith('mesh listening'));
  return { a, b, bAddress, aMesh: Number(meshLine.mesh) };
}

describe('mesh notices', () => {
  it('forged, stale, truncated, oversized, unsigned and replayed notices change nothing and are counted', async () => {
    const { a, b, bAddress, aMesh } = await nodeWithFakePeer({ GRACEFUL_EDGE_MESH_KEY: MESH_KEY });
    expect(await peerStatus(a.adminUrl, bAddress)).toBe('alive');
    let seq = Date.now() * 1000;
    const leave = (over: { ts?: number } = {}) => ({ k: 'leave' as const, id: 'node-b', addr: bAddress, seq: ++seq, ts: Date.now(), ...over });

    const bad: Array<[string, string, Buffer]> = [
      ['leave', 'bad_signature', frame(leave(), Buffer.from('not-the-shared-key-at-all-0000'))],
      ['leave', 'stale', frame(leave({ ts: Date.now() - 60_000 }), KEY)],
      ['leave', 'stale', frame(leave({ ts: Date.now() + 60_000 }), KEY)],
      ['unknown', 'malformed', frame(leave(), KEY).subarray(0, 40)],
      ['unknown', 'malformed', randomBytes(200)],
      ['unknown', 'oversized', randomBytes(65_000)],
      ['leave', 'unsigned', frame(leave(), null)],
    ];
    for (const [, , buf] of bad) await b.send(buf, aMesh);
    const expected = new Map<string, number>();
    for (const [kind, verdict] of bad) expected.set(`${kind}/${verdict}`, (expected.get(`${kind}/${verdict}`) ?? 0) + 1);
    for (const [kv, n] of expected) {
      const [kind, verdict] = kv.split('/') as [string, string];
      await until(`${kv} = ${n}`, async () => (await metric(a.adminUrl, 'graceful_edge_mesh_notices_total', { kind, verdict })) === n, { timeoutMs: 5_000 });
    }
    expect(await peerStatus(a.adminUrl, bAddress)).toBe('alive');
    for (const verdict of ['bad_signature', 'stale', 'malformed', 'oversized', 'unsigned']) {
      const line = await a.waitForLog((l) => l.verdict === verdict && l.mesh === 'rejected');
      expect(line.msg).toBe('mesh datagram dropped');
      console.log(`[mesh] log for ${verdict}: ${line.msg}`);
    }
    expect(b.received.filter((r) => parseFrame(r.buf).msg.k === 'ack')).toHaveLength(0);

    // A genuine notice is accepted at once and acknowledged with a signed ack.
    const genuine = frame(leave(), KEY);
    const genuineSeq = parseFrame(genuine).msg.seq;
    await b.send(genuine, aMesh);
    const ack = await b.waitFor((m) => m.k === 'ack' && m.re === genuineSeq);
    expect(ack.id).toBe('node-a');
    const ackFrame = b.received.find((r) => parseFrame(r.buf).msg.re === genuineSeq)!;
    expect(parseFrame(ackFrame.buf).signatureOk(KEY)).toBe(true);
    expect(await peerStatus(a.adminUrl, bAddress)).toBe('left');
    expect(await metric(a.adminUrl, 'graceful_edge_mesh_notices_total', { kind: 'leave', verdict: 'accepted' })).toBe(1);

    // "node-b" comes back: it answers A's probe of left peers with a signed pong.
    b.onMessage((m, from) => {
      if (m.k === 'ping') void b.send(frame({ k: 'pong', id: 'node-b', addr: bAddress, seq: ++seq, ts: Date.now(), re: m.seq }, KEY), from.port);
    });
    await until('node-b alive again after a pong', async () => (await peerStatus(a.adminUrl, bAddress)) === 'alive', { timeoutMs: 6_000 });
    expect((await peersOf(a.adminUrl)).find((p) => p.address === bAddress)?.id).toBe('node-b');

    // The genuine notice, sent again: a replay, dropped.
    await b.send(genuine, aMesh);
    await until('replay counted', async () => (await metric(a.adminUrl, 'graceful_edge_mesh_notices_total', { kind: 'leave', verdict: 'replay' })) === 1, { timeoutMs: 5_000 });
    expect(await peerStatus(a.adminUrl, bAddress)).toBe('alive');
    expect(await metric(a.adminUrl, 'graceful_edge_mesh_notices_total', { kind: 'leave', verdict: 'accepted' })).toBe(1);
    await a.waitForLog((l) => l.verdict === 'replay');

    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
  });

  it('a flood of garbage is counted in full but logged only now and then', async () => {
    const { a, b, bAddress, aMesh } = await nodeWithFakePeer({ GRACEFUL_EDGE_MESH_KEY: MESH_KEY });
    const N = 500;
    for (let sent = 0; sent < N; ) {
      for (let i = 0; i < 50; i++, sent++) await b.send(randomBytes(100), aMesh);
      const want = sent;
      // In batches, so the kernel's receive buffer never drops any and the count is exact.
      await until(`${want} malformed counted`, async () => (await metric(a.adminUrl, 'graceful_edge_mesh_notices_total', { kind: 'unknown', verdict: 'malformed' })) === want, { timeoutMs: 5_000 });
    }
    const lines = a.logs.filter((l) => l.verdict === 'malformed').length;
    console.log(`[mesh] ${N} garbage datagrams → ${lines} log line(s)`);
    expect(lines).toBeLessThanOrEqual(3);
    expect(await peerStatus(a.adminUrl, bAddress)).toBe('alive');
  });

  it('without a key: a startup warning, notices are not accepted, and none is sent on shutdown', async () => {
    const env = { GRACEFUL_EDGE_MESH_KEY: '' };
    const { a, b, bAddress, aMesh } = await nodeWithFakePeer(env);
    const warning = await a.waitForLog((l) => l.level === 40 && /neither sent nor accepted/.test(String(l.msg)));
    console.log(`[mesh] startup warning: ${warning.msg}`);
    await b.send(frame({ k: 'leave', id: 'node-b', addr: bAddress, seq: 1, ts: Date.now() }, KEY), aMesh);
    await until('no_key counted', async () => (await metric(a.adminUrl, 'graceful_edge_mesh_notices_total', { kind: 'leave', verdict: 'no_key' })) === 1, { timeoutMs: 5_000 });
    expect(await peerStatus(a.adminUrl, bAddress)).toBe('alive');
    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(a.logs.some((l) => /no leave notices sent: no mesh key/.test(String(l.msg)))).toBe(true);
    expect(b.received.filter((r) => r.buf[0] === 0x47 && parseFrame(r.buf).msg.k === 'leave')).toHaveLength(0);
  });

  it('--mesh-key-file: the key comes from a file (trailing newline ignored) and a notice signed with it is accepted', async () => {
    const keyFile = path.join(cleanups.tempDir(), 'mesh.key');
    writeFileSync(keyFile, `${MESH_KEY}\n`, { mode: 0o600 });
    const { a, b, bAddress, aMesh } = await nodeWithFakePeer({ GRACEFUL_EDGE_MESH_KEY: '' }, ['--mesh-key-file', keyFile]);
    expect(a.logs.some((l) => /neither sent nor accepted/.test(String(l.msg)))).toBe(false);
    const seq = Date.now() * 1000;
    await b.send(frame({ k: 'leave', id: 'node-b', addr: bAddress, seq, ts: Date.now() }, KEY), aMesh);
    await b.waitFor((m) => m.k === 'ack' && m.re === seq);
    expect(await peerStatus(a.adminUrl, bAddress)).toBe('left');
  });

  it('IPv6: a node listening on [::1] binds its mesh socket there and accepts a notice over ::1', async () => {
    const sock = dgram.createSocket('udp6');
    await new Promise<void>((r) => sock.bind(0, '::1', r));
    try {
      const bAddress = '[::1]:1';
      const a = await startNode({
        args: ['--node-id', 'node-a', '--listen', '[::1]:0', '--peer', `${bAddress}/${sock.address().port}`],
        env: { GRACEFUL_EDGE_MESH_KEY: MESH_KEY },
      });
      nodes.push(a);
      const line = await a.waitForLog((l) => typeof l.mesh === 'number' && String(l.msg).startsWith('mesh listening'));
      expect(String(line.udp)).toMatch(/^\[::1\]:\d+$/);
      const acks: Buffer[] = [];
      sock.on('message', (buf) => acks.push(buf));
      const seq = Date.now() * 1000;
      sock.send(frame({ k: 'leave', id: 'node-b', addr: bAddress, seq, ts: Date.now() }, KEY), Number(line.mesh), '::1');
      await until('an ack over ::1', async () => acks.length > 0, { timeoutMs: 5_000 });
      expect(parseFrame(acks[0]!).msg).toMatchObject({ k: 'ack', id: 'node-a', re: seq });
      expect(await peerStatus(a.adminUrl, bAddress)).toBe('left');
    } finally {
      sock.close();
    }
  });

  it('a leave older than the peer\'s last pong (say, from before a restart) is superseded and changes nothing', async () => {
    const { a, b, bAddress, aMesh } = await nodeWithFakePeer({ GRACEFUL_EDGE_MESH_KEY: MESH_KEY });
    let seq = Date.now() * 1000;
    const old = frame({ k: 'leave', id: 'node-b', addr: bAddress, seq: ++seq, ts: Date.now() }, KEY);
    // "node-b" (restarted since `old` was captured) answers A's pings.
    b.onMessage((m, from) => {
      if (m.k === 'ping') void b.send(frame({ k: 'pong', id: 'node-b', addr: bAddress, seq: ++seq, ts: Date.now(), re: m.seq }, KEY), from.port);
    });
    await until('A learns node-b from a pong', async () => (await peersOf(a.adminUrl)).find((p) => p.address === bAddress)?.id === 'node-b', { timeoutMs: 8_000 });
    await b.send(old, aMesh);
    await until('superseded counted', async () => (await metric(a.adminUrl, 'graceful_edge_mesh_notices_total', { kind: 'leave', verdict: 'superseded' })) === 1, { timeoutMs: 5_000 });
    expect(await peerStatus(a.adminUrl, bAddress)).toBe('alive');
    await b.send(frame({ k: 'leave', id: 'node-b', addr: bAddress, seq: ++seq, ts: Date.now() }, KEY), aMesh);
    await until('a current leave is accepted', async () => (await peerStatus(a.adminUrl, bAddress)) === 'left', { timeoutMs: 5_000 });
  });

  it('a mesh port in use: one precise error line, and the node still serves', async () => {
    const taken = cleanups.closing(await udpPeer());
    const a = await startNode({ args: ['--node-id', 'node-a', '--mesh-port', String(taken.port)], env: { GRACEFUL_EDGE_MESH_KEY: MESH_KEY } });
    nodes.push(a);
    const line = await a.waitForLog((l) => l.level === 50 && /mesh socket cannot bind/.test(String(l.msg)));
    expect(line).toMatchObject({ udp: `127.0.0.1:${taken.port}`, code: 'EADDRINUSE' });
    expect((await fetch(`${a.adminUrl}/readyz`)).status).toBe(200);
    a.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect(a.logs.some((l) => /no leave notices sent: the mesh socket is not bound/.test(String(l.msg)))).toBe(true);
  });
});
