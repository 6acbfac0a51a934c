/** Schema migrations against real SQLite files. */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  APPLICATION_ID,
  ForeignDatabaseError,
  LATEST_VERSION,
  MIGRATIONS,
  NewerSchemaError,
  migrate,
  schemaVersion,
} from '../../src/store/migrations.js';
import { Cleanups } from '../helpers/cleanups.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());
const fresh = () => new Database(path.join(cleanups.tempDir('ge-mig-'), 'state.db'));

const tables = (db: Database.Database) =>
  (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);

describe('migrations', () => {
  it('are ordered and strictly increasing from 1', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_VERSION).toBe(MIGRATIONS.length);
  });

  it('bring an empty file to the latest version with every table and mark it as ours', () => {
    const db = fresh();
    expect(migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(schemaVersion(db)).toBe(LATEST_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(tables(db)).toEqual(['breakers', 'meta', 'peers', 'runs', 'shutdowns', 'snapshot', 'transitions']);
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it('upgrade a version-1 file and keep its data', () => {
    const db = fresh();
    migrate(db, MIGRATIONS.slice(0, 1));
    expect(schemaVersion(db)).toBe(1);
    db.prepare("INSERT INTO meta (key, value) VALUES ('node_id', 'old-node')").run();
    db.prepare("INSERT INTO peers VALUES ('127.0.0.1:1', 7946, NULL, 'static', 'alive', NULL, 1)").run();
    expect(migrate(db)).toEqual([2, 3]);
    expect(schemaVersion(db)).toBe(LATEST_VERSION);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'node_id'").get()).toEqual({ value: 'old-node' });
    expect(db.prepare('SELECT count(*) AS n FROM peers').get()).toEqual({ n: 1 });
    expect(tables(db)).toContain('transitions');
    db.close();
  });

  it('refuse a file from a newer schema and leave it untouched', () => {
    const db = fresh();
    migrate(db);
    db.pragma(`user_version = ${LATEST_VERSION + 7}`);
    expect(() => migrate(db)).toThrow(NewerSchemaError);
    expect(() => migrate(db)).toThrow(/schema version 9.*knows up to 2|newer graceful-edge/);
    expect(schemaVersion(db)).toBe(LATEST_VERSION + 7);
    db.close();
  });

  it("refuse another program's database", () => {
    const db = fresh();
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)');
    expect(() => migrate(db)).toThrow(ForeignDatabaseError);
    const other = fresh();
    other.pragma('application_id = 1234');
    expect(() => migrate(other)).toThrow(/application_id 1234/);
    db.close();
    other.close();
  });

  it('roll back a failing migration as a whole: version and tables stay as they were', () => {
    const db = fresh();
    migrate(db);
    const broken = [...MIGRATIONS, { version: LATEST_VERSION + 1, name: 'broken', sql: 'CREATE TABLE extra (x); CREATE TABLE meta (y);' }];
    // assertOurs would call LATEST_VERSION + 1 "newer" only once applied; it is not.
    expect(() => migrate(db, broken)).toThrow(/already exists/);
    expect(schemaVersion(db)).toBe(LATEST_VERSION);
    expect(tables(db)).not.toContain('extra');
    db.close();
  });
});
