/**
 * The state store on better-sqlite3: one `state.db` per data dir, WAL mode.
 *
 * Durability: `synchronous = NORMAL` in WAL mode. A commit is in the WAL file
 * (in the OS page cache) before `COMMIT` returns, so a killed process
 * (SIGKILL, OOM, crash) never loses a committed snapshot and never leaves a
 * half-written one: the next open replays the WAL up to the last complete
 * commit. Only a power loss or kernel crash may lose the last commits (still
 * never corrupting the file) — FULL would fsync every snapshot to guard
 * against that, which an edge node's periodic snapshot does not need.
 *
 * Every snapshot replaces peers, breakers and the snapshot row in ONE
 * transaction, so a reader sees the previous snapshot or the new one, never a
 * mix. Rows carry the snapshot's generation so that can be checked.
 */
import Database from 'better-sqlite3';
import type { Database as Db, Statement, Transaction } from 'better-sqlite3';
import type { PeerInfo, PeerSource, PeerStatus } from '../../machines/events.js';
import type { BreakerRecord, BreakerStateName } from '../proxy/breaker-registry.js';
import { LATEST_VERSION, assertOurs, migrate } from './migrations.js';
import type { RunRecord, RunTakeover, SavedState, ShutdownRecord, SnapshotInput, SnapshotResult, StateStore, TransitionRecord } from './state-store.js';

/**
 * How long a write waits for a lock another process holds. better-sqlite3 is
 * synchronous, so this is time the event loop (the proxy) stands still; in WAL
 * mode readers never hold it, so only a foreign writer can, and a snapshot
 * that fails is retried by the timer anyway.
 */
const BUSY_TIMEOUT_MS = 250;
/** Runs (and their transitions) kept for audit and replay; older ones are pruned. */
const RUNS_KEPT = 50;
/** Shutdown history kept. */
const SHUTDOWNS_KEPT = 1_000;

export class SnapshotInconsistentError extends Error {
  constructor(detail: string) {
    super(`snapshot is inconsistent: ${detail}`);
    this.name = 'SnapshotInconsistentError';
  }
}

export class OlderSchemaError extends Error {
  constructor(readonly found: number) {
    super(
      found === 0
        ? 'holds no graceful-edge state yet (empty database)'
        : `is at schema version ${found}; a node of this build migrates it to ${LATEST_VERSION} on start`,
    );
    this.name = 'OlderSchemaError';
  }
}

export interface OpenOptions {
  readonly?: boolean;
  /** ms to wait on a lock held by another connection. */
  busyTimeoutMs?: number;
  /** Run `PRAGMA quick_check` (default true; skipped when the file was just validated). */
  check?: boolean;
  /** Read-only: accept a file at an older schema version. */
  allowOlder?: boolean;
}

interface SnapshotRow {
  generation: number;
  node_id: string;
  saved_at: number;
  shutdown_at: number | null;
  run_id: number | null;
  peer_count: number;
  breaker_count: number;
}
interface PeerRow {
  address: string;
  mesh_port: number;
  id: string | null;
  source: string;
  status: string;
  last_seen: number | null;
}
interface BreakerRow {
  target: string;
  state: string;
  data: string;
  updated_at: number;
}
interface ShutdownRow {
  at: number;
  drained: number;
  cut: number;
  notices_sent: number | null;
  acked: number | null;
  signals: string;
}

/**
 * Opens `file`, checks it (`quick_check`, application id, schema version) and,
 * unless read-only, migrates it. Throws on a file it cannot use; the caller
 * decides whether that means "move it aside" (see open-store.ts).
 *
 * A read-only connection never writes: no checkpoint, no WAL deleted at close.
 * That makes it the safe way to judge a file before anything touches it.
 */
export function openDatabase(file: string, opts: OpenOptions = {}): Db {
  const readonly = opts.readonly ?? false;
  const db = new Database(file, { readonly, fileMustExist: readonly, timeout: opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS });
  try {
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
    }
    if (opts.check ?? true) {
      const check = db.pragma('quick_check', { simple: true }) as string;
      if (check !== 'ok') {
        const err = new Error(`quick_check failed: ${check}`) as Error & { code: string };
        err.code = 'SQLITE_CORRUPT';
        throw err;
      }
    }
    if (readonly) {
      // A read-only reader cannot migrate; an older file is read by a node first.
      const version = assertOurs(db);
      if (version < LATEST_VERSION && !opts.allowOlder) throw new OlderSchemaError(version);
    } else migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Judges an existing file without changing it: throws what `openDatabase` would. */
export function validateStateFile(file: string): void {
  openDatabase(file, { readonly: true, allowOlder: true }).close();
}

export class SqliteStateStore implements StateStore {
  readonly #db: Db;
  #currentRunId: number | null = null;
  readonly #seqByRun = new Map<number, number>();
  readonly #stmt: ReturnType<typeof prepareStatements>;
  readonly #snapshotTx: Transaction<(s: SnapshotInput) => SnapshotResult>;

  constructor(
    readonly path: string,
    db: Db,
  ) {
    this.#db = db;
    this.#stmt = prepareStatements(db);
    this.#snapshotTx = db.transaction((s: SnapshotInput) => this.#writeSnapshot(s));
  }

  static open(file: string, opts: OpenOptions = {}): SqliteStateStore {
    return new SqliteStateStore(file, openDatabase(file, opts));
  }

  get schemaVersion(): number {
    return LATEST_VERSION;
  }

  /** The underlying connection, for checks (`integrity_check`) and tests. */
  get db(): Db {
    return this.#db;
  }

  get currentRunId(): number | null {
    return this.#currentRunId;
  }

  beginRun(input: RunRecord['input'], startedAt: number, takeover?: RunTakeover): number {
    const s = this.#stmt;
    const runId = this.#db.transaction(() => {
      const id = Number(
        s.insertRun.run(startedAt, JSON.stringify(input), takeover?.previousRunId ?? null, takeover?.kind ?? null).lastInsertRowid,
      );
      // This run has not shut down: until it does, the file says so (a SIGKILL
      // leaves it that way).
      s.clearSnapshotShutdown.run();
      s.pruneRuns.run(id - RUNS_KEPT);
      return id;
    }).immediate();
    this.#currentRunId = runId;
    this.#seqByRun.set(runId, 0);
    return runId;
  }

  recordTransition(runId: number, t: TransitionRecord): void {
    let seq = this.#seqByRun.get(runId);
    if (seq === undefined) {
      seq = (this.#stmt.maxSeq.get(runId) as { seq: number | null }).seq ?? 0;
    }
    seq++;
    this.#stmt.insertTransition.run(runId, seq, t.at, JSON.stringify(t.event), t.from, t.to);
    this.#seqByRun.set(runId, seq);
  }

  saveSnapshot(s: SnapshotInput): SnapshotResult {
    return this.#snapshotTx.immediate(s);
  }

  #writeSnapshot(s: SnapshotInput): SnapshotResult {
    const st = this.#stmt;
    const savedAt = s.savedAt ?? Date.now();
    const prev = st.getSnapshot.get() as SnapshotRow | undefined;
    const generation = (prev?.generation ?? 0) + 1;
    for (const p of s.peers) {
      st.upsertPeer.run(p.address, p.meshPort, p.id, p.source, p.status, p.lastSeen, generation);
    }
    st.deleteOldPeers.run(generation);
    for (const b of s.breakers) {
      st.upsertBreaker.run(b.target, b.state, JSON.stringify(b.data ?? null), b.updatedAt, generation);
    }
    st.deleteOldBreakers.run(generation);
    const shutdownAt = s.shutdown ? s.shutdown.at : null;
    // Counts come from the table, not the input: two peers with one address are one row.
    const peerCount = (st.countPeers.get() as { n: number }).n;
    const breakerCount = (st.countBreakers.get() as { n: number }).n;
    st.putSnapshot.run(generation, s.nodeId, savedAt, shutdownAt, this.#currentRunId, peerCount, breakerCount);
    st.putMeta.run('node_id', s.nodeId);
    if (s.shutdown) {
      const d = s.shutdown;
      st.insertShutdown.run(this.#currentRunId, d.at, d.drained, d.cut, d.noticesSent, d.acked, JSON.stringify(d.signals));
      if (this.#currentRunId !== null) st.setRunShutdown.run(d.at, this.#currentRunId);
      st.pruneShutdowns.run(SHUTDOWNS_KEPT);
    }
    return { savedAt, generation, peers: peerCount, breakers: breakerCount };
  }

  load(): SavedState | null {
    return this.#db.transaction((): SavedState | null => {
      const st = this.#stmt;
      const snap = st.getSnapshot.get() as SnapshotRow | undefined;
      if (!snap) return null;
      const peers = (st.peersOf.all(snap.generation) as PeerRow[]).map(peerFromRow);
      const breakers = (st.breakersOf.all(snap.generation) as BreakerRow[]).map(breakerFromRow);
      const stray = st.strayRows.get(snap.generation, snap.generation) as { n: number };
      if (peers.length !== snap.peer_count || breakers.length !== snap.breaker_count || stray.n > 0) {
        throw new SnapshotInconsistentError(
          `snapshot ${snap.generation} says ${snap.peer_count} peers / ${snap.breaker_count} breakers, ` +
            `found ${peers.length} / ${breakers.length} and ${stray.n} rows of other snapshots`,
        );
      }
      const shutdowns = (st.shutdowns.all() as ShutdownRow[]).map(shutdownFromRow);
      const lastRun = st.lastRunId.get() as { run_id: number } | undefined;
      const transitions = lastRun ? (st.countTransitions.get(lastRun.run_id) as { n: number }).n : 0;
      return {
        nodeId: snap.node_id,
        savedAt: snap.saved_at,
        shutdownAt: snap.shutdown_at,
        peers,
        breakers,
        shutdowns,
        transitions,
      };
    }).deferred();
  }

  lastRun(): RunRecord | null {
    const st = this.#stmt;
    return this.#db.transaction((): RunRecord | null => {
      const run = st.lastRun.get() as { run_id: number; started_at: number; input: string } | undefined;
      if (!run) return null;
      const rows = st.transitionsOf.all(run.run_id) as Array<{ at: number; event: string; from_state: string; to_state: string }>;
      return {
        runId: run.run_id,
        startedAt: run.started_at,
        input: JSON.parse(run.input) as RunRecord['input'],
        transitions: rows.map((r) => ({
          at: r.at,
          event: JSON.parse(r.event) as TransitionRecord['event'],
          from: r.from_state,
          to: r.to_state,
        })),
      };
    }).deferred();
  }

  getMeta(key: string): string | null {
    const row = this.#stmt.getMeta.get(key) as { value: string } | undefined;
    return row ? row.value : null;
  }

  setMeta(key: string, value: string | null): void {
    if (value === null) this.#stmt.deleteMeta.run(key);
    else this.#stmt.putMeta.run(key, value);
  }

  /**
   * Closes the file. A writer first leaves WAL mode (WAL is set again at the
   * next open): a stopped node's data dir then holds `state.db` alone, and a
   * read-only reader (`graceful-edge state`) creates no -wal/-shm beside it.
   * If another connection is reading, the file simply stays in WAL mode.
   */
  close(): void {
    if (!this.#db.open) return;
    if (!this.#db.readonly) {
      try {
        this.#db.pragma('journal_mode = DELETE');
      } catch {
        // busy: a reader holds it; WAL mode is just as safe.
      }
    }
    this.#db.close();
  }
}

function prepareStatements(db: Db) {
  const p = (sql: string): Statement => db.prepare(sql);
  return {
    insertRun: p('INSERT INTO runs (started_at, input, shutdown_at, previous_run_id, takeover) VALUES (?, ?, NULL, ?, ?)'),
    pruneRuns: p('DELETE FROM runs WHERE run_id <= ?'),
    clearSnapshotShutdown: p('UPDATE snapshot SET shutdown_at = NULL'),
    setRunShutdown: p('UPDATE runs SET shutdown_at = ? WHERE run_id = ?'),
    maxSeq: p('SELECT max(seq) AS seq FROM transitions WHERE run_id = ?'),
    insertTransition: p('INSERT INTO transitions (run_id, seq, at, event, from_state, to_state) VALUES (?, ?, ?, ?, ?, ?)'),
    getSnapshot: p('SELECT * FROM snapshot WHERE id = 1'),
    putSnapshot: p(
      `INSERT INTO snapshot (id, generation, node_id, saved_at, shutdown_at, run_id, peer_count, breaker_count)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET generation = excluded.generation, node_id = excluded.node_id,
         saved_at = excluded.saved_at, shutdown_at = excluded.shutdown_at, run_id = excluded.run_id,
         peer_count = excluded.peer_count, breaker_count = excluded.breaker_count`,
    ),
    upsertPeer: p(
      `INSERT INTO peers (address, mesh_port, id, source, status, last_seen, generation) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(address) DO UPDATE SET mesh_port = excluded.mesh_port, id = excluded.id, source = excluded.source,
         status = excluded.status, last_seen = excluded.last_seen, generation = excluded.generation`,
    ),
    deleteOldPeers: p('DELETE FROM peers WHERE generation <> ?'),
    countPeers: p('SELECT count(*) AS n FROM peers'),
    upsertBreaker: p(
      `INSERT INTO breakers (target, state, data, updated_at, generation) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(target) DO UPDATE SET state = excluded.state, data = excluded.data,
         updated_at = excluded.updated_at, generation = excluded.generation`,
    ),
    deleteOldBreakers: p('DELETE FROM breakers WHERE generation <> ?'),
    countBreakers: p('SELECT count(*) AS n FROM breakers'),
    peersOf: p('SELECT address, mesh_port, id, source, status, last_seen FROM peers WHERE generation = ? ORDER BY address'),
    breakersOf: p('SELECT target, state, data, updated_at FROM breakers WHERE generation = ? ORDER BY target'),
    strayRows: p(
      'SELECT (SELECT count(*) FROM peers WHERE generation <> ?) + (SELECT count(*) FROM breakers WHERE generation <> ?) AS n',
    ),
    insertShutdown: p(
      'INSERT INTO shutdowns (run_id, at, drained, cut, notices_sent, acked, signals) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    pruneShutdowns: p('DELETE FROM shutdowns WHERE seq <= (SELECT max(seq) FROM shutdowns) - ?'),
    shutdowns: p('SELECT at, drained, cut, notices_sent, acked, signals FROM shutdowns ORDER BY seq'),
    lastRunId: p('SELECT run_id FROM runs ORDER BY run_id DESC LIMIT 1'),
    lastRun: p('SELECT run_id, started_at, input FROM runs ORDER BY run_id DESC LIMIT 1'),
    countTransitions: p('SELECT count(*) AS n FROM transitions WHERE run_id = ?'),
    transitionsOf: p('SELECT at, event, from_state, to_state FROM transitions WHERE run_id = ? ORDER BY seq'),
    getMeta: p('SELECT value FROM meta WHERE key = ?'),
    putMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    deleteMeta: p('DELETE FROM meta WHERE key = ?'),
  };
}

const PEER_SOURCES: readonly PeerSource[] = ['static', 'mdns', 'etcd', 'restored'];
const PEER_STATUSES: readonly PeerStatus[] = ['alive', 'suspect', 'left'];
const BREAKER_STATES: readonly BreakerStateName[] = ['closed', 'open', 'half-open', 'isolated'];

function peerFromRow(r: PeerRow): PeerInfo {
  return {
    address: r.address,
    meshPort: r.mesh_port,
    id: r.id,
    source: PEER_SOURCES.includes(r.source as PeerSource) ? (r.source as PeerSource) : 'restored',
    status: PEER_STATUSES.includes(r.status as PeerStatus) ? (r.status as PeerStatus) : 'suspect',
    lastSeen: r.last_seen,
  };
}

function breakerFromRow(r: BreakerRow): BreakerRecord {
  return {
    target: r.target,
    state: BREAKER_STATES.includes(r.state as BreakerStateName) ? (r.state as BreakerStateName) : 'closed',
    data: JSON.parse(r.data) as unknown,
    updatedAt: r.updated_at,
  };
}

function shutdownFromRow(r: ShutdownRow): ShutdownRecord {
  return {
    at: r.at,
    drained: r.drained,
    cut: r.cut,
    noticesSent: r.notices_sent,
    acked: r.acked,
    signals: JSON.parse(r.signals) as string[],
  };
}
