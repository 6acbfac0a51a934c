/** The inspector's routes over plain HTTP: offline-only page, chart JSON, token. */
import { describe, expect, it } from 'vitest';
import { testScope } from '../helpers/cleanups.js';
import { startNode } from '../helpers/daemon.js';

const { nodes } = testScope();

describe('inspector routes', () => {
  it('serve the page with the true state, its bundled script and the chart; nothing external is referenced', async () => {
    const n = await startNode();
    nodes.push(n);
    const page = await fetch(`${n.adminUrl}/inspect`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await page.text();
    expect(html).toContain('<span id="lifecycle-state">serving</span>');
    // Every URL the page names is on this origin.
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.filter((u) => !u.startsWith('/') && !u.startsWith('data:'))).toEqual([]);
    expect(html).not.toMatch(/https?:\/\//);

    const script = await fetch(`${n.adminUrl}/inspect/client.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const js = await script.text();
    expect(js.length).toBeGreaterThan(1000);
    expect(js).toContain('/events');

    const chart = (await (await fetch(`${n.adminUrl}/inspect/machine.json`)).json()) as { id: string; children: Array<{ key: string }> };
    expect(chart.id).toBe('lifecycle');
    expect(chart.children.map((c) => c.key)).toEqual(['starting', 'restoring', 'online', 'persisting', 'stopped']);
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });

  it('need the admin token when one is set', async () => {
    const token = 'inspector-test-token-0123456789';
    const n = await startNode({ args: ['--admin-token', token] });
    nodes.push(n);
    for (const path of ['/inspect', '/inspect/client.js', '/inspect/machine.json', '/events']) {
      expect((await fetch(`${n.adminUrl}${path}`)).status, path).toBe(401);
    }
    const ok = await fetch(`${n.adminUrl}/inspect`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);

    // A browser cannot send a bearer header from EventSource: the token in the
    // address is exchanged once for an HttpOnly cookie, and the address loses it.
    expect((await fetch(`${n.adminUrl}/inspect?token=wrong-token-0123456789`, { redirect: 'manual' })).status).toBe(401);
    const exchange = await fetch(`${n.adminUrl}/inspect?token=${token}`, { redirect: 'manual' });
    expect(exchange.status).toBe(303);
    expect(exchange.headers.get('location')).toBe('/inspect');
    const cookie = exchange.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const jar = cookie.split(';')[0]!;
    for (const path of ['/inspect', '/inspect/client.js', '/state']) {
      expect((await fetch(`${n.adminUrl}${path}`, { headers: { cookie: jar } })).status, path).toBe(200);
    }
    const events = await fetch(`${n.adminUrl}/events`, { headers: { cookie: jar } });
    expect(events.status).toBe(200);
    await events.body?.cancel();
    n.kill('SIGTERM');
    expect(await n.exited).toEqual({ code: 0, signal: null });
  });
});
