/**
 * The state database: root-only files, what a change stores, what a reopen loads, and
 * that a deleted or replaced proxy secret leaves no copy in any file of state_dir.
 */
import t, { type Test } from 'tap';
import {
  chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { defaultPolicy, type Workspace } from '../../src/model/types';
import { DB_FILE, StateStore } from '../../src/state/store';
import { SCHEMA_VERSION } from '../../src/state/schema';
import { StoredSecrets } from '../../src/state/secrets';

function workspace(id: string, ip: string, extra: Partial<Workspace['network']> = {}): Workspace {
  return {
    id, ip, gateway: '10.0.0.1', interface: `t-${id}`, name: null, image_logo: null,
    image_color: null, plan: 'scale', network: { ...defaultPolicy(), ...extra },
  };
}

const proxy = { host: '203.0.113.7', port: 3128, protocol: 'http' as const };

/** A fresh state_dir (not yet created) under a temporary directory. */
function stateDir(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'netd-state-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return join(root, 'state');
}

/** Opens a store and closes it at teardown. */
function open(t: Test, dir = stateDir(t)): StateStore {
  const store = StateStore.open(dir);
  t.teardown(() => store.close());
  return store;
}

/** Saves `ws` over the state `from` and returns the new state. */
function put(store: StateStore, from: Map<string, Workspace>, ws: Workspace) {
  const after = new Map(from).set(ws.id, ws);
  store.save({ before: from, after });
  return after;
}

/** Every file of `dir` that contains `text`. */
function filesHolding(dir: string, text: string): string[] {
  return readdirSync(dir).filter((name) => readFileSync(join(dir, name)).includes(text));
}

t.test('the directory is 0700 and every file in it 0600', async (t) => {
  const dir = stateDir(t);
  const store = open(t, dir);
  put(store, new Map(), workspace('ws_a', '10.0.0.2'));

  t.equal(statSync(dir).mode & 0o777, 0o700);
  const files = readdirSync(dir);
  t.ok(files.includes(DB_FILE) && files.includes(`${DB_FILE}-wal`), files.join(' '));
  for (const name of files) t.equal(statSync(join(dir, name)).mode & 0o777, 0o600, name);
  t.notOk(files.includes(`${DB_FILE}-shm`), 'the WAL index is in memory (exclusive locking)');
});

t.test('an existing directory with a wider mode is narrowed to 0700', async (t) => {
  const dir = stateDir(t);
  open(t, dir).close();
  chmodSync(dir, 0o755);
  open(t, dir);
  t.equal(statSync(dir).mode & 0o777, 0o700);
});

t.test('what is saved is what a reopen loads, in id order, with the whole policy', async (t) => {
  const dir = stateDir(t);
  const store = StateStore.open(dir);
  let state = new Map<string, Workspace>();
  const b = workspace('ws_b', '10.0.0.3', {
    private_link_ids: ['ws_a'], outbound_ip: '198.51.100.4', egress: ['1.2.3.0/24'],
    outbound_mode: 'custom', custom_proxy: { ...proxy, has_credentials: false },
  });
  state = put(store, state, b);
  state = put(store, state, workspace('ws_a', '10.0.0.2'));
  store.close();

  const again = open(t, dir);
  const loaded = again.load();
  t.same([...loaded.keys()], ['ws_a', 'ws_b']);
  t.same(loaded.get('ws_b'), b);
});

t.test('only workspaces that changed are written; a removed one is deleted', async (t) => {
  const store = open(t);
  let state = put(store, new Map(), workspace('ws_a', '10.0.0.2'));
  state = put(store, state, workspace('ws_b', '10.0.0.3'));

  const after = new Map(state);
  after.delete('ws_a');
  store.save({ before: state, after });
  t.same([...store.load().keys()], ['ws_b']);
});

t.test('with the ids given, only they are compared and written', async (t) => {
  const store = open(t);
  let state = put(store, new Map(), workspace('ws_a', '10.0.0.2'));
  state = put(store, state, workspace('ws_b', '10.0.0.3'));

  const after = new Map(state).set('ws_b', workspace('ws_b', '10.0.0.4'));
  after.delete('ws_a');
  after.set('ws_c', workspace('ws_c', '10.0.0.5'));
  store.save({ before: state, after, ids: ['ws_a', 'ws_b'] });
  t.same([...store.load().values()].map((w) => [w.id, w.ip]), [['ws_b', '10.0.0.4']],
    'ws_a deleted, ws_b rewritten, ws_c (not listed) left out');
});

t.test('a save that fails half way stores nothing', async (t) => {
  const store = open(t);
  const state = put(store, new Map(), workspace('ws_a', '10.0.0.2'));
  const broken = { ...workspace('ws_c', '10.0.0.4'), name: 10n as unknown as string };
  const after = new Map(state).set('ws_b', workspace('ws_b', '10.0.0.3')).set('ws_c', broken);
  after.delete('ws_a');

  t.throws(() => store.save({ before: state, after }), /BigInt/);
  t.same([...store.load().keys()], ['ws_a'], 'neither the delete nor the first insert stayed');
});

t.test('a field added to the model later is loaded with its default', async (t) => {
  const dir = stateDir(t);
  const store = StateStore.open(dir);
  put(store, new Map(), workspace('ws_a', '10.0.0.2'));
  store.close();

  const db = new BetterSqlite3(join(dir, DB_FILE));
  const row = db.prepare('SELECT doc FROM workspaces').get() as { doc: string };
  const doc = JSON.parse(row.doc);
  delete doc.network.outbound_ip;
  db.prepare('UPDATE workspaces SET doc = ?').run(JSON.stringify(doc));
  db.close();

  t.equal(open(t, dir).load().get('ws_a')!.network.outbound_ip, null);
});

t.test('a row that is not a workspace is refused, not enforced half', async (t) => {
  const dir = stateDir(t);
  StateStore.open(dir).close();
  const db = new BetterSqlite3(join(dir, DB_FILE));
  db.prepare(`INSERT INTO workspaces VALUES ('ws_x', '10.0.0.9', NULL, '{"id":"ws_y"}', 0)`)
    .run();
  db.close();
  t.throws(() => open(t, dir).load(), /ws_x is not a workspace/);
});

t.test('a database from a newer build is refused', async (t) => {
  const dir = stateDir(t);
  StateStore.open(dir).close();
  const db = new BetterSqlite3(join(dir, DB_FILE));
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  t.throws(() => StateStore.open(dir), /newer than this build/);
});

t.test('a second daemon on the same state_dir is refused while the first runs', async (t) => {
  const dir = stateDir(t);
  const first = open(t, dir);
  put(first, new Map(), workspace('ws_a', '10.0.0.2'));
  t.throws(() => {
    const db = new BetterSqlite3(join(dir, DB_FILE), { timeout: 100 });
    try {
      db.prepare('SELECT count(*) FROM workspaces').get();
    } finally {
      db.close();
    }
  }, /locked/);
});

t.test('proxy secrets: set, replace, read back after a reopen', async (t) => {
  const dir = stateDir(t);
  const store = StateStore.open(dir);
  put(store, new Map(), workspace('ws_a', '10.0.0.2', { custom_proxy: { ...proxy,
    has_credentials: true } }));
  store.setProxySecret('ws_a', 'first');
  store.setProxySecret('ws_a', 'second');
  store.close();

  const again = open(t, dir);
  t.equal(again.getProxySecret('ws_a'), 'second');
  t.equal(again.getProxySecret('ws_b'), null);
  t.throws(() => again.setProxySecret('ws_nope', 'x'), /FOREIGN KEY/, 'only for a workspace');
});

t.test('a removed secret leaves no copy in any file', async (t) => {
  const cases: [string, (s: StateStore, state: Map<string, Workspace>) => void][] = [
    ['setProxySecret(null)', (s) => s.setProxySecret('ws_a', null)],
    ['replaced', (s) => s.setProxySecret('ws_a', 'the-new-one')],
    ['workspace deleted', (s, state) => s.save({ before: state, after: new Map() })],
    ['proxy cleared', (s, state) => put(s, state, workspace('ws_a', '10.0.0.2'))],
  ];
  for (const [name, remove] of cases) {
    const dir = stateDir(t);
    const store = open(t, dir);
    const marker = `S3CRET-${name.replace(/\W/g, '')}-${'x'.repeat(40)}`;
    const state = put(store, new Map(), workspace('ws_a', '10.0.0.2', { outbound_mode: 'custom',
      custom_proxy: { ...proxy, has_credentials: true } }));
    store.setProxySecret('ws_a', marker);
    t.same(filesHolding(dir, marker).length > 0, true, `${name}: the secret is on disk`);

    remove(store, state);
    t.same(filesHolding(dir, marker), [], `${name}: no file holds it`);
    store.close();
    t.same(filesHolding(dir, marker), [], `${name}: nor after close`);
  }
});

t.test('a secret staged for a policy that never committed is dropped at open', async (t) => {
  const dir = stateDir(t);
  const store = StateStore.open(dir);
  put(store, new Map(), workspace('ws_a', '10.0.0.2'));
  store.setProxySecret('ws_a', 'ORPHAN-SECRET');
  store.close();

  const again = open(t, dir);
  t.equal(again.getProxySecret('ws_a'), null);
  t.same(filesHolding(dir, 'ORPHAN-SECRET'), []);
});

t.test('StoredSecrets keeps credentials as the proxy service needs them', async (t) => {
  const store = open(t);
  put(store, new Map(), workspace('ws_a', '10.0.0.2', { custom_proxy: { ...proxy,
    has_credentials: true } }));
  const secrets = new StoredSecrets(store);
  t.equal(secrets.get('ws_a'), null);
  await secrets.set('ws_a', { username: 'u', password: 'p' });
  t.same(secrets.get('ws_a'), { username: 'u', password: 'p' });
  await secrets.delete('ws_a');
  t.equal(secrets.get('ws_a'), null);
});

t.test('a row whose policy has a field of the wrong type is refused', async (t) => {
  for (const [field, value] of [['egress', '"not-a-list"'], ['ingress_ports', '["80"]'],
    ['allow_internet', '"yes"'], ['custom_proxy', '7']] as const) {
    const dir = stateDir(t);
    StateStore.open(dir).close();
    const db = new BetterSqlite3(join(dir, DB_FILE));
    const doc = `{"id":"ws_x","ip":"10.0.0.9","network":{"${field}":${value}}}`;
    db.prepare(`INSERT INTO workspaces VALUES ('ws_x', '10.0.0.9', NULL, ?, 0)`).run(doc);
    db.close();
    t.throws(() => open(t, dir).load(), new RegExp(`ws_x is not a workspace \\(${field}\\)`));
  }
});

t.test('a state directory holding a symbolic link is refused, the target untouched', async (t) => {
  const dir = stateDir(t);
  mkdirSync(dir);
  const victim = join(dir, '..', 'victim');
  writeFileSync(victim, 'x', { mode: 0o644 });
  chmodSync(victim, 0o644);
  symlinkSync(victim, join(dir, `${DB_FILE}-journal`));
  t.throws(() => StateStore.open(dir), /is a symbolic link/);
  t.equal(statSync(victim).mode & 0o777, 0o644);
});

t.test('a refused state directory keeps its mode: nothing changes before the check', async (t) => {
  const dir = stateDir(t);
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  symlinkSync('/etc/hostname', join(dir, 'link'));
  t.throws(() => StateStore.open(dir), /is a symbolic link/);
  t.equal(statSync(dir).mode & 0o777, 0o755);
});

t.test('a state_dir that is itself a symbolic link is refused, its target untouched', async (t) => {
  const dir = stateDir(t);
  const target = join(dir, '..', 'target');
  mkdirSync(target, { mode: 0o755 });
  chmodSync(target, 0o755);
  writeFileSync(join(target, 'unrelated'), 'x', { mode: 0o644 });
  symlinkSync(target, dir);
  t.throws(() => StateStore.open(dir), /is a symbolic link; state_dir must be a directory/);
  t.equal(statSync(target).mode & 0o777, 0o755);
  t.equal(statSync(join(target, 'unrelated')).mode & 0o777, 0o644);
});

t.test('a scrub failing after its commit leaves the change stored, then is retried', async (t) => {
  const dir = stateDir(t);
  const store = open(t, dir);
  const ws = workspace('ws_a', '10.0.0.2', { custom_proxy: { ...proxy, has_credentials: true } });
  const before = put(store, new Map(), ws);
  store.setProxySecret('ws_a', 'secret-to-forget');
  // The checkpoint fails once, as on a full disk; the transaction before it committed.
  const scrubber = store as unknown as { scrub(): void };
  const scrub = scrubber.scrub.bind(store);
  scrubber.scrub = () => {
    scrubber.scrub = scrub;
    throw new Error('SQLITE_FULL');
  };
  const after = new Map(before).set('ws_a', { ...ws, network: { ...ws.network,
    custom_proxy: null } });
  t.doesNotThrow(() => store.save({ before, after }), 'the change is stored, not refused');
  t.equal(store.scrubPending, true);
  t.equal(store.getProxySecret('ws_a'), null);
  t.same(store.load().get('ws_a')?.network.custom_proxy, null, 'the database holds it');

  put(store, after, workspace('ws_b', '10.0.0.3'));
  t.equal(store.scrubPending, false, 'the next write scrubs');
  t.same(filesHolding(dir, 'secret-to-forget'), []);
});
