/**
 * Group commit on its own: requests queued behind a transaction share the next one (one
 * kernel transaction, one stored change), each answered after both; a refused batch goes
 * again one request at a time, so that only the refused request fails and changes nothing.
 */
import t from 'tap';
import pino from 'pino';
import { GroupCommit, type Registry, type Request } from '../../src/service/group-commit';
import { PersistentMap } from '../../src/service/persistent-map';
import { defaultPolicy, type Workspace } from '../../src/model/types';
import { DurableState } from '../../src/state/durable';
import type { StateChange } from '../../src/state/store';
import { RecordingEnforcer } from '../support/recording-enforcer';

const log = pino({ level: 'silent' });

function workspace(id: string, n: number): Workspace {
  return { id, ip: `10.0.0.${n}`, gateway: '10.0.0.1', interface: `tap_${id}`, name: null,
    image_logo: null, image_color: null, plan: 'free', network: defaultPolicy() };
}

function setup(opts: { failSave?: (change: StateChange) => boolean } = {}) {
  const enforcer = new RecordingEnforcer();
  const saves: StateChange[] = [];
  const sink = {
    save: (change: StateChange) => {
      if (opts.failSave?.(change)) throw new Error('disk full');
      saves.push(change);
    },
  };
  const durable = new DurableState(sink, enforcer, log, () => undefined);
  let state: Registry = PersistentMap.empty();
  const commits = new GroupCommit({
    enforcer, durable, logger: log, current: () => state, commit: (s) => (state = s),
  });
  return { enforcer, saves, commits, state: () => state };
}

/** A request that sets workspace `ws`; records its undo step and its answer. */
function setting(ws: Workspace, log: string[]): Request<string> {
  return {
    id: ws.id,
    plan: (state) => ({ after: state.set(ws.id, ws), applied: [ws.id] }),
    done: async () => (log.push(`done ${ws.id}`), ws.id),
    refused: async () => void log.push(`undone ${ws.id}`),
  };
}

/** Holds the next apply() of `id` until the returned function is called. */
async function holding(commits: GroupCommit, enforcer: RecordingEnforcer, ws: Workspace) {
  const release = enforcer.hold(ws.id);
  const first = commits.submit(setting(ws, []));
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { release, first };
}

t.test('requests queued behind a transaction share one kernel and one store commit', async (t) => {
  const { enforcer, saves, commits, state } = setup();
  const { release, first } = await holding(commits, enforcer, workspace('ws_a', 2));
  const events: string[] = [];
  const queued = ['ws_b', 'ws_c', 'ws_d'].map((id, i) =>
    commits.submit(setting(workspace(id, 3 + i), events)));
  release();

  t.same(await Promise.all(queued), ['ws_b', 'ws_c', 'ws_d']);
  await first;
  t.equal(enforcer.calls.length, 2, 'the first, then the three together');
  t.same(enforcer.changedIds(1), ['ws_b', 'ws_c', 'ws_d']);
  t.equal(saves.length, 2, 'one stored change each');
  t.same([...saves[1].ids!], ['ws_b', 'ws_c', 'ws_d']);
  t.same(events, ['done ws_b', 'done ws_c', 'done ws_d'], 'answered in order, after both');
  t.equal(state().size, 4);
});

t.test('a lone request starts at once, with whatever the same tick added', async (t) => {
  const { enforcer, commits } = setup();
  const both = [commits.submit(setting(workspace('ws_a', 2), [])),
    commits.submit(setting(workspace('ws_b', 3), []))];
  await Promise.all(both);
  t.equal(enforcer.calls.length, 1);
  t.same(enforcer.changedIds(0), ['ws_a', 'ws_b']);
});

t.test('a kernel refusal fails only the request that caused it', async (t) => {
  const { enforcer, saves, commits, state } = setup();
  const { release, first } = await holding(commits, enforcer, workspace('ws_a', 2));
  enforcer.refuseAlways('ws_c');
  const events: string[] = [];
  const results = Promise.allSettled(['ws_b', 'ws_c', 'ws_d'].map((id, i) =>
    commits.submit(setting(workspace(id, 3 + i), events))));
  release();
  await first;

  t.same((await results).map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.same([1, 2, 3, 4].map((n) => enforcer.changedIds(n)),
    [['ws_b', 'ws_c', 'ws_d'], ['ws_b'], ['ws_c'], ['ws_d']], 'the batch, then one by one');
  t.same(saves.map((s) => [...s.ids!]), [['ws_a'], ['ws_b'], ['ws_d']], 'never stored');
  t.same(events, ['done ws_b', 'undone ws_c', 'done ws_d'], 'undone once, only the refused');
  t.same([...state().keys()].sort(), ['ws_a', 'ws_b', 'ws_d']);
});

t.test('a batch the store cannot keep is taken back, then tried one by one', async (t) => {
  const { enforcer, saves, commits, state } = setup({
    failSave: (change) => [...change.ids!].includes('ws_c'),
  });
  const { release, first } = await holding(commits, enforcer, workspace('ws_a', 2));
  const results = Promise.allSettled(['ws_b', 'ws_c'].map((id, i) =>
    commits.submit(setting(workspace(id, 3 + i), []))));
  release();
  await first;

  const [b, c] = await results;
  t.equal(b.status, 'fulfilled');
  t.match((c as PromiseRejectedResult).reason, /taken back out of the kernel/);
  const reverts = enforcer.calls.filter((call) => call.changes.some((ch) => ch.next === null));
  t.equal(reverts.length, 2, 'the batch and the lone ws_c, each reverted in the kernel');
  t.same(saves.map((s) => [...s.ids!]), [['ws_a'], ['ws_b']]);
  t.same([...state().keys()].sort(), ['ws_a', 'ws_b']);
});

t.test('a request whose plan throws fails alone and is not undone twice', async (t) => {
  const { enforcer, commits } = setup();
  const events: string[] = [];
  const bad: Request<string> = {
    id: 'ws_x',
    plan: () => {
      throw new Error('ip in use');
    },
    done: async () => 'never',
    refused: async () => void events.push('undone ws_x'),
  };
  const results = await Promise.allSettled([commits.submit(bad),
    commits.submit(setting(workspace('ws_b', 3), events))]);

  t.same(results.map((r) => r.status), ['rejected', 'fulfilled']);
  t.same(events, ['undone ws_x', 'done ws_b']);
  t.same(enforcer.changedIds(0), ['ws_b']);
  t.equal(enforcer.calls.length, 1);
});

t.test('a request that changes nothing commits nothing', async (t) => {
  const { enforcer, saves, commits } = setup();
  const idle: Request<string> = {
    id: 'ws_a', plan: (state) => ({ after: state, applied: [] }), done: async () => 'same',
  };
  t.equal(await commits.submit(idle), 'same');
  t.equal(enforcer.calls.length, 0);
  t.equal(saves.length, 0);
});
