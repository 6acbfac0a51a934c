/** The checker the browser test relies on must itself catch lies. */
import { describe, expect, it } from 'vitest';
import { checkShownLabels } from './label-truth.js';

const logged = ['starting', 'restoring', 'serving', 'deregistering + draining', 'deregistering + draining', 'persisting', 'stopped'];

describe('checkShownLabels', () => {
  it('accepts the true sequence, including a finished parallel region', () => {
    expect(checkShownLabels(['serving', 'deregistering + draining', 'draining', 'persisting', 'stopped'], logged)).toBeNull();
    expect(checkShownLabels(['serving', 'serving', 'persisting', 'stopped'], logged)).toBeNull();
  });
  it('rejects a state the daemon never was in, a wrong order, a region coming back, and non-labels', () => {
    expect(checkShownLabels(['serving', 'cutting'], logged)).toMatch(/not a lifecycle label/);
    expect(checkShownLabels(['serving', ''], logged)).toMatch(/not a lifecycle label/);
    expect(checkShownLabels(['connecting…'], logged)).toMatch(/not a lifecycle label/);
    expect(checkShownLabels(['persisting', 'serving'], logged)).toMatch(/never was/);
    expect(checkShownLabels(['serving', 'draining', 'deregistering + draining'], logged)).toMatch(/stayed in/);
    expect(checkShownLabels(['serving', 'stopped', 'persisting'], logged)).toMatch(/never was/);
  });
});
