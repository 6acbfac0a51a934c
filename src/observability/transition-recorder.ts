/**
 * Watches the lifecycle actor through XState's `inspect` hook. Inspection
 * events go as they are to live subscribers (SSE); every transition the
 * recording rule keeps (src/replay/transition-capture.ts) becomes a
 * `lifecycle` log line per state entered, a notice to live subscribers and a
 * row in SQLite (the input of replay).
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { Logger } from '../log/logger.js';
import type { LifecycleView } from './lifecycle-view.js';
import type { RestartState } from '../restart/restart-state.js';
import type { StateStore } from '../store/state-store.js';

/** What the recorder writes to (the view it publishes on, the log, the store) and reads (the takeover). */
export interface RecorderDeps {
  readonly logger: Logger;
  /** The recorder is the view's publisher: transitions and inspection events go out through it. */
  readonly lifecycle: LifecycleView;
  /** The open store, null until `prepare` opened it (rows wait until then). */
  readonly store: () => StateStore | null;
  readonly restart: RestartState;
}
import type { RunInput } from '../store/state-store.js';
import { TransitionJournal } from '../store/transition-journal.js';
import { TransitionCapture } from '../replay/transition-capture.js';
import { LifecycleLog } from './lifecycle-log.js';

export class TransitionRecorder {
  readonly #capture: TransitionCapture;
  readonly #journal: TransitionJournal;

  constructor(
    private readonly deps: RecorderDeps,
    input: RunInput,
  ) {
    const log = new LifecycleLog(deps.logger, () => deps.lifecycle.snapshot()?.context);
    this.#journal = new TransitionJournal(
      {
        store: deps.store,
        takeover: () => {
          const takeover = deps.restart.takeover;
          return takeover ? { previousRunId: takeover.previousRunId, kind: 'hot-restart' } : undefined;
        },
        startedAt: deps.lifecycle.startedAt,
        logger: deps.logger,
      },
      input,
    );
    this.#capture = new TransitionCapture((record, value) => {
      const lifecycle = log.entered(record, value);
      deps.lifecycle.publishTransition({ ...record, lifecycle });
      this.#journal.add(record);
    });
  }

  readonly inspect = (event: InspectionEvent): void => {
    this.deps.lifecycle.publishInspection(event);
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
