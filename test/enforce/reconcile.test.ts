/**
 * KernelEnforcer.reconcile over a fake kernel whose table is what the committed operations
 * build: the audit reads the table where nothing commits and compares it in slices, so a
 * change applied meanwhile commits during the comparison; that change makes no false
 * repair, and hides neither a real difference nor a foreign change. Elements of
 * egress_learned count when the learned set did not write them, not while it commits them.
 */
import pino from 'pino';
import t from 'tap';
import { expectedTable } from '../../src/enforce/audit';
import { KernelEnforcer, type KernelOptions, type Netlink } from '../../src/enforce/kernel';
import { LearnedAddresses } from '../../src/dns/learned';
import { dnsWorkspace } from '../../src/dns/policy';
import { defaultPolicy, type NetworkPolicy, type Workspace } from '../../src/model/types';
import { readBackOf } from '../../src/nft/readback';
import type { Element, Op, TableState } from '../../src/nft/types';
import { concat, ifname, ipv4 } from '../../src/nft/bytes';

const log = pino({ level: 'silent' });
const o = { table: 'workspace_netd', uplink: 'up0', workspaceNet: { net: '10.0.0.0', len: 8 },
  runtimeApiPort: 9990 };

function ws(id: string, n: number, network: Partial<NetworkPolicy> = {}): Workspace {
  return {
    id, ip: `10.0.${n}.2`, gateway: `10.0.${n}.1`, interface: `t-${id}`, name: null,
    image_logo: null, image_color: null, plan: 'free', network: { ...defaultPolicy(), ...network },
  };
}

/**
 * A kernel that applies every committed op in order. Each page of rules the audit asks for
 * takes 6 ms, longer than a slice, so the comparison returns to the event loop between
 * pages; `onPage` runs at the first page of each read.
 */
function kernel(options: KernelOptions = o) {
  const ops: Op[] = [];
  const events: string[] = [];
  const k = {
    events,
    enforcer: null as unknown as KernelEnforcer,
    onPage: null as (() => void) | null,
    /** a change by someone else: the table as it is, with `change` applied */
    foreign: (change: Op) => ops.push(change),
    table: (): TableState | null => (ops.length > 0 ? expectedTable(ops) : null),
  };
  const nl: Netlink = {
    async commit(batch: Op[]) {
      await new Promise((resolve) => setImmediate(resolve));
      ops.push(...batch);
      events.push('commit');
      return { ok: true };
    },
    async readTable() {
      events.push('read');
      const state = k.table();
      if (!state) return null;
      const read = readBackOf(state);
      let first = true;
      return {
        ...read,
        rules: (from, to) => {
          if (first) k.onPage?.();
          first = false;
          events.push('page');
          for (const until = performance.now() + 6; performance.now() < until;);
          return read.rules(from, to);
        },
      };
    },
    ctList: async () => [],
    ctDelete: async () => 0,
  };
  k.enforcer = new KernelEnforcer(nl, options, log);
  return k;
}

const fleet = (n: number) =>
  new Map(Array.from({ length: n }, (_, i) => ws(`ws_${i}`, i + 1, { egress_ports: [443] }))
    .map((w) => [w.id, w]));

/** After the read: a change that widens ws_0, applied while the audit compares. */
function widenDuringAudit(k: ReturnType<typeof kernel>, registry: Map<string, Workspace>) {
  const prev = registry.get('ws_0')!;
  const next = ws('ws_0', 1, { egress_ports: [443, 80] });
  let applied: Promise<void> | null = null;
  k.onPage = () => {
    k.onPage = null;
    applied = k.enforcer.apply([{ prev, next }], new Map(registry).set('ws_0', next));
  };
  return () => applied;
}

t.test('a change committed during the comparison makes no false repair', async (t) => {
  const k = kernel();
  const registry = fleet(60);
  await k.enforcer.start(registry);
  k.events.length = 0;

  const applied = widenDuringAudit(k, registry);
  const result = await k.enforcer.reconcile('periodic audit');
  await applied();
  t.same(result, { differences: [], repaired: false });
  const commitAt = k.events.indexOf('commit');
  t.ok(commitAt > 0 && k.events.lastIndexOf('page') > commitAt, 'committed mid-comparison');
  t.equal(k.events.filter((e) => e === 'read').length, 1, 'one read');
  t.equal(await k.enforcer.healthy(), true);
  t.same(await k.enforcer.reconcile('next audit'), { differences: [], repaired: false },
    'the change is in the table and in the expectation');
});

t.test('a real difference found while a change commits is read again and repaired', async (t) => {
  const k = kernel();
  const registry = fleet(60);
  await k.enforcer.start(registry);
  const set = k.table()!.sets.find((s) => !s.spec.timeout && s.elements.length > 0)!;
  const lost: Element = set.elements[0];
  k.foreign({ op: 'delete', kind: 'elements', family: 'inet', table: o.table,
    set: set.spec.name, elements: [lost] });
  k.events.length = 0;

  const applied = widenDuringAudit(k, registry);
  const result = await k.enforcer.reconcile('periodic audit');
  await applied();
  t.same(result.differences, [`set ${set.spec.name}: 1 element(s) missing`]);
  t.equal(result.repaired, true);
  t.same(k.events.filter((e) => e !== 'page'),
    ['read', 'commit', 'read', 'commit', 'commit', 'read'], 'read, the change, read again ' +
    '(a commit came after the first), the closed table, the repair, its proof');
  t.equal(await k.enforcer.healthy(), true);
  t.same(await k.enforcer.reconcile('next audit'), { differences: [], repaired: false });
});

t.test('a foreign change during the comparison leaves the daemon unhealthy', async (t) => {
  const k = kernel();
  await k.enforcer.start(fleet(30));
  k.onPage = () => k.enforcer.suspect();
  t.same(await k.enforcer.reconcile('periodic audit'), { differences: [], repaired: false });
  t.equal(await k.enforcer.healthy(), false, 'what the read saw says nothing of the change');
});

/** A kernel whose enforcer audits egress_learned against a learned set that shares it. */
function withLearned() {
  let learned: LearnedAddresses | null = null;
  const k = kernel({ ...o, timeoutKeys: () => learned!.writtenKeys() });
  let held: Promise<void> | null = null;
  const release: (() => void)[] = [];
  // Elements are in the kernel at once; the answer waits while `held` is set.
  const nl = {
    async commit(batch: Op[]) {
      for (const op of batch) k.foreign(op);
      if (held) await held;
      return { ok: true as const };
    },
    ctList: async () => [],
  };
  const registry = new Map([ws('ws_0', 1, { egress: ['a.example'] })].map((w) => [w.id, w]));
  const dns = dnsWorkspace(registry.get('ws_0')!)!;
  learned = new LearnedAddresses(nl, { table: o.table, graceMs: 2000, sweepMs: 60_000,
    current: () => dns, log });
  k.enforcer.rebuilt = () => learned!.reinstate();
  const hold = () => (held = new Promise((resolve) => release.push(() => resolve())));
  const letGo = () => ((held = null), release.splice(0).forEach((r) => r()));
  return { k, learned, registry, dns, hold, letGo };
}

const learnedIn = (k: ReturnType<typeof kernel>) =>
  k.table()!.sets.find((s) => s.spec.name === 'egress_learned')!.elements.length;

t.test('an element of egress_learned the daemon did not write is repaired away', async (t) => {
  const { k, learned, registry, dns } = withLearned();
  await k.enforcer.start(registry);
  await learned.learn(dns, 'a.example', [{ addr: '198.18.2.20', ttl: 60 }]);
  t.same(await k.enforcer.reconcile('audit'), { differences: [], repaired: false },
    'a learned one is no difference');

  k.foreign({ op: 'add', kind: 'elements', family: 'inet', table: o.table,
    set: 'egress_learned', elements: [{ key: concat(ifname('t-ws_0'), ipv4('198.18.2.10')),
      timeout: 3_600_000 }] });
  k.enforcer.suspect();
  const result = await k.enforcer.reconcile('audit');
  t.same(result.differences, ['set egress_learned: 1 element(s) not the daemon\'s']);
  t.equal(result.repaired, true);
  t.equal(learnedIn(k), 1, 'the learned one reinstated, the foreign one gone');
  t.equal(await k.enforcer.healthy(), true);
});

t.test('an element read back while the learned set commits it is no difference', async (t) => {
  const { k, learned, registry, dns, hold, letGo } = withLearned();
  await k.enforcer.start(registry);
  hold();
  const learning = learned.learn(dns, 'a.example', [{ addr: '198.18.2.20', ttl: 60 }]);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(learnedIn(k), 1, 'in the kernel, its commit not answered yet');
  t.same(await k.enforcer.reconcile('audit'), { differences: [], repaired: false });
  letGo();
  await learning;
  t.same(await k.enforcer.reconcile('audit'), { differences: [], repaired: false });
});
