/** The cockatiel-backed registry: open/close, export/restore, cool-down across a restart, bad records. */
import { BrokenCircuitError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../src/proxy/breaker-registry.js';
import type { BreakerRecord } from '../../src/proxy/breaker-registry.js';

const fail = () => Promise.reject(new Error('refused'));
const ok = () => Promise.resolve('ok');

function registry(invalid: Array<[string, string]> = []) {
  return new BreakerRegistry({
    threshold: 3,
    halfOpenAfterMs: 1_000,
    countsAsFailure: () => true,
    onInvalidRecord: (t, r) => invalid.push([t, r]),
  });
}

async function openIt(reg: BreakerRegistry, target: string) {
  for (let i = 0; i < 3; i++) await reg.get(target).execute(fail).catch(() => undefined);
}

describe('BreakerRegistry', () => {
  it('opens after the threshold and refuses traffic', async () => {
    const reg = registry();
    await openIt(reg, 'http://a');
    expect(reg.list()).toEqual([{ target: 'http://a', state: 'open' }]);
    expect(reg.admits('http://a')).toBe(false);
    expect(reg.admits('http://never-used')).toBe(true);
  });

  it('a restored open breaker stays open, keeping its remaining cool-down', async () => {
    const reg = registry();
    await openIt(reg, 'http://a');
    const saved = JSON.parse(JSON.stringify(reg.exportAll())) as BreakerRecord[];
    const next = registry();
    next.restoreAll(saved);
    expect(next.list()).toEqual([{ target: 'http://a', state: 'open' }]);
    await expect(next.get('http://a').execute(ok)).rejects.toThrow(/open/i);
  });

  it('an open breaker whose cool-down passed while down comes back half-open and closes on success', async () => {
    const reg = registry();
    await openIt(reg, 'http://a');
    const [rec] = reg.exportAll();
    const data = rec!.data as { ownState: { openedAt: number } };
    data.ownState.openedAt -= 5_000;
    const next = registry();
    next.restoreAll([rec!]);
    expect(next.list()).toEqual([{ target: 'http://a', state: 'half-open' }]);
    expect(next.admits('http://a')).toBe(true);
    await expect(next.get('http://a').execute(ok)).resolves.toBe('ok');
    expect(next.stateOf('http://a')).toBe('closed');
  });

  it('a record it cannot use is reported and the breaker starts closed', () => {
    const invalid: Array<[string, string]> = [];
    const reg = registry(invalid);
    reg.restoreAll([
      { target: 'http://junk', state: 'open', data: 'garbage', updatedAt: 1 },
      { target: 'http://no-time', state: 'open', data: { ownState: { value: 1 }, breakerState: 0 }, updatedAt: 1 },
      { target: 'http://isolated', state: 'isolated', data: { ownState: { value: 3, counters: 1 }, breakerState: 0 }, updatedAt: 1 },
    ]);
    expect(invalid.map(([t]) => t)).toEqual(['http://junk', 'http://no-time', 'http://isolated']);
    expect(reg.list()).toEqual([]);
    expect(reg.admits('http://junk')).toBe(true);
  });

  it('exports every breaker with its library state', async () => {
    const reg = registry();
    await reg.get('http://b').execute(ok);
    await openIt(reg, 'http://a');
    const out = reg.exportAll();
    expect(out.map((r) => [r.target, r.state])).toEqual([
      ['http://b', 'closed'],
      ['http://a', 'open'],
    ]);
    for (const r of out) expect(r.data).toMatchObject({ ownState: expect.any(Object) });
  });

  describe('run(): the fast path while closed with no failure', () => {
    it('counts failures exactly like execute(): the threshold opens it, then calls are refused', async () => {
      const reg = registry();
      const errors: unknown[] = [];
      for (let i = 0; i < 3; i++) errors.push(await reg.run('http://a', fail).catch((e: unknown) => e));
      // The caller sees the target's own error each time, not the policy's.
      expect(errors.map((e) => (e as Error).message)).toEqual(['refused', 'refused', 'refused']);
      expect(reg.stateOf('http://a')).toBe('open');
      let called = false;
      const refused = await reg
        .run('http://a', () => ((called = true), ok()))
        .catch((e: unknown) => e);
      expect(called).toBe(false);
      expect(refused).toBeInstanceOf(BrokenCircuitError);
    });

    it('a success after failures resets the count (it goes through the policy then)', async () => {
      const reg = registry();
      await reg.run('http://a', fail).catch(() => undefined);
      await reg.run('http://a', fail).catch(() => undefined);
      expect(await reg.run('http://a', ok)).toBe('ok');
      // Two more failures do not reach the threshold of 3: the earlier two were forgotten.
      await reg.run('http://a', fail).catch(() => undefined);
      await reg.run('http://a', fail).catch(() => undefined);
      expect(reg.stateOf('http://a')).toBe('closed');
    });

    it('errors the policy does not count never open it', async () => {
      const reg = new BreakerRegistry({ threshold: 2, halfOpenAfterMs: 1_000, countsAsFailure: (e) => e.message !== 'client left' });
      for (let i = 0; i < 5; i++) await reg.run('http://a', () => Promise.reject(new Error('client left'))).catch(() => undefined);
      expect(reg.stateOf('http://a')).toBe('closed');
      expect(reg.exportAll()[0]!.data).toMatchObject({ breakerState: 0 });
    });
  });

  it('tells each state change that traffic causes (open, half-open, closed), not a seeded or adopted one', async () => {
    const changes: string[] = [];
    const options = { threshold: 3, halfOpenAfterMs: 1_000, countsAsFailure: () => true, onStateChange: (t: string, s: string) => changes.push(`${t} ${s}`) };
    const reg = new BreakerRegistry(options);
    await openIt(reg, 'http://a');
    const [rec] = reg.exportAll();
    (rec!.data as { ownState: { openedAt: number } }).ownState.openedAt -= 5_000;
    const next = new BreakerRegistry(options);
    next.restoreAll([rec!]);
    expect(changes).toEqual(['http://a open']);
    await next.get('http://a').execute(ok);
    expect(changes).toEqual(['http://a open', 'http://a half-open', 'http://a closed']);
  });

  describe('adopt (--workers: what another worker learned, through the merge)', () => {
    it('takes a record newer than its own, or an open one for a target it never used; reports what it took', async () => {
      const elsewhere = registry();
      await openIt(elsewhere, 'http://a');
      const [open] = elsewhere.exportAll();
      const here = registry();
      await here.get('http://a').execute(ok); // made earlier, closed
      const before = here.exportAll()[0]!.updatedAt;
      expect(open!.updatedAt).toBeGreaterThanOrEqual(before);
      expect(here.adopt([{ ...open!, updatedAt: before + 1 }, { ...open!, target: 'http://b' }]).map((r) => r.target)).toEqual(['http://a', 'http://b']);
      expect(here.list()).toEqual([
        { target: 'http://a', state: 'open' },
        { target: 'http://b', state: 'open' },
      ]);
      await expect(here.get('http://a').execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    });

    it('ignores a record no newer than its own (its own, echoed back), a closed one for an unknown target, and one it cannot use', async () => {
      const here = registry();
      await openIt(here, 'http://a');
      const [own] = here.exportAll();
      const closedElsewhere = { target: 'http://c', state: 'closed' as const, data: { ownState: { value: 0 }, breakerState: 0 }, updatedAt: Date.now() + 10 };
      const broken = { ...own!, target: 'http://d', data: { nonsense: true } };
      expect(here.adopt([own!, { ...own!, state: 'closed', updatedAt: own!.updatedAt - 1 }, closedElsewhere, broken])).toEqual([]);
      expect(here.list()).toEqual([{ target: 'http://a', state: 'open' }]);
    });
  });
});
