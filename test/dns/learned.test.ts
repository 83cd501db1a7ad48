/**
 * The learned set without a kernel: timeouts sent to the kernel, answers that change
 * nothing left out of it, deletes that meet an element already expired, the sweep that
 * keeps an address open while a connection to it is, and the keys it reports to the audit
 * for as long as the kernel may hold their elements.
 */
import t from 'tap';
import pino from 'pino';
import { LearnedAddresses } from '../../src/dns/learned';
import { dnsWorkspace } from '../../src/dns/policy';
import { defaultPolicy, type Workspace } from '../../src/model/types';
import type { CommitResult, CtTuple, Op } from '../../src/nft/types';

type ElementsOp = Extract<Op, { kind: 'elements' }>;

function workspace(egress: string[], iface = 'tap_a'): Workspace {
  return { id: 'ws_a', ip: '10.0.0.15', gateway: '10.0.0.1', interface: iface, name: null,
    image_logo: null, image_color: null, plan: 'free', network: { ...defaultPolicy(), egress } };
}

function setup(sweepMs = 60_000) {
  const ops: ElementsOp[] = [];
  let results: CommitResult[] = [];
  const nl = {
    tuples: [] as CtTuple[],
    async commit(batch: Op[]): Promise<CommitResult> {
      ops.push(...(batch as ElementsOp[]));
      return results.shift() ?? { ok: true };
    },
    async ctList() {
      return nl.tuples;
    },
  };
  let ws = dnsWorkspace(workspace(['a.example']))!;
  const learned = new LearnedAddresses(nl, { table: 'workspace_netd', graceMs: 2000, sweepMs,
    current: () => ws, log: pino({ level: 'silent' }) });
  return {
    learned, nl, ops, ws: () => ws,
    setPolicy: (next: Workspace) => (ws = dnsWorkspace(next)!),
    failNext: (...r: CommitResult[]) => (results = r),
  };
}

t.test('an answer is learned with TTL plus grace, and a repeat changes nothing', async (t) => {
  const s = setup();
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 10 }]);
  t.equal(s.ops.length, 1);
  t.same([s.ops[0].op, s.ops[0].set, s.ops[0].elements[0].timeout], ['add', 'egress_learned',
    12_000]);
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 10 }]);
  t.equal(s.ops.length, 1, 'the same expiry: the kernel is left alone');
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 100 }]);
  t.equal(s.ops[1].elements[0].timeout, 102_000, 'a longer TTL extends it');
});

t.test('a name no longer listed when its answer lands is not learned', async (t) => {
  const s = setup();
  const asked = s.ws();
  s.setPolicy(workspace(['b.example']));
  await s.learned.learn(asked, 'a.example', [{ addr: '93.184.216.34', ttl: 10 }]);
  t.same(s.ops, []);
});

t.test('withdrawing meets an element that already expired: deleted one by one', async (t) => {
  const s = setup();
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 10 },
    { addr: '93.184.216.35', ttl: 10 }]);
  s.ops.length = 0;
  s.failNext({ ok: false, index: 0, errno: 2, message: 'No such file or directory' },
    { ok: false, index: 0, errno: 2, message: 'No such file or directory' });
  const next = s.setPolicy(workspace(['b.example']));
  await s.learned.retain(new Map([['ws_a', next]]));
  t.same(s.ops.map((o) => [o.op, o.elements.length]), [['delete', 2], ['delete', 1],
    ['delete', 1]]);
  t.same(s.learned.list(), []);
});

t.test('a changed tap withdraws what the old tap had', async (t) => {
  const s = setup();
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 10 }]);
  const moved = s.setPolicy(workspace(['a.example'], 'tap_new'));
  await s.learned.retain(new Map([['ws_a', moved]]));
  t.equal(s.ops.at(-1)?.op, 'delete');
  t.notOk(s.learned.isLearned(workspace(['a.example'], 'tap_new'), '93.184.216.34'));
});

t.test('the sweep keeps an address with an open connection, not one in TIME_WAIT', async (t) => {
  const s = setup(200);
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 0 },
    { addr: '93.184.216.35', ttl: 0 }]);
  s.nl.tuples = [
    { proto: 6, src: '10.0.0.15', dst: '93.184.216.34', sport: 40000, dport: 443, tcpState: 3 },
    { proto: 6, src: '10.0.0.15', dst: '93.184.216.35', sport: 40001, dport: 443, tcpState: 7 },
  ];
  s.learned.start();
  t.teardown(() => s.learned.stop());
  await new Promise((r) => setTimeout(r, 2600));
  t.same(s.learned.list().map((e) => e.addr), ['93.184.216.34'], 'past TTL 0 + grace 2 s');
  const restated = s.ops.filter((o) => o.op === 'add').at(-1)!;
  t.same(restated.elements.length, 1, 'each sweep restates what is still learned');
});

t.test('reinstate puts what has time left back, after the table was rebuilt', async (t) => {
  const s = setup();
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 10 }]);
  s.ops.length = 0;
  await s.learned.reinstate();
  t.equal(s.ops.length, 1);
  t.same([s.ops[0].op, s.ops[0].set, s.ops[0].elements.length], ['add', 'egress_learned', 1]);
  t.ok(s.ops[0].elements[0].timeout! > 11_000, 'with the time it has left');
});

const hexKey = (tap: string, addr: string) =>
  Buffer.from(tap.padEnd(16, '\0')).toString('hex') +
  Buffer.from(addr.split('.').map(Number)).toString('hex');

t.test('a key is reported from before its commit, and not after a refusal', async (t) => {
  const s = setup();
  const seen: Set<string>[] = [];
  const commit = s.nl.commit;
  s.nl.commit = async (batch) => (seen.push(s.learned.writtenKeys()), commit(batch));
  const mine = hexKey('tap_a', '93.184.216.34');

  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 10 }]);
  t.same([...seen[0]], [mine], 'while the kernel takes it');
  t.same([...s.learned.writtenKeys()], [mine], 'and once it has');

  s.failNext({ ok: false, index: 0, errno: 12, message: 'Cannot allocate memory' });
  const refused = s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.35', ttl: 10 }]);
  await t.rejects(refused, /kernel refused to add/);
  t.ok(seen[1].has(hexKey('tap_a', '93.184.216.35')), 'reported during the refused commit');
  t.same([...s.learned.writtenKeys()], [mine], 'not after it');
});

t.test('a withdrawn key is reported to reads that started before its delete', async (t) => {
  const s = setup();
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 10 }]);
  const mine = hexKey('tap_a', '93.184.216.34');
  const seen: Set<string>[] = [];
  const commit = s.nl.commit;
  s.nl.commit = async (batch) => (seen.push(s.learned.writtenKeys()), commit(batch));

  const next = s.setPolicy(workspace(['b.example']));
  await s.learned.retain(new Map([['ws_a', next]]));
  t.equal(s.ops.at(-1)?.op, 'delete');
  t.ok(seen[0].has(mine), 'while the kernel deletes it');
  const before = Date.now() - 1000;
  t.ok(s.learned.writtenKeys(before).has(mine), 'a read that started before the delete');
  const after = Date.now() + 1;
  t.notOk(s.learned.writtenKeys(after).has(mine), 'not a read that started after it');
});

t.test('a key outlives the daemon\'s own expiry while the kernel may hold it', async (t) => {
  const s = setup(200);
  await s.learned.learn(s.ws(), 'a.example', [{ addr: '93.184.216.34', ttl: 0 }]);
  s.learned.start();
  t.teardown(() => s.learned.stop());
  await new Promise((r) => setTimeout(r, 2600));
  t.same(s.learned.list(), [], 'past TTL 0 + grace 2 s: no longer learned');
  t.ok(s.learned.writtenKeys().has(hexKey('tap_a', '93.184.216.34')), 'still reported');
});
