/**
 * Transitions on their way to SQLite: held until the store is open (the first
 * ones happen before `prepare` opens it), then written under this run's id,
 * which the first write creates.
 */
import type { Logger } from '../log/logger.js';
import type { RunInput, RunTakeover, StateStore, TransitionRecord } from './state-store.js';

export interface JournalSource {
  store: () => StateStore | null;
  /** When the run took over from a predecessor (hot restart). */
  takeover: () => RunTakeover | undefined;
  startedAt: number;
  logger: Logger;
}

export class TransitionJournal {
  #pending: TransitionRecord[] = [];
  #runId: number | null = null;

  constructor(
    private readonly source: JournalSource,
    private readonly input: RunInput,
  ) {}

  add(record: TransitionRecord): void {
    this.#pending.push(record);
    this.flush();
  }

  /** Writes buffered transitions once the store is open; never throws. */
  flush(): void {
    const store = this.source.store();
    if (!store || this.#pending.length === 0) return;
    try {
      this.#runId ??= store.beginRun(this.input, this.source.startedAt, this.source.takeover());
      for (const t of this.#pending) store.recordTransition(this.#runId, t);
      this.#pending = [];
    } catch (error) {
      this.source.logger.error({ err: error }, 'could not record lifecycle transition');
    }
  }
}
