/**
 * This run's one open `state.db` connection, owned by the store area:
 * `prepare` opens it, the snapshot timer and the final persist save through
 * it. Others get what they need as methods, never the slot itself: the
 * successor saves a snapshot, the chart's recordLeaseId a meta row, the
 * transition journal its rows, /state the run id; the composition root
 * closes it once the chart has stopped.
 */
import type { Metrics } from '../observability/metrics.js';
import type { ShutdownRecord, SnapshotInput, SnapshotResult, StateStore } from './state-store.js';

/**
 * What a snapshot holds of the running node, read through the owners'
 * read-only views; composed by the composition root (src/daemon.ts).
 */
export type SnapshotSource = () => Omit<SnapshotInput, 'shutdown' | 'savedAt'>;

export class StoreRun {
  #store: StateStore | null = null;

  constructor(
    private readonly metrics: Metrics,
    private readonly source: SnapshotSource,
  ) {}

  /** Called once by `prepare`. */
  opened(store: StateStore): void {
    this.#store = store;
  }

  /** Null before `prepare` opened it or when start-up failed. */
  get current(): StateStore | null {
    return this.#store;
  }

  runId(): number | null {
    return this.#store?.currentRunId ?? null;
  }

  /** Saves a snapshot now and counts it; throws what the store throws (the caller reports it). */
  save(shutdown?: ShutdownRecord): { saved: SnapshotResult; tookMs: number } {
    const store = this.#store;
    if (!store) throw new Error('the state store is not open');
    const started = performance.now();
    const saved = store.saveSnapshot({ ...this.source(), ...(shutdown ? { shutdown } : {}) });
    this.metrics.snapshots.inc({ result: 'saved' });
    return { saved, tookMs: Math.round((performance.now() - started) * 10) / 10 };
  }

  /**
   * The hot restart's snapshot, for the successor to restore: not one of the
   * run's snapshots in the metrics. Throws when the store is not open.
   */
  saveForSuccessor(): void {
    if (!this.#store) throw new Error('the state store is not open');
    this.#store.saveSnapshot(this.source());
  }

  /** Does nothing while the store is not open (nothing to keep the value in). */
  setMeta(key: string, value: string | null): void {
    this.#store?.setMeta(key, value);
  }

  close(): void {
    this.#store?.close();
  }
}
