/**
 * The core of recording a run: fed the lifecycle actor's inspection events,
 * it keeps the root's macrosteps that the recording rule keeps and turns each
 * into a transition record. The daemon's recorder and the tests' recorder
 * (test/helpers/replay.ts) both use it, so what a test records is what the
 * node would have stored.
 */
import type { AnyActorRef, InspectionEvent, StateValue } from 'xstate';
import { stateValueText } from '../../machines/lifecycle-names.js';
import type { TransitionRecord } from '../store/state-store.js';
import { RecordingRule } from './recording-rule.js';

/**
 * Events as stored and replayed: plain JSON, errors reduced to their message,
 * and an actor output's `payload` (bulk data the chart only hands on, e.g. the
 * restored snapshot; see machines/events.ts) left out.
 */
export function toRecordedEvent(event: { type: string }): TransitionRecord['event'] {
  return JSON.parse(
    JSON.stringify(event, function (this: unknown, key, value: unknown) {
      if (key === 'payload' && this === (event as { output?: unknown }).output) return undefined;
      return value instanceof Error ? value.message : value;
    }),
  ) as TransitionRecord['event'];
}

export type OnTransition = (record: TransitionRecord, value: StateValue) => void;

export class TransitionCapture {
  #root: AnyActorRef | null = null;
  #previous = '';
  /** Also keeps re-entries (same value), which replay needs; see recording-rule.ts. */
  readonly #rule = new RecordingRule();

  constructor(
    private readonly onTransition: OnTransition,
    /** The record's `at`; tests pass a counter, so no clock is read. */
    private readonly now: () => number = Date.now,
  ) {}

  /** The root is known only after createActor returns; start() emits the first snapshot. */
  setRoot(root: AnyActorRef): void {
    this.#root = root;
  }

  readonly inspect = (event: InspectionEvent): void => {
    // Only the root actor's snapshots are lifecycle transitions.
    if (this.#root === null || event.actorRef !== this.#root) return;
    this.#rule.note(event);
    if (event.type !== '@xstate.snapshot') return;
    const value = (event.snapshot as unknown as { value: StateValue }).value;
    const to = stateValueText(value);
    if (!this.#rule.shouldRecord(this.#previous, to)) return;
    const record: TransitionRecord = { at: this.now(), event: toRecordedEvent(event.event), from: this.#previous, to };
    this.#previous = to;
    this.onTransition(record, value);
  };
}
