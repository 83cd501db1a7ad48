/**
 * The addon's RouteSocket against the real kernel, in a namespace each test creates:
 * rules and routes added, dumped, refused with the op's index and the kernel's words,
 * deleted; bad input refused before anything is sent.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';

import { RouteSocket } from '../../src/route/socket';
import type { FibRule, Route, RouteOp } from '../../src/route/types';

const PROTO = 201;
const rule: FibRule = {
  priority: 20000, src: '10.0.1.2', srcLen: 32, table: 70001, protocol: PROTO,
};
const via: Route = {
  table: 70001, dst: '0.0.0.0', dstLen: 0, type: 'unicast', gateway: '192.0.2.1', protocol: PROTO,
};
const thrown: Route = { table: 70001, dst: '10.0.0.0', dstLen: 8, type: 'throw', protocol: PROTO };

const add = (x: FibRule | Route): RouteOp =>
  'priority' in x ? { op: 'add', kind: 'rule', rule: x } : { op: 'add', kind: 'route', route: x };
const del = (x: FibRule | Route): RouteOp =>
  'priority' in x
    ? { op: 'delete', kind: 'rule', rule: x }
    : { op: 'delete', kind: 'route', route: x };

/** A namespace with a link on 192.0.2.0/24, and a socket in it; both go at teardown. */
function fixture(t: Test) {
  const ns = `wr-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const exec = (args: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
  // A veth pair: the kernel may lack the dummy driver; the peer end only has to exist.
  exec(['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
  exec(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'd0']);
  exec(['ip', 'link', 'set', 'd1', 'up']);
  exec(['ip', 'link', 'set', 'd0', 'up']);
  const sock = RouteSocket.open({ netns: `/run/netns/${ns}` });
  t.teardown(() => {
    sock.close();
    execFileSync('ip', ['netns', 'del', ns]);
  });
  return { sock, exec };
}

t.test('rules and routes are added, dumped as sent, and deleted', async (t) => {
  const { sock, exec } = fixture(t);
  t.same(await sock.apply([add(via), add(thrown), add(rule)]), { ok: true });

  t.match(exec(['ip', 'rule', 'show']), /20000:\s+from 10\.0\.1\.2 lookup 70001 proto 201/);
  const table = exec(['ip', 'route', 'show', 'table', '70001']);
  t.match(table, /default via 192\.0\.2\.1 dev d0 proto 201/);
  t.match(table, /throw 10\.0\.0\.0\/8 proto 201/);

  const dumped = await sock.dump();
  t.same(dumped.rules.filter((r) => r.protocol === PROTO), [{ ...rule, action: 1 }]);
  const ours = dumped.routes.filter((r) => r.protocol === PROTO);
  t.same(ours.sort((a, b) => a.dstLen - b.dstLen), [via, thrown]);
  t.ok(dumped.routes.some((r) => r.table === 255), 'other tables are dumped too (local)');

  t.same(await sock.apply([del(rule), del(thrown), del(via)]), { ok: true });
  t.notMatch(exec(['ip', 'rule', 'show']), /70001/);
  t.equal(exec(['ip', 'route', 'show', 'table', '70001']), '');
});

t.test('a fwmark rule from all is sent, dumped with its mask, and deleted', async (t) => {
  const { sock, exec } = fixture(t);
  const marked: FibRule = { priority: 20001, src: '0.0.0.0', srcLen: 0, fwmark: 70001,
    fwmask: 0xffffffff, table: 70001, protocol: PROTO };
  t.same(await sock.apply([add(marked)]), { ok: true });
  const shown = exec(['ip', 'rule', 'show']);
  t.match(shown, /20001:\s+from all fwmark 0x11171 lookup 70001 proto 201/);

  const dumped = await sock.dump();
  t.same(dumped.rules.filter((r) => r.protocol === PROTO), [{ ...marked, action: 1 }]);
  t.same(await sock.apply([del(marked)]), { ok: true });
  t.notMatch(exec(['ip', 'rule', 'show']), /fwmark/);
});

t.test('a refused op is reported by index; the ops before it stay applied', async (t) => {
  const { sock, exec } = fixture(t);
  t.same(await sock.apply([add(rule)]), { ok: true });

  const result = await sock.apply([add(via), add(rule), add(thrown)]);
  t.match(result, { ok: false, index: 1, errno: 17, message: 'File exists' });
  t.match(exec(['ip', 'route', 'show', 'table', '70001']), /default via 192\.0\.2\.1/);
  t.notMatch(exec(['ip', 'route', 'show', 'table', '70001']), /throw/, 'nothing after it');
});

t.test('an unreachable next hop is refused with the kernel\'s explanation', async (t) => {
  const { sock, exec } = fixture(t);
  const result = await sock.apply([add({ ...via, gateway: '198.51.100.1' })]);
  t.match(result, { ok: false, index: 0, errno: 101, detail: /gateway/i });
  t.equal(exec(['ip', 'route', 'show', 'table', '70001']), '');
});

t.test('deleting what is absent is refused, not ignored', async (t) => {
  const { sock } = fixture(t);
  t.match(await sock.apply([del(rule)]), { ok: false, index: 0, errno: 2 });
  t.match(await sock.apply([del(via)]), { ok: false, index: 0, errno: 3 });
});

t.test('malformed ops are TypeErrors naming the field; nothing is sent', async (t) => {
  const { sock, exec } = fixture(t);
  const before = exec(['ip', 'rule', 'show']);
  const bad: [unknown, RegExp][] = [
    [[add(via), { ...add(rule), rule: { ...rule, src: '10.0.1' } }], /ops\[1\]\.rule\.src/],
    [[{ op: 'replace', kind: 'rule', rule }], /^ops\[0\]\.op: unknown value 'replace'/],
    [[{ op: 'add', kind: 'route', route: { ...via, type: 'blackhole' } }], /ops\[0\]\.type/],
    [[add({ ...rule, srcLen: 33 })], /ops\[0\]\.srcLen/],
    [[add({ ...rule, table: 0 })], /ops\[0\]\.table: table 0/],
    [[add({ ...thrown, gateway: '192.0.2.1' })], /ops\[0\]\.gateway: a throw route/],
    [[add({ ...rule, protocol: 256 })], /ops\[0\]\.protocol/],
    [[add({ ...rule, fwmark: -1 })], /ops\[0\]\.fwmark/],
    ['not a list', /^ops: expected an array/],
  ];
  for (const [ops, message] of bad) {
    await t.rejects(sock.apply(ops as RouteOp[]), { name: 'TypeError', message });
  }
  t.equal(exec(['ip', 'rule', 'show']), before);
  t.equal(exec(['ip', 'route', 'show', 'table', 'all']).includes('70001'), false);
});

t.test('a closed socket refuses calls with EBADF', async (t) => {
  const { sock } = fixture(t);
  sock.close();
  await t.rejects(sock.dump(), { code: 'EBADF' });
});
