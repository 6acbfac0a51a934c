/**
 * announceReadyWhen checks readiness on the chart's changes, not on a timer:
 * nothing happens between changes, READY goes once, and the subscription is
 * dropped once it went.
 */
import { describe, expect, it } from 'vitest';
import { announceReadyWhen } from '../../src/restart/takeover.js';

function changeSource() {
  const listeners = new Set<() => void>();
  return {
    subscribe: (listener: () => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    change: () => {
      for (const l of [...listeners]) l();
    },
    get count() {
      return listeners.size;
    },
  };
}

describe('announceReadyWhen', () => {
  it('says ready at the first change after which ready() holds, once, then unsubscribes', async () => {
    const source = changeSource();
    let ready = false;
    let said = 0;
    announceReadyWhen(source.subscribe, () => ready, () => 7, async () => void said++, false);
    expect(source.count).toBe(1);
    source.change();
    await new Promise((r) => setTimeout(r, 30));
    expect(said).toBe(0);
    ready = true;
    source.change();
    source.change();
    await Promise.resolve();
    expect(said).toBe(1);
    expect(source.count).toBe(0);
  });

  it('already ready: says so at once, without waiting for a change', async () => {
    const source = changeSource();
    let said = 0;
    announceReadyWhen(source.subscribe, () => true, () => null, async () => void said++, false);
    await Promise.resolve();
    expect(said).toBe(1);
    expect(source.count).toBe(0);
  });
});
