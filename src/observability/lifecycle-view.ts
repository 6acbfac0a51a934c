/**
 * A read-only window on the running lifecycle actor for services that must
 * answer questions about it (admin /readyz, /state, the inspector) without
 * holding the actor itself. Inspection events fan out to subscribers (SSE).
 */
import type { InspectionEvent } from 'xstate';
import { lifecycleLabel, lifecycleNames } from '../../machines/lifecycle-names.js';
import type { LifecycleName } from '../../machines/lifecycle-names.js';
import type { LifecycleContext } from '../../machines/lifecycle.js';
import type { StateValue } from 'xstate';
import type { TransitionRecord } from '../store/state-store.js';

export interface LifecycleSnapshotLike {
  value: StateValue;
  context: LifecycleContext;
  status: string;
}

/** A recorded transition with the lifecycle names it leads to, as SSE sends it. */
export interface TransitionNotice extends TransitionRecord {
  lifecycle: LifecycleName[];
}

type Subscriber = {
  transition?: (t: TransitionNotice) => void;
  inspection?: (e: InspectionEvent) => void;
};

export class LifecycleView {
  #get: (() => LifecycleSnapshotLike) | null = null;
  readonly #subs = new Set<Subscriber>();
  readonly startedAt = Date.now();

  attach(get: () => LifecycleSnapshotLike): void {
    this.#get = get;
  }

  snapshot(): LifecycleSnapshotLike | null {
    return this.#get ? this.#get() : null;
  }

  names(): LifecycleName[] {
    const s = this.snapshot();
    return s ? lifecycleNames(s.value) : ['starting'];
  }

  label(): string {
    const s = this.snapshot();
    return s ? lifecycleLabel(s.value) : 'starting';
  }

  isServing(): boolean {
    const n = this.names();
    return n.length === 1 && n[0] === 'serving';
  }

  subscribe(sub: Subscriber): () => void {
    this.#subs.add(sub);
    return () => this.#subs.delete(sub);
  }

  publishTransition(t: TransitionNotice): void {
    for (const s of this.#subs) s.transition?.(t);
  }

  publishInspection(e: InspectionEvent): void {
    for (const s of this.#subs) s.inspection?.(e);
  }
}

/** The window without its publishing side: for the admin, inspector and registry. */
export type LifecycleReader = Pick<LifecycleView, 'startedAt' | 'snapshot' | 'names' | 'label' | 'isServing' | 'subscribe'>;
