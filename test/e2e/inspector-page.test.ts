/**
 * The live inspector, from outside: a real daemon proxying to a slow origin,
 * Debian's Chromium on `/inspect`, a real SIGTERM. The page must show the
 * true lifecycle state at every moment (checked against the daemon's own
 * `lifecycle` log lines), the in-flight request and the countdown while
 * draining, and say the node is gone at the end.
 */
import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { adminState } from '../helpers/admin.js';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';
import { artifactPath, haveChromium, LABEL_RECORDER, launchChromium, noChromiumReason } from '../inspector/chromium.js';
import { checkShownLabels, labelNames } from '../inspector/label-truth.js';
import { delayedBody, startOrigin } from '../proxy/support/origin.js';
import { lifecycleMachine } from '../../machines/lifecycle.js';

if (!haveChromium) console.warn(noChromiumReason);

// Long enough that the drain is seen (and photographed) with the request still in flight, even on a busy machine.
const SLOW_MS = 8_000;
const { nodes, cleanups } = testScope();

const openBrowser = async (): Promise<Browser> => cleanups.closing(await launchChromium());

const label = (page: Page) => page.textContent('#lifecycle-state');
const shownLabels = (page: Page) =>
  page.evaluate(() => (window as unknown as { __labels: Array<{ text: string }> }).__labels.map((l) => l.text));
/** States highlighted as current in the chart, sorted. */
const chartCurrent = (page: Page) =>
  page.$$eval('#chart .state.current', (els) => els.map((e) => (e as HTMLElement).dataset.state ?? '?').sort());
/**
 * The header label and the chart's highlighted states read in one go: read
 * apart, a region finishing in between (deregistering → done) makes two true
 * readings look like a disagreement.
 */
const labelAndChart = (page: Page) =>
  page.evaluate(() => ({
    label: document.getElementById('lifecycle-state')?.textContent ?? '',
    chart: Array.from(document.querySelectorAll('#chart .state.current')).map((e) => (e as HTMLElement).dataset.state ?? '?').sort(),
  }));

describe('inspector page', () => {
  it.skipIf(!haveChromium)('shows serving, then draining with the in-flight request and a countdown, then stopped and that the node is gone', async () => {
    const origin = cleanups.closing(await startOrigin());
    const n = await startNode({ args: ['--upstream', origin.url, '--drain-timeout', '20'] });
    nodes.push(n);
    const browser = await openBrowser();
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.addInitScript(LABEL_RECORDER);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${n.adminUrl}/inspect`);
    expect(await label(page)).toBe('serving');
    await page.waitForSelector('#chart .state[data-state="serving"].current');
    expect(await chartCurrent(page)).toEqual(['serving']);
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
    expect((await fetch(`${n.adminUrl}/readyz`)).status).toBe(200);
    await page.screenshot({ path: artifactPath('inspector-serving.png'), fullPage: true });

    // A slow request through the proxy, then the signal while it is in flight.
    // Answered in one piece after SLOW_MS.
    // Settles either way, so a failing assertion below never leaves it rejecting unhandled.
    const slow = fetch(`${n.proxyUrl}/delay?ms=${SLOW_MS}`)
      .then(async (r) => ({ status: r.status, body: await r.text() }))
      .catch((error: Error) => ({ status: -1, body: `failed: ${error.message}` }));
    await expect.poll(async () => (await adminState(n)).inFlight, { timeout: 5_000 }).toBe(1);
    await page.waitForFunction(() => document.getElementById('in-flight')?.textContent === '1', undefined, { timeout: 5_000 });
    n.kill('SIGTERM');

    await page.waitForFunction(
      () => {
        const text = document.getElementById('lifecycle-state')?.textContent ?? '';
        const countdown = document.getElementById('drain-countdown')?.textContent ?? '';
        return /\bdraining\b/.test(text) && document.getElementById('in-flight')?.textContent === '1' && /^\d+\.\d s$/.test(countdown);
      },
      undefined,
      { timeout: 5_000 },
    );
    const draining = await labelAndChart(page);
    expect(['draining', 'deregistering + draining']).toContain(draining.label);
    expect(draining.chart).toEqual(labelNames(draining.label).sort());
    // The daemon agrees: still draining with the one request.
    const during = await adminState(n);
    expect(during.inFlight).toBe(1);
    expect(during.lifecycle).toMatch(/draining/);
    const countdownA = Number.parseFloat((await page.textContent('#drain-countdown'))!);
    expect(countdownA).toBeGreaterThan(0);
    expect(countdownA).toBeLessThanOrEqual(20);
    // The countdown runs down while the drain waits.
    await page.waitForFunction((a) => Number.parseFloat(document.getElementById('drain-countdown')?.textContent ?? '') <= a - 1, countdownA, { timeout: 3_000 });
    await page.screenshot({ path: artifactPath('inspector-draining.png'), fullPage: true });
    expect(await page.textContent('#in-flight')).toBe('1');
    expect((await adminState(n)).inFlight).toBe(1);

    // The slow request completes normally; the node saves and exits 0.
    expect(await slow).toEqual({ status: 200, body: delayedBody(SLOW_MS) });
    expect(await n.exited).toEqual({ code: 0, signal: null });

    await page.waitForFunction(() => document.getElementById('node-gone')?.classList.contains('visible'), undefined, { timeout: 5_000 });
    expect(await label(page)).toBe('stopped');
    expect(await page.textContent('#node-gone')).toMatch(/node is gone/);
    expect(await chartCurrent(page)).toEqual(['stopped']);
    await page.screenshot({ path: artifactPath('inspector-stopped.png'), fullPage: true });

    // Everything the page ever showed was true, in the daemon's own words.
    const logged = n.logs.filter((l) => typeof l.lifecycle === 'string').map((l) => String(l.states ?? l.lifecycle));
    const shown = await shownLabels(page);
    expect(shown[0]).toBe('serving');
    expect(shown).toContain(draining.label);
    expect(shown.at(-1)).toBe('stopped');
    expect(checkShownLabels(shown, logged)).toBeNull();
    expect(pageErrors).toEqual([]);
  });

  it.skipIf(!haveChromium)('says the node is gone when it dies without a word (stream closed, /healthz silent)', async () => {
    const n = await startNode();
    nodes.push(n);
    const browser = await openBrowser();
    const page = await browser.newPage();
    await page.goto(`${n.adminUrl}/inspect`);
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
    expect(await label(page)).toBe('serving');
    n.kill('SIGKILL');
    await n.exited;
    await page.waitForFunction(() => document.getElementById('node-gone')?.classList.contains('visible'), undefined, { timeout: 10_000 });
    expect(await label(page)).toBe('stopped');
    expect(await page.textContent('#node-gone')).toMatch(/node is gone: the event stream closed and \/healthz does not answer/);
    expect(await page.textContent('#connection')).toBe('disconnected');
  });

  it.skipIf(!haveChromium)('makes no request outside the admin origin and draws every state of the machine', async () => {
    const n = await startNode();
    nodes.push(n);
    const browser = await openBrowser();
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(`${n.adminUrl}/inspect`);
    await page.waitForSelector('#chart .state[data-state="serving"].current');
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
    await page.waitForTimeout(1_500);

    const origin = new URL(n.adminUrl).origin;
    expect(requested.length).toBeGreaterThanOrEqual(3);
    expect(requested.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    expect(requested.map((u) => new URL(u).pathname)).toEqual(expect.arrayContaining(['/inspect', '/inspect/client.js', '/inspect/machine.json', '/events']));

    // The chart on the page has exactly the machine's state nodes.
    const ids: string[] = [];
    const walk = (node: { id: string; states: Record<string, unknown> }) => {
      ids.push(node.id);
      for (const c of Object.values(node.states)) walk(c as { id: string; states: Record<string, unknown> });
    };
    walk(lifecycleMachine.root);
    const drawn = await page.$$eval('#chart .state', (els) => els.map((e) => (e as HTMLElement).dataset.id ?? ''));
    expect(drawn.sort()).toEqual(ids.sort());
    // Parallel regions and final states are drawn as such.
    expect(await page.getAttribute('#chart .state[data-id="lifecycle.online.leaving"]', 'data-type')).toBe('parallel');
    expect(await page.getAttribute('#chart .state[data-id="lifecycle.stopped"]', 'data-type')).toBe('final');
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });
});
