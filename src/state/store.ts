/**
 * The desired state on disk: an SQLite database (better-sqlite3) in state_dir, the truth
 * from which the kernel is rebuilt at every start. Root only: the directory is 0700 and
 * every file in it 0600. Every call is synchronous and durable when it returns.
 */
import {
  chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, statSync,
} from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import { defaultPolicy, type NetworkPolicy, type Workspace } from '../model/types';
import { configure, migrate } from './schema';

/** The database's file name inside state_dir. */
export const DB_FILE = 'state.db';

/** The change one API call made: the desired state before it and after it. */
export interface StateChange {
  before: ReadonlyMap<string, Workspace>;
  after: ReadonlyMap<string, Workspace>;
  /**
   * The ids that may differ, when the caller knows them (one API call touches one or a
   * few): only they are compared, not every id of a registry of thousands.
   */
  ids?: Iterable<string>;
}

/** The desired state in state_dir. */
export class StateStore {
  private readonly stmt: Record<
    'all' | 'put' | 'drop' | 'getSecret' | 'setSecret' | 'dropSecret',
    Statement
  >;

  private constructor(
    private readonly db: Database,
    /** the database file */
    readonly file: string,
  ) {
    this.stmt = {
      all: db.prepare('SELECT id, doc FROM workspaces ORDER BY id'),
      put: db.prepare(
        `INSERT INTO workspaces (id, ip, interface, doc, updated_ms)
         VALUES (@id, @ip, @interface, @doc, @updated_ms)
         ON CONFLICT (id) DO UPDATE SET ip = excluded.ip, interface = excluded.interface,
           doc = excluded.doc, updated_ms = excluded.updated_ms`,
      ),
      drop: db.prepare('DELETE FROM workspaces WHERE id = ?'),
      getSecret: db.prepare('SELECT secret FROM proxy_secrets WHERE workspace_id = ?'),
      setSecret: db.prepare(
        `INSERT INTO proxy_secrets (workspace_id, secret) VALUES (?, ?)
         ON CONFLICT (workspace_id) DO UPDATE SET secret = excluded.secret`,
      ),
      dropSecret: db.prepare('DELETE FROM proxy_secrets WHERE workspace_id = ?'),
    };
  }

  /** Opens (creating if needed) the database in `dir`, made 0700 with files 0600. */
  static open(dir: string): StateStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Refused before anything is changed: a mistyped state_dir is not made 0700.
    if (lstatSync(dir).isSymbolicLink()) {
      throw new Error(`state: ${dir} is a symbolic link; state_dir must be a directory`);
    }
    refuseLinks(dir);
    chmodSync(dir, 0o700);
    const file = join(dir, DB_FILE);
    // Created 0600 before SQLite opens it: SQLite gives its -wal file the same mode.
    closeSync(openSync(file, 'a', 0o600));

    const db = new BetterSqlite3(file);
    try {
      configure(db);
      migrate(db);
      dropOrphanSecrets(db);
      restrict(dir);
    } catch (err) {
      db.close();
      throw err;
    }
    return new StateStore(db, file);
  }

  /** Every stored workspace, in id order. Throws on a row that is not a workspace. */
  load(): Map<string, Workspace> {
    const rows = this.stmt.all.all() as { id: string; doc: string }[];
    return new Map(rows.map((row) => [row.id, revive(row.id, row.doc)]));
  }

  /**
   * Stores what changed between `before` and `after` (a workspace that is a different
   * object, or gone) in one transaction. A workspace that is gone, or whose custom proxy
   * was cleared, loses its proxy secret, scrubbed from the files (see scrub()).
   */
  save(change: StateChange): void {
    const { before, after } = change;
    const ids = change.ids ?? new Set([...before.keys(), ...after.keys()]);
    let secretsGone = 0;

    this.db.transaction(() => {
      const now = Date.now();
      for (const id of ids) {
        const next = after.get(id);
        if (next === before.get(id)) continue;
        if (!next) {
          secretsGone += this.stmt.dropSecret.run(id).changes;
          this.stmt.drop.run(id);
          continue;
        }
        this.stmt.put.run({
          id, ip: next.ip, interface: next.interface, doc: JSON.stringify(next), updated_ms: now,
        });
        if (next.network.custom_proxy === null) {
          secretsGone += this.stmt.dropSecret.run(id).changes;
        }
      }
    })();
    if (secretsGone > 0 || this.scrubPending) this.scrubAfterCommit();
  }

  /**
   * Stores (or with null, deletes) the custom proxy secret of a stored workspace, e.g.
   * its credentials as JSON. A replaced or deleted secret is scrubbed from the files.
   */
  setProxySecret(id: string, secret: string | null): void {
    const had = this.getProxySecret(id) !== null;
    if (secret === null) this.stmt.dropSecret.run(id);
    else this.stmt.setSecret.run(id, secret);
    if (had || this.scrubPending) this.scrubAfterCommit();
  }

  /**
   * A scrub that fails (a full disk, a blocked checkpoint) after its transaction committed
   * does not make the change unstored: it is in the database, and the caller must not take
   * it back out of the kernel. The old secret stays in the WAL until a later write's scrub
   * or close() succeeds; `scrubPending` says so meanwhile.
   */
  private scrubAfterCommit(): void {
    try {
      this.scrub();
      this.scrubPending = false;
    } catch {
      this.scrubPending = true;
    }
  }

  /** True while a removed secret may still be in the WAL (see scrubAfterCommit). */
  scrubPending = false;

  /** The workspace's custom proxy secret, or null. */
  getProxySecret(id: string): string | null {
    const row = this.stmt.getSecret.get(id) as { secret: string } | undefined;
    return row?.secret ?? null;
  }

  /** Checkpoints and closes the database. */
  close(): void {
    if (!this.db.open) return;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }

  /**
   * secure_delete zeroes a deleted value in its page, but the WAL still holds the frames
   * written before: a TRUNCATE checkpoint copies the current pages into the database
   * file and cuts the WAL to zero bytes, so no old copy of a secret is left in a file.
   */
  private scrub(): void {
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (result?.busy) {
      throw new Error('state: the WAL checkpoint was blocked; the secret was not scrubbed');
    }
  }
}

/**
 * A secret is staged before its policy change commits; after a crash in between, the
 * secret of a workspace whose policy has no custom proxy belongs to nothing: delete it.
 */
function dropOrphanSecrets(db: Database): void {
  const orphans = db.prepare(
    `DELETE FROM proxy_secrets WHERE workspace_id IN (SELECT id FROM workspaces
       WHERE json_extract(doc, '$.network.custom_proxy') IS NULL)`,
  ).run().changes;
  if (orphans > 0) db.pragma('wal_checkpoint(TRUNCATE)');
}

/** A stored document as a workspace; fields added to the model later get their defaults. */
function revive(id: string, doc: string): Workspace {
  const ws = JSON.parse(doc) as Workspace;
  const valid =
    ws !== null && typeof ws === 'object' && ws.id === id && typeof ws.ip === 'string' &&
    typeof ws.network === 'object' && ws.network !== null;
  if (!valid) throw new Error(`state: the stored row of ${id} is not a workspace`);
  const network = { ...defaultPolicy(), ...ws.network };
  const bad = badPolicyField(network);
  if (bad) throw new Error(`state: the stored row of ${id} is not a workspace (${bad})`);
  return { ...ws, network };
}

/**
 * The first policy field whose stored type differs from its default's (a list that is not
 * a list of one kind, a flag that is not a boolean), or null. The API validated every value
 * before it was stored, so a mismatch is a damaged row: enforcing a guess would be worse.
 */
function badPolicyField(policy: NetworkPolicy): string | null {
  const defaults = defaultPolicy() as unknown as Record<string, unknown>;
  const stored = policy as unknown as Record<string, unknown>;
  for (const [key, def] of Object.entries(defaults)) {
    const value = stored[key];
    if (Array.isArray(def)) {
      const kind = key.endsWith('ports') ? 'number' : 'string';
      if (!Array.isArray(value) || value.some((v) => typeof v !== kind)) return key;
    } else if (def !== null && typeof value !== typeof def) return key;
    else if (def === null && value !== null && typeof value !== 'string' &&
      typeof value !== 'object') return key;
  }
  return null;
}

/**
 * Refuses a state directory that holds a symbolic link: the daemon would open or chmod
 * the file it names (anywhere, as root) instead of its own.
 */
function refuseLinks(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (lstatSync(join(dir, name)).isSymbolicLink()) {
      throw new Error(`state: ${join(dir, name)} is a symbolic link; the state directory ` +
        'must hold only the daemon\'s own files');
    }
  }
}

/** Makes every file of the state directory 0600 (SQLite's own files included). */
function restrict(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isFile()) chmodSync(path, 0o600);
  }
}
