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
import type {
  RunRecord,
  RunTakeover,
  SavedState,
  ShutdownRecord,
  SkippedRow,
  SnapshotInput,
  SnapshotResult,
  StateStore,
  TransitionRecord,
} from './state-store.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_BREAKER_DATA_LENGTH,
  MAX_PEER_ID_LENGTH,
  MAX_RESTORED_BREAKERS,
  MAX_RESTORED_PEERS,
  MAX_SIGNALS_LENGTH,
  MAX_SKIPPED_LISTED,
  MAX_TARGET_LENGTH,
  quote,
} from './restore-limits.js';

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
/**
 * Rows as SQLite gives them: its columns are dynamically typed, so a crafted
 * file may hold anything in any column. Long text comes cut (`substr`) with
 * its real length beside it, so an oversized value is never loaded whole.
 */
interface PeerRow {
  address: unknown;
  address_len: number | null;
  mesh_port: unknown;
  id: unknown;
  id_len: number | null;
  source: unknown;
  status: unknown;
  last_seen: unknown;
}
interface BreakerRow {
  target: unknown;
  target_len: number | null;
  state: unknown;
  /** Null when longer than MAX_BREAKER_DATA_LENGTH (data_len says how long). */
  data: unknown;
  data_len: number | null;
  updated_at: unknown;
}
interface ShutdownRow {
  seq: number;
  at: number;
  drained: number;
  cut: number;
  notices_sent: number | null;
  acked: number | null;
  /** Null when longer than MAX_SIGNALS_LENGTH. */
  signals: unknown;
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
  /**
   * The peer rows of generation `gen` exactly as this connection wrote them
   * (address → the row's values as JSON). With it a snapshot writes only the
   * rows that changed: unchanged ones move to the new generation in one
   * UPDATE. Null until the first snapshot commits, and after one fails.
   */
  #written: { gen: number; peers: Map<string, string> } | null = null;
  #pending: { gen: number; peers: Map<string, string> } | null = null;

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
    try {
      const result = this.#snapshotTx.immediate(s);
      this.#written = this.#pending;
      return result;
    } catch (error) {
      this.#written = null;
      throw error;
    } finally {
      this.#pending = null;
    }
  }

  #writeSnapshot(s: SnapshotInput): SnapshotResult {
    const st = this.#stmt;
    const savedAt = s.savedAt ?? Date.now();
    const prev = st.getSnapshot.get() as SnapshotRow | undefined;
    const prevGen = prev?.generation ?? 0;
    const generation = prevGen + 1;
    // Incremental when the file holds what this connection last wrote: a
    // snapshot of 10,000 unchanged peers is then one UPDATE, not 10,000 upserts.
    const cache = this.#written?.gen === prevGen ? this.#written.peers : null;
    if (cache) st.bumpPeers.run(generation, prevGen);
    const next = new Map<string, string>();
    for (const p of s.peers) {
      const row = JSON.stringify([p.meshPort, p.id, p.source, p.status, p.lastSeen]);
      const before = next.get(p.address) ?? cache?.get(p.address);
      if (before !== row) st.upsertPeer.run(p.address, p.meshPort, p.id, p.source, p.status, p.lastSeen, generation);
      next.set(p.address, row);
    }
    if (cache) for (const address of cache.keys()) if (!next.has(address)) st.deletePeer.run(address);
    st.deleteOldPeers.run(generation);
    this.#pending = { gen: generation, peers: next };
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

  /**
   * The last snapshot. Rows that cannot be read (wrong types, bad JSON) or
   * are beyond the restore limits (restore-limits.ts) are skipped and listed
   * in `skipped`; the rest is returned. Throws only when the snapshot as a
   * whole cannot be used (its own row unreadable, or rows of another
   * generation mixed in): the caller then moves the file aside.
   */
  load(): SavedState | null {
    return this.#db.transaction((): SavedState | null => {
      const st = this.#stmt;
      const snap = st.getSnapshot.get() as SnapshotRow | undefined;
      if (!snap) return null;
      if (typeof snap.saved_at !== 'number' || (snap.shutdown_at !== null && typeof snap.shutdown_at !== 'number')) {
        throw new SnapshotInconsistentError(`snapshot row has unusable times (saved_at ${quote(snap.saved_at)})`);
      }
      const skipped = new SkippedRows();
      const gen = snap.generation;
      const totals = st.countsOf.get(gen, gen) as { peers: number; breakers: number };
      const stray = st.strayRows.get(gen, gen) as { n: number };
      if (totals.peers !== snap.peer_count || totals.breakers !== snap.breaker_count || stray.n > 0) {
        throw new SnapshotInconsistentError(
          `snapshot ${gen} says ${snap.peer_count} peers / ${snap.breaker_count} breakers, ` +
            `found ${totals.peers} / ${totals.breakers} and ${stray.n} rows of other snapshots`,
        );
      }
      const peers: PeerInfo[] = [];
      for (const row of st.peersOf.all(MAX_ADDRESS_LENGTH + 1, MAX_PEER_ID_LENGTH + 1, gen, MAX_RESTORED_PEERS) as PeerRow[]) {
        const peer = peerFromRow(row);
        if (typeof peer === 'string') skipped.add('peers', row.address, peer);
        else peers.push(peer);
      }
      if (totals.peers > MAX_RESTORED_PEERS) {
        skipped.addMany('peers', totals.peers - MAX_RESTORED_PEERS, `beyond the ${MAX_RESTORED_PEERS}-peer restore limit (least recently seen)`);
      }
      const breakers: BreakerRecord[] = [];
      for (const row of st.breakersOf.all(MAX_TARGET_LENGTH + 1, MAX_BREAKER_DATA_LENGTH, gen, MAX_RESTORED_BREAKERS) as BreakerRow[]) {
        const breaker = breakerFromRow(row);
        if (typeof breaker === 'string') skipped.add('breakers', row.target, breaker);
        else breakers.push(breaker);
      }
      if (totals.breakers > MAX_RESTORED_BREAKERS) {
        skipped.addMany('breakers', totals.breakers - MAX_RESTORED_BREAKERS, `beyond the ${MAX_RESTORED_BREAKERS}-breaker restore limit`);
      }
      const shutdowns: ShutdownRecord[] = [];
      for (const row of st.shutdowns.all(MAX_SIGNALS_LENGTH) as ShutdownRow[]) {
        const record = shutdownFromRow(row);
        if (typeof record === 'string') skipped.add('shutdowns', `seq ${row.seq}`, record);
        else shutdowns.push(record);
      }
      const lastRun = st.lastRunId.get() as { run_id: number } | undefined;
      const transitions = lastRun ? (st.countTransitions.get(lastRun.run_id) as { n: number }).n : 0;
      return {
        nodeId: typeof snap.node_id === 'string' && snap.node_id.length <= MAX_PEER_ID_LENGTH ? snap.node_id : quote(snap.node_id),
        savedAt: snap.saved_at,
        shutdownAt: snap.shutdown_at,
        peers,
        breakers,
        shutdowns,
        transitions,
        ...skipped.report(),
      };
    }).deferred();
  }

  /**
   * Deletes the shutdown records that cannot be read. Only after the file was
   * copied (open-store.ts `keepUnreadCopy`): history is not replaced by
   * snapshots, so without this every later start would report them again.
   * Returns how many went.
   */
  dropUnreadableShutdowns(): number {
    const st = this.#stmt;
    return this.#db.transaction(() => {
      let n = 0;
      for (const row of st.shutdowns.all(MAX_SIGNALS_LENGTH) as ShutdownRow[]) {
        if (typeof shutdownFromRow(row) === 'string') n += st.deleteShutdown.run(row.seq).changes;
      }
      return n;
    }).immediate();
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
    bumpPeers: p('UPDATE peers SET generation = ? WHERE generation = ?'),
    deletePeer: p('DELETE FROM peers WHERE address = ?'),
    countPeers: p('SELECT count(*) AS n FROM peers'),
    upsertBreaker: p(
      `INSERT INTO breakers (target, state, data, updated_at, generation) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(target) DO UPDATE SET state = excluded.state, data = excluded.data,
         updated_at = excluded.updated_at, generation = excluded.generation`,
    ),
    deleteOldBreakers: p('DELETE FROM breakers WHERE generation <> ?'),
    countBreakers: p('SELECT count(*) AS n FROM breakers'),
    countsOf: p(
      'SELECT (SELECT count(*) FROM peers WHERE generation = ?) AS peers, (SELECT count(*) FROM breakers WHERE generation = ?) AS breakers',
    ),
    // The most recently seen peers up to the limit, then in address order.
    peersOf: p(
      `SELECT substr(address, 1, ?) AS address, length(address) AS address_len, mesh_port,
              substr(id, 1, ?) AS id, length(id) AS id_len, substr(source, 1, 16) AS source,
              substr(status, 1, 16) AS status, last_seen
       FROM (SELECT * FROM peers WHERE generation = ? ORDER BY last_seen IS NULL, last_seen DESC LIMIT ?)
       ORDER BY address`,
    ),
    breakersOf: p(
      `SELECT substr(target, 1, ?) AS target, length(target) AS target_len, substr(state, 1, 16) AS state,
              CASE WHEN length(data) <= ? THEN data END AS data, length(data) AS data_len, updated_at
       FROM (SELECT * FROM breakers WHERE generation = ? ORDER BY updated_at DESC LIMIT ?)
       ORDER BY target`,
    ),
    strayRows: p(
      'SELECT (SELECT count(*) FROM peers WHERE generation <> ?) + (SELECT count(*) FROM breakers WHERE generation <> ?) AS n',
    ),
    insertShutdown: p(
      'INSERT INTO shutdowns (run_id, at, drained, cut, notices_sent, acked, signals) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    pruneShutdowns: p('DELETE FROM shutdowns WHERE seq <= (SELECT max(seq) FROM shutdowns) - ?'),
    shutdowns: p(
      'SELECT seq, at, drained, cut, notices_sent, acked, CASE WHEN length(signals) <= ? THEN signals END AS signals FROM shutdowns ORDER BY seq',
    ),
    deleteShutdown: p('DELETE FROM shutdowns WHERE seq = ?'),
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

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** A peer, or why the row cannot be restored. */
function peerFromRow(r: PeerRow): PeerInfo | string {
  if (typeof r.address !== 'string' || r.address === '') return 'address is not text';
  if ((r.address_len ?? 0) > MAX_ADDRESS_LENGTH) return `address longer than ${MAX_ADDRESS_LENGTH} characters (${r.address_len})`;
  if (!Number.isInteger(r.mesh_port) || (r.mesh_port as number) < 0 || (r.mesh_port as number) > 65_535) return 'mesh port is not a port number';
  if (r.id !== null && typeof r.id !== 'string') return 'id is not text';
  if ((r.id_len ?? 0) > MAX_PEER_ID_LENGTH) return `id longer than ${MAX_PEER_ID_LENGTH} characters (${r.id_len})`;
  if (r.last_seen !== null && !isTime(r.last_seen)) return 'last seen is not a time';
  return {
    address: r.address,
    meshPort: r.mesh_port as number,
    id: r.id,
    source: PEER_SOURCES.includes(r.source as PeerSource) ? (r.source as PeerSource) : 'restored',
    status: PEER_STATUSES.includes(r.status as PeerStatus) ? (r.status as PeerStatus) : 'suspect',
    lastSeen: r.last_seen,
  };
}

/** A breaker record, or why the row cannot be restored. */
function breakerFromRow(r: BreakerRow): BreakerRecord | string {
  if (typeof r.target !== 'string' || r.target === '') return 'target is not text';
  if ((r.target_len ?? 0) > MAX_TARGET_LENGTH) return `target longer than ${MAX_TARGET_LENGTH} characters (${r.target_len})`;
  if (r.data === null) return `data longer than ${MAX_BREAKER_DATA_LENGTH} characters (${r.data_len})`;
  if (typeof r.data !== 'string') return 'data is not text';
  let data: unknown;
  try {
    data = JSON.parse(r.data);
  } catch {
    return 'data is not JSON';
  }
  return {
    target: r.target,
    state: BREAKER_STATES.includes(r.state as BreakerStateName) ? (r.state as BreakerStateName) : 'closed',
    data,
    updatedAt: isTime(r.updated_at) ? r.updated_at : 0,
  };
}

/** A shutdown record, or why the row cannot be read. */
function shutdownFromRow(r: ShutdownRow): ShutdownRecord | string {
  if (!isTime(r.at) || !isCount(r.drained) || !isCount(r.cut)) return 'times or counts are not numbers';
  if (r.signals === null) return `signals longer than ${MAX_SIGNALS_LENGTH} characters`;
  let signals: unknown;
  try {
    signals = JSON.parse(String(r.signals));
  } catch {
    return 'signals are not JSON';
  }
  if (!Array.isArray(signals) || !signals.every((x) => typeof x === 'string' && x.length <= 64)) return 'signals are not a list of names';
  return {
    at: r.at,
    drained: r.drained,
    cut: r.cut,
    noticesSent: isCount(r.notices_sent) ? r.notices_sent : null,
    acked: isCount(r.acked) ? r.acked : null,
    signals: signals as string[],
  };
}

/** Collects what load() skipped: the first few by name, all counted. */
class SkippedRows {
  readonly #rows: SkippedRow[] = [];
  #count = 0;

  add(table: SkippedRow['table'], key: unknown, reason: string): void {
    this.#count++;
    if (this.#rows.length < MAX_SKIPPED_LISTED) this.#rows.push({ table, key: quote(key), reason });
  }

  addMany(table: SkippedRow['table'], n: number, reason: string): void {
    this.#count += n;
    if (this.#rows.length < MAX_SKIPPED_LISTED) this.#rows.push({ table, key: `${n} rows`, reason });
  }

  report(): Pick<SavedState, 'skipped'> {
    return this.#count === 0 ? {} : { skipped: { count: this.#count, rows: this.#rows } };
  }
}
