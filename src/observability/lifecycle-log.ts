/**
 * One `lifecycle` log line per lifecycle state entered (not per state value:
 * `deregistering + draining` entered together gives two lines, and the
 * region that finishes first gives none).
 */
import type { StateValue } from 'xstate';
import { lifecycleNames } from '../../machines/lifecycle-names.js';
import type { LifecycleName } from '../../machines/lifecycle-names.js';
import type { Logger } from '../log/logger.js';
import type { TransitionRecord } from '../store/state-store.js';

/** Since the shutdown signal, when there was one: the budget a line is judged against. */
export type ShutdownClock = () => { shutdownAt: number | null; budgetMs: number | null } | undefined;

export class LifecycleLog {
  #previousNames: LifecycleName[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly shutdownClock: ShutdownClock,
  ) {}

  /** Logs the states `value` enters; returns its lifecycle names. */
  entered(record: TransitionRecord, value: StateValue): LifecycleName[] {
    const names = lifecycleNames(value);
    const shutdown = this.shutdownClock();
    for (const name of names) {
      if (this.#previousNames.includes(name)) continue;
      this.logger.info(
        {
          lifecycle: name,
          states: names.join(' + '),
          event: record.event.type,
          from: record.from || null,
          ...(shutdown?.shutdownAt ? { sinceSignalMs: record.at - shutdown.shutdownAt, budgetMs: shutdown.budgetMs } : {}),
        },
        'lifecycle state entered',
      );
    }
    this.#previousNames = names;
    return names;
  }
}
