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
  readMetric,
  readState,
  sendMdns,
  startCapture,
  startZeroconfBrowser,
  startZeroconfService,
  waitForState,
} from '../discovery/mdns-tools.js';
import type { CapturedPacket, CapturedRecord, JsonLines, StateView } from '../discovery/mdns-tools.js';

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
const isConflictLog = (name: string) => (l: { msg?: unknown; instance?: unknown }) => String(l.msg).startsWith('mDNS name conflict') && l.instance === name;
/** Captured TTL-0 records (goodbyes) that name the instance `fqdn` or point to it. */
function goodbyesFor(capture: JsonLines<CapturedPacket>, fqdn: string): CapturedRecord[] {
  const wanted = fqdn.toLowerCase();
  return capture.lines
    .filter((p) => p.type === 'response')
    .flatMap((p) => [...p.answers, ...p.additionals])
    .filter((r) => r.ttl === 0 && (r.name.toLowerCase() === wanted || (typeof r.data === 'string' && r.data.toLowerCase() === wanted)));
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
    const warned = await broken.waitForLog((l) => l.msg === 'mDNS packet not sent' && l.code === 'ENETUNREACH');
    expect(warned.level).toBe(40);
    expect(String(warned.hint)).toMatch(/--mdns-interface/);
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
    const capture = track(await startCapture(ns));
    const owner = track(await startZeroconfService(ns, 'dup-node', 45001));
    await browser.waitFor((e) => e.event === 'added' && e.name === `dup-node.${TYPE}.`);

    const n = await node(ns, 'dup-node', ['--mdns']);
    // Either the owner answers a probe in time, or (a slow responder, e.g. a
    // loaded machine) it answers later and the node, already announced, gives
    // the name up (RFC 6762 §9). Both end the same way, checked below.
    const conflict = await n.waitForLog(isConflictLog('dup-node'));
    expect(conflict.level).toBe(40);
    console.log(`conflict on "dup-node" caught ${conflict.after === 'announcing' ? 'after announcing' : 'while probing'}`);
    const renamed = await browser.waitFor((e) => e.event === 'added' && e.name === `dup-node-2.${TYPE}.`);
    expect(renamed.txt).toMatchObject({ id: 'dup-node' });
    const { state } = await waitForState(ns, n.admin, (s) => s.discovery?.mdns?.instance === 'dup-node-2');
    expect(state.discovery?.mdns).toMatchObject({ instance: 'dup-node-2', conflicts: ['dup-node'] });

    n.kill('SIGTERM');
    await browser.waitFor((e) => e.event === 'removed' && e.name === `dup-node-2.${TYPE}.`, 3_000);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    // The rightful owner was never said goodbye for: not by the node, not in any browser's eyes.
    expect(goodbyesFor(capture, `dup-node.${TYPE}`)).toEqual([]);
    expect(browser.lines.filter((e) => e.event === 'removed' && e.name === `dup-node.${TYPE}.`)).toEqual([]);
    void owner;
  });

  it('a responder that claims the name after the node announced it: the node logs the conflict, gives the name up without a goodbye and announces the next one', async () => {
    const ns = await netns(mdnsNetns);
    const browser = track(await startZeroconfBrowser(ns));
    const capture = track(await startCapture(ns));
    const n = await node(ns, 'late-node', ['--mdns']);
    const fqdn = `late-node.${TYPE}`;
    await browser.waitFor((e) => e.event === 'added' && e.name === `${fqdn}.`);
    // All three announcements went out and came back to the node's own socket
    // (multicast loopback): its own records are no conflict.
    const { state: before } = await waitForState(ns, n.admin, (s) => Number(s.discovery?.mdns?.announcements) >= 3);
    expect(before.discovery?.mdns).toMatchObject({ phase: 'announced', instance: 'late-node', conflicts: [] });

    // python3-zeroconf claims the same name without probing, and announces it.
    const owner = track(await startZeroconfService(ns, 'late-node', 45002, { cooperating: true }));
    const conflict = await n.waitForLog(isConflictLog('late-node'));
    expect(conflict).toMatchObject({ level: 40, after: 'announcing', instance: 'late-node' });
    expect(String(conflict.msg)).toMatch(/without a goodbye/);
    const renamed = await browser.waitFor((e) => e.event === 'added' && e.name === `late-node-2.${TYPE}.`);
    expect(renamed.txt).toMatchObject({ id: 'late-node', address: n.proxy });
    const { state } = await waitForState(ns, n.admin, (s) => s.discovery?.mdns?.instance === 'late-node-2' && s.discovery.mdns.phase === 'announced');
    expect(state.discovery?.mdns).toMatchObject({ conflicts: ['late-node'] });
    expect(await readMetric(ns, n.admin, 'graceful_edge_mdns_events_total{event="name_conflict"}')).toBe(1);

    n.kill('SIGTERM');
    await browser.waitFor((e) => e.event === 'removed' && e.name === `late-node-2.${TYPE}.`, 3_000);
    expect(await n.exited).toEqual({ code: 0, signal: null });
    // The capture sees goodbyes (the new name's) but none for the contested name.
    await capture.waitFor((p) => p.type === 'response' && p.answers.some((r) => r.ttl === 0 && r.name.toLowerCase() === `late-node-2.${TYPE}`));
    expect(goodbyesFor(capture, fqdn)).toEqual([]);
    expect(browser.lines.filter((e) => e.event === 'removed' && e.name === `${fqdn}.`)).toEqual([]);
    void owner;
  });

  it('rdata decides, not the sender: a copy of the node\'s own records from another process is no conflict; the same name with another port is', async () => {
    const ns = await netns(mdnsNetns);
    const browser = track(await startZeroconfBrowser(ns));
    const n = await node(ns, 'copy-node', ['--mdns']);
    const added = await browser.waitFor((e) => e.event === 'added' && e.name === `copy-node.${TYPE}.`);
    const [host, port] = [n.proxy.slice(0, n.proxy.lastIndexOf(':')), n.proxy.split(':').pop()!];
    expect(host).toBe('127.0.0.1'); // mdns-send's records carry 127.0.0.1, as the node's do here
    const meshPort = String(added.txt?.meshPort);

    // Exactly the node's SRV and TXT, sent by another process; then an
    // unrelated service as a marker: once the node lists the marker, it has
    // read the copy before it (one socket, in order).
    await sendMdns(ns, ['peer', 'copy-node', 'copy-node', port, meshPort, '120']);
    await sendMdns(ns, ['peer', 'marker', 'marker', '45003', '7946', '120']);
    await waitForState(ns, n.admin, (s) => s.peers.some((p) => p.id === 'marker'));
    expect(n.logs.filter(isConflictLog('copy-node'))).toEqual([]);
    expect((await readState(ns, n.admin)).discovery?.mdns).toMatchObject({ instance: 'copy-node', conflicts: [] });

    // The same name, another port: a conflict.
    await sendMdns(ns, ['peer', 'copy-node', 'someone-else', '45004', '7946', '120']);
    const conflict = await n.waitForLog(isConflictLog('copy-node'));
    expect(conflict).toMatchObject({ after: 'announcing', record: 'SRV copy-node.local:45004' });
    await browser.waitFor((e) => e.event === 'added' && e.name === `copy-node-2.${TYPE}.`);
    await waitForState(ns, n.admin, (s) => s.discovery?.mdns?.instance === 'copy-node-2');
  });

  it('two nodes started at once with the same id end up with two names, both announced (probe tie-break, RFC 6762 §8.2)', async () => {
    const ns = await netns(mdnsNetns);
    const browser = track(await startZeroconfBrowser(ns));
    const [a, b] = await Promise.all([node(ns, 'twin', ['--mdns']), node(ns, 'twin', ['--mdns'])]);
    const announced = (s: StateView) => s.discovery?.mdns?.phase === 'announced' && typeof s.discovery.mdns.instance === 'string';
    const [sa, sb] = await Promise.all([waitForState(ns, a.admin, announced), waitForState(ns, b.admin, announced)]);
    const names = [sa.state.discovery?.mdns?.instance, sb.state.discovery?.mdns?.instance] as string[];
    console.log(`same id, started together: instances ${names.join(' and ')}`);
    expect(new Set(names).size).toBe(2);
    for (const name of names) await browser.waitFor((e) => e.event === 'added' && e.name === `${name}.${TYPE}.`);
    // Each keeps its name: no further conflict once both are announced.
    const conflictsSoFar = [...a.logs, ...b.logs].filter((l) => String(l.msg).startsWith('mDNS name conflict')).length;
    await new Promise((r) => setTimeout(r, 1_500));
    expect([...a.logs, ...b.logs].filter((l) => String(l.msg).startsWith('mDNS name conflict')).length).toBe(conflictsSoFar);
    expect((await readState(ns, a.admin)).discovery?.mdns?.instance).toBe(names[0]);
    expect((await readState(ns, b.admin)).discovery?.mdns?.instance).toBe(names[1]);
  });

  it('another host probing for the same name at the same time: the node defers to a higher proposal, ignores a lower one (RFC 6762 §8.2)', async () => {
    const ns = await netns(mdnsNetns);
    // Proposals compare TXT first; the node's TXT starts with the length byte 3 ("v=1").
    // A lower proposal ("a", length 1) loses to the node: it keeps its name.
    const low = await node(ns, 'tie-low', ['--mdns']);
    const lowProber = sendMdns(ns, ['probe', 'tie-low', 'a', '15', '200'], 20_000);
    await waitForState(ns, low.admin, (s) => s.discovery?.mdns?.phase === 'announced');
    await lowProber;
    expect((await readState(ns, low.admin)).discovery?.mdns).toMatchObject({ instance: 'tie-low', conflicts: [] });

    // A higher proposal (length 40) wins: the node waits a second and probes
    // again, each time; a prober that never announces yet keeps winning ends
    // up counted as the owner after three rounds, and the node moves on.
    const high = await node(ns, 'tie-high', ['--mdns']);
    const highProber = sendMdns(ns, ['probe', 'tie-high', 'z'.repeat(40), '45', '200'], 20_000);
    const conflict = await high.waitForLog(isConflictLog('tie-high'));
    expect(String(conflict.record)).toMatch(/tie-break/);
    await waitForState(ns, high.admin, (s) => s.discovery?.mdns?.instance === 'tie-high-2' && s.discovery.mdns.phase === 'announced');
    await highProber;
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
