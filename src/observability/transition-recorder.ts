/**
 * Watches the lifecycle actor through XState's `inspect` hook. Inspection
 * events go as they are to live subscribers (SSE); every transition the
 * recording rule keeps (src/replay/transition-capture.ts) becomes a
 * `lifecycle` log line per state entered, a notice to live subscribers and a
 * row in SQLite (the input of replay).
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { NodeRuntime } from '../runtime.js';
import type { RunInput } from '../store/state-store.js';
import { TransitionJournal } from '../store/transition-journal.js';
import { TransitionCapture } from '../replay/transition-capture.js';
import { LifecycleLog } from './lifecycle-log.js';

export class TransitionRecorder {
  readonly #capture: TransitionCapture;
  readonly #journal: TransitionJournal;

  constructor(
    private readonly runtime: NodeRuntime,
    input: RunInput,
  ) {
    const log = new LifecycleLog(runtime.logger, () => runtime.lifecycle.snapshot()?.context);
    this.#journal = new TransitionJournal(
      {
        store: () => runtime.store,
        takeover: () => {
          const takeover = runtime.restart?.takeover;
          return takeover ? { previousRunId: takeover.previousRunId, kind: 'hot-restart' } : undefined;
        },
        startedAt: runtime.lifecycle.startedAt,
        logger: runtime.logger,
      },
      input,
    );
    this.#capture = new TransitionCapture((record, value) => {
      const lifecycle = log.entered(record, value);
      runtime.lifecycle.publishTransition({ ...record, lifecycle });
      this.#journal.add(record);
    });
  }

  readonly inspect = (event: InspectionEvent): void => {
    this.runtime.lifecycle.publishInspection(event);
    this.#capture.inspect(event);
  };

  setRoot(root: AnyActorRef): void {
    this.#capture.setRoot(root);
  }

  /** Writes what the store was not open for yet; never throws. */
  flush(): void {
    this.#journal.flush();
  }
}
