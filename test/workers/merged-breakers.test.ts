/** The breaker merge of `--workers N` (src/workers/merged-breakers.ts): pure, no processes. */
import { describe, expect, it } from 'vitest';
import type { BreakerRecord } from '../../src/proxy/breaker-registry.js';
import { MergedBreakers, mergeBreakerRecords } from '../../src/workers/merged-breakers.js';

const rec = (target: string, state: BreakerRecord['state'], updatedAt: number): BreakerRecord => ({ target, state, data: { state }, updatedAt });

describe('mergeBreakerRecords', () => {
  it('per target, the most recent state change wins', () => {
    const a = [rec('http://a', 'open', 20), rec('http://b', 'closed', 50)];
    const b = [rec('http://a', 'closed', 10), rec('http://b', 'open', 40)];
    expect(mergeBreakerRecords([a, b])).toEqual([rec('http://a', 'open', 20), rec('http://b', 'closed', 50)]);
  });

  it('a half-open trial that closed the breaker later beats the open it started from', () => {
    expect(mergeBreakerRecords([[rec('t', 'open', 10)], [rec('t', 'closed', 25)]])).toEqual([rec('t', 'closed', 25)]);
  });

  it('on a tie the more cautious state wins, whatever the order', () => {
    for (const sets of [[[rec('t', 'closed', 5)], [rec('t', 'open', 5)]], [[rec('t', 'open', 5)], [rec('t', 'closed', 5)]]]) {
      expect(mergeBreakerRecords(sets)).toEqual([rec('t', 'open', 5)]);
    }
    expect(mergeBreakerRecords([[rec('t', 'half-open', 5)], [rec('t', 'closed', 5)]])).toEqual([rec('t', 'half-open', 5)]);
  });

  it('a target only one worker used is kept as that worker reported it', () => {
    expect(mergeBreakerRecords([[rec('x', 'open', 1)], []])).toEqual([rec('x', 'open', 1)]);
  });
});

describe('MergedBreakers', () => {
  it('merges the restored set with every report; a worker that exited keeps its last report', () => {
    const m = new MergedBreakers((records) => records.filter((r) => r.target !== 'bad'));
    m.restoreAll([rec('a', 'open', 10), rec('bad', 'open', 99)]);
    expect(m.list()).toEqual([{ target: 'a', state: 'open' }]);
    m.report(101, [rec('a', 'closed', 30), rec('b', 'closed', 30)]);
    m.report(102, [rec('b', 'open', 40)]);
    expect(m.exportAll()).toEqual([rec('a', 'closed', 30), rec('b', 'open', 40)]);
    // A later report from one worker replaces that worker's earlier one only.
    m.report(101, [rec('a', 'closed', 30)]);
    expect(m.list()).toEqual([
      { target: 'a', state: 'closed' },
      { target: 'b', state: 'open' },
    ]);
  });
});
