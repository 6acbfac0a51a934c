/**
 * Checks what the inspector page showed in `#lifecycle-state` against the
 * daemon's own `lifecycle` log lines (their `states` field: the full label at
 * the moment a state was entered).
 *
 * A label the log does not name can still be true: when a parallel region
 * finishes (deregistering reaches `done`) the label shrinks without a state
 * being entered, so no line is logged. Hence each label shown must be the
 * logged label at that point, or a subset of it that only shrinks until the
 * next logged label — and the page may never go back in time.
 */
import { LIFECYCLE_NAMES } from '../../machines/lifecycle-names.js';

export function labelNames(label: string): string[] {
  return label.split(' + ');
}

/** Returns null when every shown label was true, else what went wrong. */
export function checkShownLabels(shown: string[], logged: string[]): string | null {
  const seq = shown.filter((label, i) => i === 0 || label !== shown[i - 1]);
  let j = 0;
  let previous: string[] | null = null;
  for (const label of seq) {
    const names = labelNames(label);
    if (label === '' || names.some((n) => !(LIFECYCLE_NAMES as readonly string[]).includes(n))) {
      return `page showed ${JSON.stringify(label)}, which is not a lifecycle label`;
    }
    let k = j;
    while (k < logged.length && !names.every((n) => labelNames(logged[k]!).includes(n))) k++;
    if (k >= logged.length) {
      return `page showed "${label}" after "${logged[j] ?? '(nothing)'}", but the daemon never was in it then (logged: ${logged.join(' | ')})`;
    }
    if (k === j && previous && !names.every((n) => previous!.includes(n))) {
      return `page showed "${label}" after "${previous.join(' + ')}" while the daemon stayed in "${logged[k]}"`;
    }
    j = k;
    previous = names;
  }
  return null;
}
