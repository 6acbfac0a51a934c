/**
 * Watches the lifecycle actor through XState's `inspect` hook and turns every
 * change of state value into: one `lifecycle` log line per lifecycle state
 * entered, a transition row in SQLite (the input of replay), and a notice to
 * live subscribers (SSE, inspector). Inspection events are fanned out as-is.
 */
import type { AnyActorRef, InspectionEvent, StateValue } from 'xstate';
import { lifecycleNames, stateValueText } from '../../machines/lifecycle-names.js';
import type { LifecycleName } from '../../machines/lifecycle-names.js';
import type { NodeRuntime } from '../runtime.js';
import type { TransitionRecord } from '../store/state-store.js';
import { RecordingRule } from '../replay/recording-rule.js';

/** Events as stored and replayed: plain JSON, errors reduced to their message. */
export function toRecordedEvent(event: { type: string }): TransitionRecord['event'] {
  return JSON.parse(
    JSON.stringify(event, (_key, value: unknown) => (value instanceof Error ? value.message : value)),
  ) as TransitionRecord['event'];
}

export class TransitionRecorder {
  #root: AnyActorRef | null = null;
  #previous = '';
  #previousNames: LifecycleName[] = [];
  #pending: TransitionRecord[] = [];
  #runId: number | null = null;
  /** Also keeps re-entries (same value), which replay needs; see src/replay/recording-rule.ts. */
  readonly #rule = new RecordingRule();

  constructor(
    private readonly runtime: NodeRuntime,
    private readonly input: { nodeId: string; drainTimeoutMs: number; shutdownDelayMs: number },
  ) {}

  readonly inspect = (event: InspectionEvent): void => {
    this.runtime.lifecycle.publishInspection(event);
    // Only the root actor's snapshots are lifecycle transitions.
    if (event.actorRef !== this.#root) return;
    this.#rule.note(event);
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as unknown as { value: StateValue };
    this.#onSnapshot(snapshot.value, event.event);
  };

  setRoot(root: AnyActorRef): void {
    this.#root = root;
  }

  #onSnapshot(value: StateValue, event: { type: string }): void {
    const to = stateValueText(value);
    if (!this.#rule.shouldRecord(this.#previous, to)) return;
    const at = Date.now();
    const record: TransitionRecord = { at, event: toRecordedEvent(event), from: this.#previous, to };
    this.#previous = to;
    const names = lifecycleNames(value);
    const entered = names.filter((n) => !this.#previousNames.includes(n));
    const shutdown = this.runtime.lifecycle.snapshot()?.context;
    for (const name of entered) {
      this.runtime.logger.info(
        {
          lifecycle: name,
          states: names.join(' + '),
          event: event.type,
          from: record.from || null,
          ...(shutdown?.shutdownAt ? { sinceSignalMs: at - shutdown.shutdownAt, budgetMs: shutdown.budgetMs } : {}),
        },
        `lifecycle: ${name}`,
      );
    }
    this.#previousNames = names;
    this.runtime.lifecycle.publishTransition({ ...record, lifecycle: names });
    this.#pending.push(record);
    this.flush();
  }

  /** Writes buffered transitions once the store is open; never throws. */
  flush(): void {
    const store = this.runtime.store;
    if (!store || this.#pending.length === 0) return;
    try {
      if (this.#runId === null) {
        const takeover = this.runtime.restart?.takeover;
        this.#runId = store.beginRun(
          this.input,
          this.runtime.lifecycle.startedAt,
          takeover ? { previousRunId: takeover.previousRunId, kind: 'hot-restart' } : undefined,
        );
      }
      for (const t of this.#pending) store.recordTransition(this.#runId, t);
      this.#pending = [];
    } catch (error) {
      this.runtime.logger.error({ err: error }, 'could not record lifecycle transition');
    }
  }
}
