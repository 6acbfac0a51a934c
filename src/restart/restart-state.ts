/**
 * What a hot restart shares between the daemon's areas: the listeners the
 * successor inherits (or this process inherited), the takeover this process
 * was started for, and the hooks that let go of the node's presence
 * (admin listener, mesh socket, etcd lease) once the successor holds it.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';

/**
 * The listening handles one process passes to the next. TCP listeners travel
 * as their native handle, not as a net.Server: Node would wrap a received
 * server in a bare net.Server that accepts at once, with nobody to answer,
 * while the successor is still starting. A native handle accepts nothing
 * until `listen(handle)` (connections wait in the kernel's backlog, and the
 * old process still accepts meanwhile).
 */
export interface ListenHandles {
  proxy?: NativeListenHandle;
  admin?: NativeListenHandle;
  mesh?: dgram.Socket;
}
/** libuv's TCP handle of a listening net.Server (`server._handle`), opaque here. */
export type NativeListenHandle = object;

/** The native handle of a listening server, or null when it is not listening. */
export function nativeHandleOf(server: net.Server): NativeListenHandle | null {
  return (server as unknown as { _handle: NativeListenHandle | null })._handle ?? null;
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

  /** The live listeners, offered to a successor. */
  readonly servers: { proxy?: net.Server; admin?: net.Server; mesh?: dgram.Socket } = {};

  register<K extends HandleName>(name: K, server: K extends 'mesh' ? dgram.Socket : net.Server): void {
    (this.servers as Record<string, unknown>)[name] = server;
  }

  /** A bare listening handle with no server in this process (`--workers N`: the workers accept on it). */
  readonly #handles = new Map<HandleName, () => NativeListenHandle | null>();
  registerHandle(name: Exclude<HandleName, 'mesh'>, handle: () => NativeListenHandle | null): void {
    this.#handles.set(name, handle);
  }

  /** What to send for `name`: the native TCP handle of a server, the dgram socket itself. */
  handleToSend(name: HandleName): object | null {
    if (name === 'mesh') return this.servers.mesh ?? null;
    const bare = this.#handles.get(name);
    if (bare) return bare();
    const server = this.servers[name];
    return server && server.listening ? nativeHandleOf(server) : null;
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
