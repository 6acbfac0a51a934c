/**
 * The default node id is `<hostname>-<proxy port>`. On port 0 that would be
 * `<hostname>-0` for every such node on a host; there the data dir names the
 * node instead. Observed from outside: /state, the Via the origin receives,
 * and a restart on the same data dir.
 */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { startRecordingOrigin } from '../proxy/support/recording-origin.js';

const { nodes, cleanups } = testScope();

const onPortZero = new RegExp(`^${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-0-[0-9a-f]{8}$`);

describe('the default node id on port 0', () => {
  it('two nodes get different ids, each kept across a restart; one as the other’s upstream, a request crosses both (no false 508 loop)', async () => {
    const origin = cleanups.closing(await startRecordingOrigin());
    const dirA = cleanups.tempDir('ge-id-a-');
    const dirB = cleanups.tempDir('ge-id-b-');
    const b = await startNode({ dataDir: dirB, args: ['--upstream', origin.url] });
    nodes.push(b);
    const a = await startNode({ dataDir: dirA, args: ['--upstream', b.proxyUrl] });
    nodes.push(a);
    const idA = (await adminState(a)).nodeId;
    const idB = (await adminState(b)).nodeId;
    expect(idA).toMatch(onPortZero);
    expect(idB).toMatch(onPortZero);
    expect(idA).not.toBe(idB);

    // Before, both were `<hostname>-0`: B saw its own id in A's Via and answered 508.
    const r = await fetch(`${a.proxyUrl}/through-both`);
    expect(r.status).toBe(200);
    await r.text();
    const seen = origin.requests.find((q) => q.line === 'GET /through-both HTTP/1.1')!;
    expect(seen.headers.get('via')).toEqual([`1.1 ${idA}, 1.1 ${idB}`]);

    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    const again = await startNode({ dataDir: dirA, args: ['--upstream', b.proxyUrl] });
    nodes.push(again);
    expect((await adminState(again)).nodeId).toBe(idA);
  });
});
