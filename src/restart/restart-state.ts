/**
 * What a hot restart shares between the daemon's areas: the listeners the
 * successor inherits (or this process inherited), the takeover this process
 * was started for, and the hooks that let go of the node's presence
 * (admin listener, mesh socket, etcd lease) once the successor holds it.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';

/** The listening handles one process passes to the next. */
export interface ListenHandles {
  proxy?: net.Server;
  admin?: net.Server;
  mesh?: dgram.Socket;
}
export type HandleName = keyof ListenHandles;

/** Set in a successor: which run it took over from (env GRACEFUL_EDGE_TAKEOVER). */
export interface Takeover {
  /** The process that spawned this one and still holds the data dir lock. */
  fromPid: number;
  /** The run (runs.run_id) of that process, recorded as previous_run_id. */
  previousRunId: number | null;
  /** Hot restarts since the node's first start, this one included. */
  restarts: number;
}

export class RestartState {
  /** Listening handles of this process, registered by the areas that own them. */
  readonly live: ListenHandles = {};
  /**
   * While true the serving actors' stop (serving → handingOver) must not tell
   * peers anything: no mDNS goodbye, no etcd revoke. Cleared if the restart fails.
   */
  presenceHeld = false;
  /** True once the successor serves: this process answers with Connection: close. */
  released = false;
  readonly #releasers = new Set<() => void>();

  constructor(
    /** Null in a process started by hand. */
    readonly takeover: Takeover | null = null,
    /** Handles passed by the previous process; empty on a cold start. */
    readonly inherited: ListenHandles = {},
  ) {}

  /** Hot restarts since the node's first start. */
  get restarts(): number {
    return this.takeover?.restarts ?? 0;
  }

  register<K extends HandleName>(name: K, handle: NonNullable<ListenHandles[K]>): void {
    this.live[name] = handle;
  }

  /** `release` runs once the successor is ready; returns a function that unregisters it. */
  onRelease(release: () => void): () => void {
    this.#releasers.add(release);
    return () => this.#releasers.delete(release);
  }

  /** The successor serves: let go of what it now holds. Never throws. */
  release(onError: (error: unknown) => void): void {
    this.released = true;
    for (const release of this.#releasers) {
      try {
        release();
      } catch (error) {
        onError(error);
      }
    }
  }
}
