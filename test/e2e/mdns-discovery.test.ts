/**
 * mDNS / DNS-SD from outside, with real multicast: every node, the
 * python3-zeroconf browser, the raw capture and the packet sender run inside
 * one fresh network namespace that has only `lo` (no route out), which is
 * deleted afterwards, also on failure.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNode, stopAll } from '../helpers/daemon.js';
import type { NodeProcess } from '../helpers/daemon.js';
import { removeAllCreated } from '../helpers/netns.js';
import type { Netns } from '../helpers/netns.js';
import {
  mdnsNetns,
  mdnsTestsUnavailable,
  readMetric,
  readState,
  sendMdns,
  startCapture,
  startZeroconfBrowser,
  waitForState,
} from '../discovery/mdns-tools.js';
import type { CapturedPacket, JsonLines, ZeroconfEvent } from '../discovery/mdns-tools.js';

// Multicast is a requirement, not an option: without it these tests fail and say why.
const unavailable = await mdnsTestsUnavailable();

const TYPE = '_graceful-edge._tcp.local';
const nodes: NodeProcess[] = [];
const helpers: JsonLines<unknown>[] = [];
let ns: Netns;

function mdnsNode(id: string, extra: string[] = []): Promise<NodeProcess> {
  // The helper passes --no-mdns first; the later --mdns wins (commander: last flag wins).
  return startNode({ wrap: ns.wrap, args: ['--mdns', '--node-id', id, ...extra] }).then((n) => (nodes.push(n), n));
}

function track<T>(h: JsonLines<T>): JsonLines<T> {
  helpers.push(h as JsonLines<unknown>);
  return h;
}

describe('mDNS discovery (python3-zeroconf, raw capture, two nodes) in a private network namespace', () => {
  beforeAll(async () => {
    if (unavailable) throw new Error(`mDNS cannot be tested here: ${unavailable}`);
    ns = await mdnsNetns();
  });
  afterEach(async () => {
    await Promise.all(helpers.splice(0).map((h) => h.stop()));
    await stopAll(nodes);
  });
  afterAll(async () => {
    await Promise.all(helpers.splice(0).map((h) => h.stop()));
    await stopAll(nodes);
    await ns?.remove();
    await removeAllCreated();
  });

  it('python3-zeroconf sees the node appear with its TXT id, and removed within 1 s of SIGTERM; the goodbye is TTL 0, sent 3 times', async () => {
    const browser = track(await startZeroconfBrowser(ns));
    const capture = track(await startCapture(ns));
    const node = await mdnsNode('zc-node');
    const fqdn = `zc-node.${TYPE}.`;

    const added = await browser.waitFor((e) => e.event === 'added' && e.name === fqdn);
    expect(added.txt).toMatchObject({ id: 'zc-node', address: node.proxy, proxyPort: node.proxy.split(':').pop() });
    expect(added.port).toBe(Number(node.proxy.split(':').pop()));

    const signalledAt = Date.now();
    node.kill('SIGTERM');
    const removed = await browser.waitFor((e: ZeroconfEvent) => e.event === 'removed' && e.name === fqdn, 5_000);
    const removedAfterMs = removed.t - signalledAt;
    console.log(`python3-zeroconf removed the node ${removedAfterMs} ms after SIGTERM`);
    expect(removedAfterMs).toBeLessThan(1_000);
    expect(await node.exited).toEqual({ code: 0, signal: null });

    // The capture: every record of the instance again with TTL 0, at least twice.
    const isOurs = (r: { name: string; data: unknown }) =>
      r.name.toLowerCase() === fqdn.slice(0, -1).toLowerCase() || r.data === fqdn.slice(0, -1) || r.name === 'zc-node.local';
    const goodbyes = capture.lines.filter(
      (p: CapturedPacket) => p.type === 'response' && p.answers.some(isOurs) && p.answers.filter(isOurs).every((r) => r.ttl === 0),
    );
    console.log(`goodbye packets captured: ${goodbyes.length} at +${goodbyes.map((g) => g.t - signalledAt).join(', +')} ms`);
    expect(goodbyes.length).toBeGreaterThanOrEqual(2);
    const types = new Set(goodbyes[0]!.answers.filter(isOurs).map((r) => r.type));
    expect([...types].sort()).toEqual(['A', 'PTR', 'SRV', 'TXT']);
    // Spaced, not back to back.
    expect(goodbyes.at(-1)!.t - goodbyes[0]!.t).toBeGreaterThanOrEqual(100);
    // Nothing is announced or answered for the node after its goodbye.
    const lastGoodbye = goodbyes.at(-1)!.t;
    const later = capture.lines.filter((p) => p.t > lastGoodbye && p.type === 'response' && p.answers.some((r) => isOurs(r) && r.ttl > 0));
    expect(later).toEqual([]);
    const log = node.logs.find((l) => String(l.msg).startsWith('mDNS goodbye sent'));
    expect(log).toMatchObject({ sent: 3, failed: 0 });
    expect(node.logs.find((l) => l.msg === 'deregistered')).toMatchObject({ goodbyeSent: true });
  });

  it('after SIGKILL (no goodbye) python3-zeroconf still lists the node 2 s later', async () => {
    const browser = track(await startZeroconfBrowser(ns));
    const node = await mdnsNode('killed-node');
    const fqdn = `killed-node.${TYPE}.`;
    await browser.waitFor((e) => e.event === 'added' && e.name === fqdn);
    node.kill('SIGKILL');
    await node.exited;
    await new Promise((r) => setTimeout(r, 2_000));
    expect(browser.lines.filter((e) => e.event === 'removed' && e.name === fqdn)).toEqual([]);
  });

  it('two nodes discover each other as mdns peers; after SIGTERM the other marks it left within ~1 s', async () => {
    const a = await mdnsNode('peer-a');
    const b = await mdnsNode('peer-b');
    const { state: sa } = await waitForState(ns, a.admin, (s) => s.peers.some((p) => p.id === 'peer-b' && p.status === 'alive'));
    const { state: sb } = await waitForState(ns, b.admin, (s) => s.peers.some((p) => p.id === 'peer-a' && p.status === 'alive'));
    expect(sa.peers.find((p) => p.id === 'peer-b')).toMatchObject({ address: b.proxy, source: 'mdns', status: 'alive' });
    expect(sb.peers.find((p) => p.id === 'peer-a')).toMatchObject({ address: a.proxy, source: 'mdns', status: 'alive' });
    // Never itself.
    expect(sa.peers.some((p) => p.id === 'peer-a' || p.address === a.proxy)).toBe(false);
    expect(sa.discovery?.mdns).toMatchObject({ phase: 'announced', instance: 'peer-a', peers: 1, sendErrors: 0 });

    const signalledAt = Date.now();
    b.kill('SIGTERM');
    const { at } = await waitForState(ns, a.admin, (s) => s.peers.some((p) => p.id === 'peer-b' && p.status === 'left'), 5_000);
    console.log(`node A saw B leave (mDNS goodbye) within ${at - signalledAt} ms of SIGTERM (upper bound, polled)`);
    expect(at - signalledAt).toBeLessThan(1_500);
    await a.waitForLog((l) => l.reason === 'mdns goodbye' && l.peer === b.proxy);
    expect(await b.exited).toEqual({ code: 0, signal: null });
  });

  it('garbage and broken TXT records change nothing, do not crash the node, and are logged clearly', async () => {
    const node = await mdnsNode('robust-node');
    await node.waitForLog((l) => String(l.msg).startsWith('mDNS: announced'));
    await sendMdns(ns, ['garbage']);
    await sendMdns(ns, ['broken-txt', 'rogue']);
    const undecodable = await node.waitForLog((l) => l.msg === 'mDNS: dropped an undecodable packet' && String(l.from).startsWith('127.0.0.1'));
    expect(undecodable.level).toBe(40);
    const ignored = await node.waitForLog((l) => l.msg === 'mDNS: ignoring a service' && String(l.service).startsWith('rogue.'));
    expect(String(ignored.reason)).toMatch(/TXT id is missing/);
    const state = await readState(ns, node.admin);
    expect(state.lifecycle).toBe('serving');
    expect(state.peers).toEqual([]);
    expect(state.discovery?.mdns).toMatchObject({ ignoredServices: 1 });
    expect(Number(state.discovery?.mdns?.malformedPackets)).toBeGreaterThanOrEqual(2);
    expect(node.logs.some((l) => String(l.msg).includes('uncaught'))).toBe(false);
    expect(await readMetric(ns, node.admin, 'graceful_edge_mdns_events_total{event="malformed"}')).toBeGreaterThanOrEqual(2);
    expect(await readMetric(ns, node.admin, 'graceful_edge_mdns_events_total{event="ignored_service"}')).toBe(1);
    node.kill('SIGTERM');
    expect(await node.exited).toEqual({ code: 0, signal: null });
  });

  it('a peer whose records expire without a goodbye is removed when its TTL runs out', async () => {
    const node = await mdnsNode('ttl-node');
    await node.waitForLog((l) => String(l.msg).startsWith('mDNS: announced'));
    // A responder that announces once with a 2 s TTL and then never answers.
    await sendMdns(ns, ['peer', 'ghost', 'ghost-node', '45678', '7946', '2']);
    const { state } = await waitForState(ns, node.admin, (s) => s.peers.some((p) => p.id === 'ghost-node'));
    expect(state.peers.find((p) => p.id === 'ghost-node')).toMatchObject({ address: '127.0.0.1:45678', source: 'mdns', status: 'alive', meshPort: 7946 });
    const left = await node.waitForLog((l) => l.peer === '127.0.0.1:45678' && l.reason === 'mdns ttl expired', 6_000);
    expect(left.level).toBe(30);
    const after = await readState(ns, node.admin);
    expect(after.peers.find((p) => p.id === 'ghost-node')?.status).toBe('left');
  });
});
