/**
 * KernelEnforcer start and reconcile against the kernel, each test in its own namespace:
 * the table it builds reads back equal to what it compiled (no false drift, whatever the
 * policies use), it is owned and persistent, a new socket takes over an orphan, and a
 * table changed behind its back is rebuilt. Neither a start nor the repair of a deleted
 * table reads the table before its transaction: only the read-back after it.
 */
import t, { type Test } from 'tap';
import pino from 'pino';
import { KernelEnforcer, type KernelOptions, type Netlink } from '../../src/enforce/kernel';
import { KernelError } from '../../src/enforce/types';
import { NftSocket } from '../../src/nft/addon';
import type { CommitResult } from '../../src/nft/types';
import { concat, ifname, ipv4 } from '../../src/nft/bytes';
import { defaultPolicy, type NetworkPolicy, type Workspace } from '../../src/model/types';
import { fixture } from '../nft/fixtures/netns';

const TABLE = 'workspace_netd';
const log = pino({ level: 'silent' });
const base: KernelOptions = {
  table: TABLE, uplink: 'eth0', workspaceNet: { net: '10.0.0.0', len: 8 },
  runtimeApiPort: 9990, relayPort: 15001,
};
const owned: KernelOptions = { ...base, tableFlags: { owner: true, persist: true } };

function ws(id: string, n: number, policy: Partial<NetworkPolicy>, iface = `tap${n}`): Workspace {
  return {
    id, ip: `10.0.${n}.2`, gateway: `10.0.${n}.1`, interface: iface, name: null,
    image_logo: null, image_color: null, plan: 'scale', network: { ...defaultPolicy(), ...policy },
  };
}

/** Policies that use every part of the compiler the daemon has today. */
const registry = new Map([
  ws('ws_default', 1, {}),
  ws('ws_web', 2, { public_access: true, ingress_ports: [80, 443],
    egress: ['192.0.2.0/24', '198.51.100.7', 'api.github.com'], egress_ports: [443, 53] }),
  ws('ws_offline', 3, { allow_internet: false, ingress_ports: [22] }),
  ws('ws_linked', 4, { private_link_ids: ['ws_web', 'ws_remote'] }),
  ws('ws_proxied', 5, { outbound_mode: 'custom', custom_proxy: { host: '93.184.216.34',
    port: 3128, protocol: 'http', has_credentials: false } }),
  ws('ws_remote', 6, {}, null as unknown as string),
].map((w) => [w.id, w]));

t.test('a start reads back equal to what it compiled, owned and persistent', async (t) => {
  const f = fixture(t);
  const enforcer = new KernelEnforcer(f.sock, owned, log);
  await enforcer.start(registry);
  t.equal(await enforcer.healthy(), true, 'no false drift');
  t.same((await f.sock.listTable('inet', TABLE))?.flags, { owner: true, persist: true });
  t.same(await enforcer.reconcile('test'), { differences: [], repaired: false });
});

t.test('an orphaned table is taken over by the next start, in one transaction', async (t) => {
  const f = fixture(t);
  const first = NftSocket.open({ netns: `/run/netns/${f.ns}` });
  await new KernelEnforcer(first, owned, log).start(registry);
  first.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same((await f.sock.listTable('inet', TABLE))?.flags, { persist: true }, 'orphaned');

  const nl = counted(f.sock);
  const second = new KernelEnforcer(nl, owned, log);
  await second.start(registry);
  t.equal(await second.healthy(), true);
  t.same(nl.calls, ['commit', 'commit', 'readTable'],
    'a refused `create table` (it exists), one transaction, then the read-back');
  t.same(nl.results[0], { ok: false, index: 0, errno: 17, message: 'File exists' });
  t.same((await f.sock.listTable('inet', TABLE))?.flags, { owner: true, persist: true });
});

t.test('a start over a table another socket owns is refused with EPERM', async (t) => {
  const f = fixture(t);
  const other = NftSocket.open({ netns: `/run/netns/${f.ns}` });
  t.teardown(() => other.close());
  await new KernelEnforcer(other, owned, log).start(new Map());

  const err = await new KernelEnforcer(f.sock, owned, log).start(registry).catch((e) => e);
  t.type(err, KernelError);
  t.equal(err.errno, 1);
  t.match(err.hint, /no other process may own table/);
  t.match(err.message, /add table workspace_netd/, 'the batch\'s first operation is refused');
});

t.test('a deleted table is rebuilt without a read first, and the read proves it', async (t) => {
  const f = fixture(t);
  const nl = counted(f.sock);
  const enforcer = new KernelEnforcer(nl, base, log);
  await enforcer.start(registry);
  const before = normalized(await f.sock.listTable('inet', TABLE));
  f.exec(['nft', 'delete', 'table', 'inet', TABLE]);
  enforcer.suspect();

  nl.calls.length = 0;
  nl.results.length = 0;
  nl.after = async () => {
    // What the kernel held between the first commit and the rebuild: the closed table.
    const closed = await f.sock.listTable('inet', TABLE);
    t.same(closed?.chains.map((c) => [c.name, c.base?.hook, c.rules.length]), [
      ['guard', 'prerouting', 2], ['forward', 'forward', 2], ['output', 'output', 2],
    ], 'closed: drops by tap and by workspace address');
    const taps = closed?.sets.find((s) => s.spec.name === 'ifaces')?.elements.length;
    t.equal(taps, registry.size - 1, 'every local tap (ws_remote has none)');
    nl.after = null;
  };
  const result = await enforcer.reconcile('test', { missing: true });
  t.same(nl.calls, ['commit', 'commit', 'readTable'], 'closed, rebuilt, then read back');
  t.same(nl.results, [{ ok: true }, { ok: true }]);
  t.same(result.differences, [`table inet ${TABLE} is missing`]);
  t.ok(result.ms && result.ms.repair >= 0 && result.ms.verify >= 0, 'both times given');
  t.equal(await enforcer.healthy(), true);
  t.same(normalized(await f.sock.listTable('inet', TABLE)), before);
});

t.test('a repair while another socket owns the table is refused, and stays unhealthy',
  async (t) => {
    const f = fixture(t);
    const enforcer = new KernelEnforcer(f.sock, base, log);
    await enforcer.start(registry);
    const other = NftSocket.open({ netns: `/run/netns/${f.ns}` });
    t.teardown(() => other.close());
    // Another process the kernel lets in: the table is deleted and made again, its own.
    f.exec(['nft', 'delete', 'table', 'inet', TABLE]);
    await other.commit([{ op: 'create', kind: 'table', family: 'inet', name: TABLE,
      flags: { owner: true } }]);
    enforcer.suspect();

    for (const hint of [{ missing: true }, {}]) {
      const err = await enforcer.reconcile('test', hint).catch((e) => e);
      t.type(err, KernelError);
      t.equal(err.errno, 1);
      t.match(err.hint, /no other process may own table/);
      t.equal(await enforcer.healthy(), false);
    }
  });

t.test('without ownership, what was changed behind its back is rebuilt', async (t) => {
  const f = fixture(t);
  const enforcer = new KernelEnforcer(f.sock, base, log);
  let hooks = 0;
  enforcer.rebuilt = async () => void hooks++;
  await enforcer.start(registry);
  const before = await f.sock.listTable('inet', TABLE);

  const breaks = [
    ['delete', 'table', 'inet', TABLE],
    ['flush', 'chain', 'inet', TABLE, 'ws_web_out'],
    ['add', 'rule', 'inet', TABLE, 'input', 'accept'],
    ['delete', 'element', 'inet', TABLE, 'ifaces', '{ "tap3" }'],
  ];
  for (const args of breaks) {
    f.exec(['nft', ...args]);
    enforcer.suspect();
    t.equal(await enforcer.healthy(), false, `${args[0]} ${args[1]}: unhealthy`);
    const result = await enforcer.reconcile('test');
    t.equal(result.repaired, true, `${args[0]} ${args[1]}: ${result.differences.join('; ')}`);
    t.equal(await enforcer.healthy(), true);
    t.same(normalized(await f.sock.listTable('inet', TABLE)), normalized(before));
  }
  t.equal(hooks, breaks.length, 'the after-repair hook ran each time');
});

t.test('a table that differs is replaced by the closed table before its rebuild', async (t) => {
  // Flushed, the forward chain accepts what every workspace sends until the repair commits.
  const { f, nl, enforcer, before } = await broken(t, ['flush', 'chain', 'inet', TABLE,
    'forward']);
  let between: string[] = [];
  nl.after = async () => {
    const closed = await f.sock.listTable('inet', TABLE);
    between = closed?.chains.map((c) => c.name) ?? [];
    nl.after = null;
  };
  const result = await enforcer.reconcile('test');
  t.same(result.differences, ['chain forward: rules differ (0, expected 5)']);
  t.same(nl.calls, ['readTable', 'commit', 'commit', 'readTable'],
    'read, closed in place of it, rebuilt, read back');
  t.same(between, ['guard', 'forward', 'output'], 'the closed table held in between');
  t.equal(await enforcer.healthy(), true);
  t.same(normalized(await f.sock.listTable('inet', TABLE)), before);
});

t.test('a table deleted and made again by another program is closed, then rebuilt', async (t) => {
  // As a saved ruleset restored with `nft -f` does: one transaction, an empty table.
  const { f, nl, enforcer, before } = await broken(t,
    [`delete table inet ${TABLE}; add table inet ${TABLE}`]);
  const result = await enforcer.reconcile('test', { missing: true });
  t.same(nl.calls, ['commit', 'commit', 'commit', 'readTable'],
    'create refused (it exists), closed in place of it, rebuilt, read back');
  t.match(nl.results, [{ ok: false, errno: 17 }, { ok: true }, { ok: true }]);
  t.equal(result.repaired, true);
  t.same(normalized(await f.sock.listTable('inet', TABLE)), before);
});

t.test('a notified foreign change is closed and rebuilt without a read first', async (t) => {
  const { f, nl, enforcer, before } = await broken(t, ['flush', 'chain', 'inet', TABLE,
    'forward']);
  const result = await enforcer.reconcile('test', { foreign: true });
  t.same(nl.calls, ['commit', 'commit', 'readTable'], 'closed, rebuilt, then read back');
  t.same(result.differences, ['changed by another program']);
  t.equal(await enforcer.healthy(), true);
  t.same(normalized(await f.sock.listTable('inet', TABLE)), before);
});

t.test('a foreign change just after the start\'s commit is in its read-back', async (t) => {
  const f = fixture(t);
  const enforcer = new KernelEnforcer(f.sock, base, log);
  // Where the daemon subscribes its drift monitor: between the commit and the read-back.
  await enforcer.start(registry, () => f.exec(['nft', 'flush', 'chain', 'inet', TABLE,
    'forward']));
  t.equal(await enforcer.healthy(), false, 'the read-back saw it: unhealthy');
  const result = await enforcer.reconcile('drift monitor');
  t.equal(result.repaired, true);
  t.equal(await enforcer.healthy(), true);
});

// NFT_TABLE_F_DORMANT turns every base chain of the table off (no guard, no forward
// policy): without ownership any root program can set it, and the read-back must show it.
t.test('without ownership, a table made dormant behind its back is a difference and rebuilt',
  async (t) => {
    const f = fixture(t);
    const enforcer = new KernelEnforcer(f.sock, base, log);
    await enforcer.start(registry);
    f.exec(['nft', 'add', 'table', 'inet', TABLE, '{ flags dormant; }']);
    t.match(f.exec(['nft', 'list', 'table', 'inet', TABLE]), /flags dormant/, 'dormant now');
    enforcer.suspect();
    const result = await enforcer.reconcile('test');
    t.equal(result.repaired, true, `repaired: ${result.differences.join('; ')}`);
    t.notMatch(f.exec(['nft', 'list', 'table', 'inet', TABLE]), /dormant/, 'enforcing again');
    t.equal(await enforcer.healthy(), true);
  });

t.test('without ownership, an element of egress_learned the daemon did not write is removed',
  async (t) => {
    const f = fixture(t);
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const learned = concat(ifname('tap2'), ipv4('198.18.2.20'));
    const written = new Set([hex(learned)]);
    const enforcer = new KernelEnforcer(f.sock, { ...base, timeoutKeys: () => written }, log);
    // The DNS side's part: what it wrote is put back after a rebuild.
    const add = () => f.sock.commit([{ op: 'add', kind: 'elements', family: 'inet',
      table: TABLE, set: 'egress_learned', elements: [{ key: learned, timeout: 60_000 }] }]);
    enforcer.rebuilt = async () => void (await add());
    await enforcer.start(registry);
    await add();
    t.same(await enforcer.reconcile('test'), { differences: [], repaired: false },
      'what the daemon wrote is no difference');

    f.exec(['nft', 'add', 'element', 'inet', TABLE, 'egress_learned',
      '{ "tap2" . 198.18.2.10 timeout 1h }']);
    enforcer.suspect();
    const result = await enforcer.reconcile('test');
    t.same(result.differences, ['set egress_learned: 1 element(s) not the daemon\'s']);
    t.equal(result.repaired, true);
    t.equal(await enforcer.healthy(), true);
    const left = f.exec(['nft', 'list', 'set', 'inet', TABLE, 'egress_learned']);
    t.notMatch(left, /198\.18\.2\.10/, 'the foreign element is gone');
    t.match(left, /198\.18\.2\.20/, 'the learned one is back');
  });

/** Handles and hash order aside. */
function normalized(state: Awaited<ReturnType<NftSocket['listTable']>>) {
  const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : '');
  return state && {
    ...state,
    chains: state.chains.map((c) => ({ ...c, rules: c.rules.map((r) => r.exprs) })),
    sets: state.sets.map((s) => ({ ...s, elements: [...s.elements].sort((a, b) =>
      (hex(a.key) + hex(a.keyEnd)).localeCompare(hex(b.key) + hex(b.keyEnd))) })),
  };
}

/**
 * An enforcer started on `registry` in a namespace of its own, then its table changed by
 * `nft ARGS` behind its back; the counters start after the change.
 */
async function broken(t: Test, args: string[]) {
  const f = fixture(t);
  const nl = counted(f.sock);
  const enforcer = new KernelEnforcer(nl, base, log);
  await enforcer.start(registry);
  const before = normalized(await f.sock.listTable('inet', TABLE));
  f.exec(['nft', ...args]);
  enforcer.suspect();
  nl.calls.length = 0;
  nl.results.length = 0;
  return { f, nl, enforcer, before };
}

/** `sock` with a record of which of its calls the enforcer made, in order. */
function counted(sock: NftSocket) {
  const calls: string[] = [];
  const results: CommitResult[] = [];
  const nl: Netlink & { calls: string[]; results: CommitResult[];
    after: (() => Promise<void>) | null } = {
    calls,
    results,
    /** runs after each commit while set */
    after: null,
    commit: async (ops) => {
      calls.push('commit');
      const result = await sock.commit(ops);
      results.push(result);
      await nl.after?.();
      return result;
    },
    readTable: (family, name) => (calls.push('readTable'), sock.readTable(family, name)),
    ctList: () => sock.ctList(),
    ctDelete: (tuples) => sock.ctDelete(tuples),
  };
  return nl;
}

