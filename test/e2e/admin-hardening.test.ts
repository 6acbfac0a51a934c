/**
 * Issue 11, items 16–18: a tokenless admin must be reachable from this host
 * only. The loopback check judges the bound socket, not the text of
 * `--admin`; a `Host` that is not loopback is refused (DNS rebinding); an
 * SSE client that never reads is disconnected and counted instead of
 * growing the node's memory.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';
import { until } from '../helpers/wait.js';

const { nodes, cleanups } = testScope();

/** GET with an explicit Host header (fetch does not let a caller set it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('Host of a tokenless admin (item 17)', () => {
  it('answers loopback names and addresses, refuses any other Host with 403; health checks stay open', async () => {
    const n = await startNode();
    nodes.push(n);
    const port = n.admin.split(':').pop();
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `app.localhost:${port}`, `[::1]:${port}`]) {
      expect((await getWithHost(`${n.adminUrl}/state`, host)).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'rebind.attacker.test', `127.0.0.1.nip.io:${port}`, `10.0.0.1:${port}`]) {
      const r = await getWithHost(`${n.adminUrl}/state`, host);
      expect(r.status, host).toBe(403);
      expect(r.body).not.toContain('nodeId');
      expect((await getWithHost(`${n.adminUrl}/events`, host)).status, host).toBe(403);
      expect((await getWithHost(`${n.adminUrl}/healthz`, host)).status, host).toBe(200);
      expect((await getWithHost(`${n.adminUrl}/readyz`, host)).status, host).toBe(200);
    }
    const warned = n.logs.filter((l) => l.msg === 'admin request with a non-loopback Host refused');
    expect(warned.length).toBe(1); // rate-limited
  });

  it('with a token, any Host is fine (the token protects it)', async () => {
    const n = await startNode({ args: ['--admin-token', 's3cret-s3cret-s3cret'] });
    nodes.push(n);
    const r = await new Promise<number>((resolve, reject) => {
      http
        .get(`${n.adminUrl}/state`, { headers: { host: 'edge.example:9090', authorization: 'Bearer s3cret-s3cret-s3cret' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(r).toBe(200);
  });
});

describe('the loopback check judges the bound address (item 16)', async () => {
  const unavailable = await netnsUnavailable();
  if (unavailable !== null) console.warn(`[skip] admin name that resolves elsewhere: ${unavailable}`);
  it.skipIf(unavailable !== null)('a name that looks loopback but resolves elsewhere: exit 2 without a token', async () => {
    // Inside a namespace of our own whose /etc/hosts (`ip netns exec` mounts
    // /etc/netns/NAME/hosts) maps the names to a non-loopback address.
    const ns = await createNetns('ge-admin');
    cleanups.defer(() => ns.remove());
    // A non-loopback address (on `lo`: the namespace has no other interface).
    execFileSync('ip', ['-n', ns.name, 'addr', 'add', '10.211.0.1/32', 'dev', 'lo']);
    const etc = path.join('/etc/netns', ns.name);
    mkdirSync(etc, { recursive: true });
    cleanups.defer(() => rmSync(etc, { recursive: true, force: true }));
    writeFileSync(path.join(etc, 'hosts'), '10.211.0.1 127.admin.internal\n10.211.0.1 localhost\n');

    // The text check: a DNS name starting with "127." is not a loopback literal.
    const byName = await startNode({ wrap: ns.wrap, waitFor: 'spawned', args: ['--admin', '127.admin.internal:0'] });
    nodes.push(byName);
    expect((await byName.exited).code).toBe(2);
    expect(byName.stderr()).toContain('invalid --admin-token: required when --admin binds a non-loopback address (127.admin.internal:0)');

    // `localhost` passes the text check, but here it resolves to 10.211.0.1:
    // the bound socket says so, and the node refuses to serve tokenless.
    const byLocalhost = await startNode({ wrap: ns.wrap, waitFor: 'spawned', args: ['--admin', 'localhost:0'] });
    nodes.push(byLocalhost);
    expect((await byLocalhost.exited).code).toBe(2);
    const error = byLocalhost.logs.find((l) => l.msg === 'admin listener is not on loopback: --admin-token is required');
    expect(error).toMatchObject({ admin: 'localhost:0', bound: expect.stringMatching(/^10\.211\.0\.1:\d+$/) });
    expect(byLocalhost.logs.some((l) => String(l.msg).startsWith('admin listening'))).toBe(false);
  });
});

describe('SSE back-pressure (item 18)', () => {
  it('clients that never read are disconnected and counted; a reading client keeps its stream', async () => {
    // 1,000 remembered peers make every `state` event ~100 kB, so the unread
    // buffer grows fast (the page ticks every second while serving).
    const peers = Array.from({ length: 1000 }, (_, i) => `127.0.${4 + Math.floor(i / 250)}.${(i % 250) + 1}:8080/7946`);
    const dir = cleanups.tempDir('ge-sse-');
    writeFileSync(path.join(dir, 'peers.json'), JSON.stringify({ peer: peers }));
    const n = await startNode({ args: ['--config', path.join(dir, 'peers.json')] });
    nodes.push(n);
    const [host, port] = [n.admin.slice(0, n.admin.lastIndexOf(':')), Number(n.admin.split(':').pop())];

    // Slow readers: a tiny receive buffer and no reads at all (python sets
    // SO_RCVBUF before connecting, which node:net cannot).
    const py = spawn('python3', [
      '-c',
      `import socket, time, sys
socks = []
for i in range(20):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((${JSON.stringify(host)}, ${port}))
    s.sendall(b"GET /events HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
    socks.append(s)
print("connected", flush=True)
time.sleep(120)`,
    ]);
    cleanups.defer(() => py.kill('SIGKILL'));
    await new Promise<void>((resolve) => py.stdout.once('data', () => resolve()));

    // A normal reader alongside them.
    const reader = await fetch(`${n.adminUrl}/events`);
    const body = reader.body!.getReader();
    let received = 0;
    const reading = (async () => {
      for (;;) {
        const { done, value } = await body.read();
        if (done) break;
        received += value.length;
      }
    })().catch(() => undefined);

    await until('every slow reader to be disconnected', async () => (await adminState(n)).eventStreams, {
      timeoutMs: 60_000,
      everyMs: 500,
    }).then(async () =>
      until(
        'slowDisconnected to reach 20',
        async () => ((await adminState(n)).eventStreams as { slowDisconnected: number }).slowDisconnected >= 20,
        { timeoutMs: 60_000, everyMs: 500 },
      ),
    );
    const streams = (await adminState(n)).eventStreams as { open: number; slowDisconnected: number };
    expect(streams.open).toBe(1); // the reader
    expect(n.logs.filter((l) => l.msg === 'event stream client reads too slowly: disconnected').length).toBeGreaterThanOrEqual(1);
    const before = received;
    await new Promise((r) => setTimeout(r, 1500));
    expect(received).toBeGreaterThan(before);
    await body.cancel();
    await reading;
    // The node still answers.
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);
  }, 150_000);
});
