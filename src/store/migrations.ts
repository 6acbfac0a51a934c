/**
 * The schema of `state.db`, as an ordered list of migrations. The version a
 * file is at lives in `PRAGMA user_version`; each migration runs in its own
 * transaction together with the bump of that number, so a file is always at
 * exactly one version (a crash mid-migration leaves the previous one).
 *
 * Never edit a migration that has shipped: append a new one.
 */
import type { Database } from 'better-sqlite3';

/** 'GEdg': marks a file as a graceful-edge state file (`PRAGMA application_id`). */
export const APPLICATION_ID = 0x47456467;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'node state: meta, snapshot, peers, breakers, shutdowns',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;

      -- One row: what the last snapshot was. Peers and breakers rows carry the
      -- generation of the snapshot that wrote them, so a reader can prove that
      -- every row belongs to the same snapshot.
      CREATE TABLE snapshot (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        generation    INTEGER NOT NULL,
        node_id       TEXT NOT NULL,
        saved_at      INTEGER NOT NULL,
        shutdown_at   INTEGER,
        run_id        INTEGER,
        peer_count    INTEGER NOT NULL,
        breaker_count INTEGER NOT NULL
      );

      CREATE TABLE peers (
        address    TEXT PRIMARY KEY,
        mesh_port  INTEGER NOT NULL,
        id         TEXT,
        source     TEXT NOT NULL,
        status     TEXT NOT NULL,
        last_seen  INTEGER,
        generation INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE breakers (
        target     TEXT PRIMARY KEY,
        state      TEXT NOT NULL,
        data       TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        generation INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE shutdowns (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id       INTEGER,
        at           INTEGER NOT NULL,
        drained      INTEGER NOT NULL,
        cut          INTEGER NOT NULL,
        notices_sent INTEGER,
        acked        INTEGER,
        signals      TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'audit trail: runs and their lifecycle transitions',
    sql: `
      CREATE TABLE runs (
        run_id      INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at  INTEGER NOT NULL,
        input       TEXT NOT NULL,
        shutdown_at INTEGER
      );

      CREATE TABLE transitions (
        run_id     INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        seq        INTEGER NOT NULL,
        at         INTEGER NOT NULL,
        event      TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state   TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'hot restart: a run records the run it took over from',
    sql: `
      -- Set when this run started as a hot-restart successor of previous_run_id.
      ALTER TABLE runs ADD COLUMN previous_run_id INTEGER;
      ALTER TABLE runs ADD COLUMN takeover TEXT;
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export class NewerSchemaError extends Error {
  constructor(readonly found: number) {
    super(`written by a newer graceful-edge (schema version ${found}, this build knows up to ${LATEST_VERSION})`);
    this.name = 'NewerSchemaError';
  }
}

export class ForeignDatabaseError extends Error {
  constructor(detail: string) {
    super(`not a graceful-edge state file (${detail})`);
    this.name = 'ForeignDatabaseError';
  }
}

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Refuses a file that is another program's database or from a newer build. */
export function assertOurs(db: Database): number {
  const version = schemaVersion(db);
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId !== 0 && appId !== APPLICATION_ID) throw new ForeignDatabaseError(`application_id ${appId}`);
  if (version > LATEST_VERSION) throw new NewerSchemaError(version);
  if (version === 0) {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number };
    if (tables.n > 0) throw new ForeignDatabaseError(`${tables.n} unknown tables and no schema version`);
  }
  return version;
}

/** Brings the file to LATEST_VERSION; returns the versions applied. */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const from = assertOurs(db);
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= from) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    applied.push(m.version);
  }
  return applied;
}
