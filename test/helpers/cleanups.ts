/**
 * What a test leaves behind, undone after it: daemons, temp dirs, servers,
 * mounts, locks. A file calls `testScope()` once; or keeps its own
 * `Cleanups` and calls `run()` in its afterEach, after its daemons are
 * stopped (they may still hold the dirs).
 */
import { rmSync } from 'node:fs';
import { afterEach } from 'vitest';
import { stopAll, tempDir } from './daemon.js';
import type { NodeProcess } from './daemon.js';

type Undo = () => unknown;

export class Cleanups {
  #undo: Undo[] = [];

  /** Runs `undo` after the test; later steps run first (unmount before removing the mount point). */
  defer(undo: Undo): void {
    this.#undo.push(undo);
  }

  /** Closes `thing` after the test (a server, socket, browser); returns it. */
  closing<T extends { close(): unknown }>(thing: T): T {
    this.defer(() => thing.close());
    return thing;
  }

  /** A fresh temp dir, removed after the test. */
  tempDir(prefix?: string): string {
    const dir = tempDir(prefix);
    this.defer(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /**
   * Runs every step, newest first, even when one fails; then fails with all
   * the failures, so a step that could not be undone is never silent.
   */
  async run(): Promise<void> {
    const failures: unknown[] = [];
    for (const undo of this.#undo.splice(0).reverse()) {
      try {
        await undo();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `${failures.length} cleanup steps failed`);
  }
}

/**
 * The daemons and undo steps of the tests that follow (call at the top of a
 * file or describe): after each test its daemons still running are killed,
 * then its steps run.
 */
export function testScope(): { nodes: NodeProcess[]; cleanups: Cleanups } {
  const nodes: NodeProcess[] = [];
  const cleanups = new Cleanups();
  afterEach(async () => {
    await stopAll(nodes);
    await cleanups.run();
  });
  return { nodes, cleanups };
}
