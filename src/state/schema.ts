/**
 * The state database's schema and connection settings. One row per workspace holds the
 * workspace as the API names its fields (a JSON document, so a field added to the model
 * needs no migration); proxy credentials live in their own table, so that the policy
 * can be read, logged and copied without them.
 */
import type { Database } from 'better-sqlite3';

/** The schema this build writes, kept in PRAGMA user_version. */
export const SCHEMA_VERSION = 1;

/** MIGRATIONS[v] takes the database from version v to v + 1. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE workspaces (
     id         TEXT PRIMARY KEY,
     ip         TEXT NOT NULL,
     interface  TEXT,
     doc        TEXT NOT NULL,
     updated_ms INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE proxy_secrets (
     workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
     secret       TEXT NOT NULL
   ) STRICT;`,
];

/**
 * Connection settings, set on every open (most are per connection):
 * - locking_mode EXCLUSIVE, before WAL: the WAL index lives in the heap instead of a
 *   -shm file, and a second daemon on the same state_dir fails at once ("database is
 *   locked") instead of writing beside the first;
 * - WAL with synchronous FULL: a commit is on disk (fsync) before the API answers 200;
 * - secure_delete: deleted content is overwritten with zeros, so a removed proxy secret
 *   leaves no trace in free pages (the WAL is truncated after it too, see store.ts);
 * - foreign_keys: deleting a workspace deletes its secret in the same transaction;
 * - temp_store MEMORY: no temporary file ever holds state.
 */
export function configure(db: Database): void {
  db.pragma('locking_mode = EXCLUSIVE');
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') throw new Error(`state: journal_mode is ${String(mode)}, not wal`);
  db.pragma('synchronous = FULL');
  db.pragma('secure_delete = ON');
  db.pragma('foreign_keys = ON');
  db.pragma('temp_store = MEMORY');
}

/** Brings the schema to SCHEMA_VERSION; refuses a database written by a newer build. */
export function migrate(db: Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `state: the database has schema ${version}, newer than this build's ${SCHEMA_VERSION}; ` +
        'run the newer build or restore a backup',
    );
  }

  const step = db.transaction((from: number) => {
    db.exec(MIGRATIONS[from]);
    db.pragma(`user_version = ${from + 1}`);
  });
  for (let v = version; v < SCHEMA_VERSION; v++) step(v);
}
