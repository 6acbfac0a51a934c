/**
 * mDNS when the network is not simple: sends that fail (no multicast route)
 * are surfaced instead of swallowed, `--mdns-interface` picks the interface,
 * a name owned by another responder is not stolen, and `--no-mdns` is quiet.
 * Every process runs inside namespaces this file creates and deletes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNode, stopAll } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { addVethWithoutMulticastRoute, createNetns, removeAllCreated } from '../helpers/netns.js';
import type { Netns } from '../helpers/netns.js';
import {
  mdnsNetns,
  mdnsTestsUnavailable,
  readState,
  startCapture,
  startZeroconfBrowser,
  startZeroconfService,
  waitForState,
} from '../discovery/mdns-tools.js';
import type { JsonLines } from '../discovery/mdns-tools.js';

// Multicast is a requirement, not an option: without it these tests fail and say why.
const unavailable = await mdnsTestsUnavailable();

const TYPE = '_graceful-edge._tcp.local';
const nodes: NodeProcess[] = [];
const helpers: JsonLines<unknown>[] = [];
const namespaces: Netns[] = [];

function node(ns: Netns, id: string, extra: string[]): Promise<NodeProcess> {
  return startNode({ wrap: ns.wrap, args: ['--node-id', id, ...extra] }).then((n) => (nodes.push(n), n));
}
async function netns(make: () => Promise<Netns>): Promise<Netns> {
  const ns = await make();
  namespaces.push(ns);
  return ns;
}
function track<T>(h: JsonLines<T>): JsonLines<T> {
  helpers.push(h as JsonLines<unknown>);
  return h;
}

describe('mDNS interface choice, send errors, name conflicts, --no-mdns', () => {
  beforeAll(() => {
    if (unavailable) throw new Error(`mDNS cannot be tested here: ${unavailable}`);
  });
  afterEach(async () => {
    await Promise.all(helpers.splice(0).map((h) => h.stop()));
    await stopAll(nodes);
    await Promise.all(namespaces.splice(0).map((ns) => ns.remove()));
  });
  afterAll(() => removeAllCreated());

  it('without a multicast route, send errors (ENETUNREACH) are logged and shown in /state; --mdns-interface 127.0.0.1 fixes it', async () => {
    const ns = await netns(() => createNetns('ge-mdns-noroute'));
    await addVethWithoutMulticastRoute(ns);

    const broken = await node(ns, 'unrouted', ['--mdns']);
    const warned = await broken.waitForLog((l) => typeof l.msg === 'string' && /^mDNS \w+ not sent: ENETUNREACH/.test(l.msg));
    expect(warned.level).toBe(40);
    expect(String(warned.msg)).toMatch(/--mdns-interface/);
    const { state } = await waitForState(ns, broken.admin, (s) => Number(s.discovery?.mdns?.sendErrors) > 0);
    expect(state.discovery?.mdns).toMatchObject({ lastSendError: { code: 'ENETUNREACH' } });
    expect(state.discovery?.mdns?.phase).not.toBe('announced');
    broken.kill('SIGTERM');
    expect(await broken.exited).toEqual({ code: 0, signal: null });
    expect(broken.logs.find((l) => l.msg === 'deregistered')).toMatchObject({ goodbyeSent: false });

    const capture = track(await startCapture(ns));
    const pinned = await node(ns, 'pinned', ['--mdns', '--mdns-interface', '127.0.0.1']);
    await pinned.waitForLog((l) => String(l.msg).startsWith('mDNS: announced'));
    const fqdn = `pinned.${TYPE}`;
    await capture.waitFor((p) => p.type === 'response' && p.answers.some((r) => r.name === fqdn && r.type === 'SRV' && r.ttl > 0));
    const pinnedState = await readState(ns, pinned.admin);
    expect(pinnedState.discovery?.mdns).toMatchObject({ phase: 'announced', interface: '127.0.0.1', sendErrors: 0 });
  });

  it('a name owned by another responder is not taken: the node probes, logs the conflict and announces under a new name', async () => {
    const ns = await netns(mdnsNetns);
    const browser = track(await startZeroconfBrowser(ns));
    const owner = track(await startZeroconfService(ns, 'dup-node', 45001));
    await browser.waitFor((e) => e.event === 'added' && e.name === `dup-node.${TYPE}.`);

    const n = await node(ns, 'dup-node', ['--mdns']);
    const conflict = await n.waitForLog((l) => String(l.msg).startsWith('mDNS name conflict: "dup-node"'));
    expect(conflict.level).toBe(40);
    const renamed = await browser.waitFor((e) => e.event === 'added' && e.name === `dup-node-2.${TYPE}.`);
    expect(renamed.txt).toMatchObject({ id: 'dup-node' });
    const state = await readState(ns, n.admin);
    expect(state.discovery?.mdns).toMatchObject({ instance: 'dup-node-2', conflicts: ['dup-node'] });

    n.kill('SIGTERM');
    await browser.waitFor((e) => e.event === 'removed' && e.name === `dup-node-2.${TYPE}.`, 3_000);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    // The rightful owner was never said goodbye for.
    expect(browser.lines.filter((e) => e.event === 'removed' && e.name === `dup-node.${TYPE}.`)).toEqual([]);
    void owner;
  });

  it('--no-mdns sends nothing and says so in /state', async () => {
    const ns = await netns(mdnsNetns);
    const capture = track(await startCapture(ns));
    const quiet = await node(ns, 'quiet-node', ['--no-mdns']);
    await new Promise((r) => setTimeout(r, 1_500));
    const state = await readState(ns, quiet.admin);
    expect(state.discovery?.mdns).toMatchObject({ phase: 'off', announcements: 0 });
    expect(capture.lines.filter((p) => p.type !== undefined)).toEqual([]);
    quiet.kill('SIGTERM');
    expect(await quiet.exited).toEqual({ code: 0, signal: null });
  });
});
