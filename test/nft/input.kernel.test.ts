/**
 * Bad input from JavaScript: every malformed op is refused with a TypeError that names
 * the op index and the field, before anything reaches libnftnl (which would abort the
 * process) or the kernel. The process survives and the socket stays usable.
 */
import t from 'tap';

import { NftSocket, NftSocketError } from '../../src/nft/addon';
import { ifname } from '../../src/nft/bytes';
import type { Op } from '../../src/nft/types';
import { fixture } from './fixtures/netns';

const T = 'workspace_netd';
const at = { family: 'inet', table: T } as const;
const table: Op = { op: 'add', kind: 'table', family: 'inet', name: T };
const set: Op = { op: 'add', kind: 'set', ...at, set: { name: 's', keyType: 41, keyLen: 16 } };

/** A rule holding one expression, given as loose data. */
const rule = (expr: unknown): Op =>
  ({ op: 'add', kind: 'rule', ...at, chain: 'c', exprs: [{ type: 'counter' }, expr] }) as Op;

/** Ops that must be refused, each with the message the TypeError must match. */
const cases: { name: string; ops: unknown; message: RegExp }[] = [
  {
    name: 'a key of 100 bytes',
    ops: [
      table,
      set,
      { op: 'add', kind: 'elements', ...at, set: 's', elements: [{ key: new Uint8Array(100) }] },
    ],
    message: /^ops\[2\]\.elements\[0\]\.key: expected 1 to 64 bytes, got 100$/,
  },
  {
    name: 'a chain name of 300 characters',
    ops: [table, { op: 'add', kind: 'chain', ...at, name: 'c'.repeat(300) }],
    message: /^ops\[1\]\.name: expected at most 255 bytes, got 300$/,
  },
  { name: 'ops that are not an array', ops: { op: 'add' }, message: /^ops: expected an array$/ },
  { name: 'an op that is null', ops: [table, null], message: /^ops\[1\]: expected an object$/ },
  {
    name: 'an unknown family',
    ops: [{ ...table, family: 'arp' }],
    message: /^ops\[0\]\.family: unknown value 'arp'$/,
  },
  {
    name: 'a family given as a number',
    ops: [{ ...table, family: 1 }],
    message: /^ops\[0\]\.family: expected a string$/,
  },
  {
    name: 'a name with a NUL byte',
    ops: [{ ...table, name: 'a\0b' }],
    message: /^ops\[0\]\.name: expected a non-empty name without NUL bytes$/,
  },
  {
    name: 'key bytes as a plain array',
    ops: [table, { op: 'add', kind: 'elements', ...at, set: 's', elements: [{ key: [1, 2] }] }],
    message: /^ops\[1\]\.elements\[0\]\.key: expected a Uint8Array$/,
  },
  {
    name: 'cmp data of 17 bytes',
    ops: [table, rule({ type: 'cmp', sreg: 1, op: 'eq', data: new Uint8Array(17) })],
    message: /^ops\[1\]\.exprs\[1\]\.data: expected 1 to 16 bytes, got 17$/,
  },
  {
    name: 'a register that does not exist',
    ops: [table, rule({ type: 'meta', key: 'iifname', dreg: 6 })],
    message: /^ops\[1\]\.exprs\[1\]\.dreg: not a valid register: 6$/,
  },
  {
    name: 'a load into the verdict register',
    ops: [table, rule({ type: 'payload', base: 'network', offset: 12, len: 4, dreg: 0 })],
    message: /^ops\[1\]\.exprs\[1\]\.dreg: not a valid register: 0$/,
  },
  {
    name: 'a fractional priority',
    ops: [table, { op: 'add', kind: 'chain', ...at, name: 'c',
      base: { type: 'filter', hook: 'input', priority: 0.5, policy: 'drop' } }],
    message: /^ops\[1\]\.base\.priority: expected a 32-bit signed integer$/,
  },
  {
    name: 'a bitwise mask shorter than len',
    ops: [table, rule({ type: 'bitwise', sreg: 1, dreg: 1, len: 4,
      mask: new Uint8Array(2), xor: new Uint8Array(4) })],
    message: /^ops\[1\]\.exprs\[1\]\.mask: expected 4 to 4 bytes, got 2$/,
  },
  {
    name: 'an unknown expression',
    ops: [table, rule({ type: 'queue' })],
    message: /^ops\[1\]\.exprs\[1\]\.type: unknown expression 'queue'$/,
  },
  {
    name: 'a jump without a chain',
    ops: [table, rule({ type: 'immediate', dreg: 0, verdict: { kind: 'jump' } })],
    message: /^ops\[1\]\.exprs\[1\]\.verdict\.chain: expected a string$/,
  },
  {
    name: 'a set of 16 fields',
    ops: [table, { op: 'add', kind: 'set', ...at,
      set: { name: 'x', keyType: 1, keyLen: 64, fields: new Array(16).fill(4) } }],
    message: /^ops\[1\]\.set\.fields: expected at most 15 items, got 16$/,
  },
  {
    name: 'a field whose getter throws (its own error goes through)',
    ops: [table, new Proxy({}, { get: () => { throw new Error('boom'); } })],
    message: /^boom$/,
  },
  {
    name: 'a flush of something other than a chain',
    ops: [{ op: 'flush', kind: 'set', ...at, name: 's' }],
    message: /^ops\[0\]\.op: only a chain can be flushed$/,
  },
];

t.test('malformed ops are TypeErrors naming op and field; nothing is sent', async (t) => {
  const { sock } = fixture(t);

  for (const c of cases) {
    const name = c.message.source === '^boom$' ? 'Error' : 'TypeError';
    await t.rejects(sock.commit(c.ops as Op[]), { name, message: c.message }, c.name);
  }
  t.equal(await sock.listTable('inet', T), null, 'no op of a refused call reached the kernel');
  t.same(await sock.commit([table, set]), { ok: true }, 'the socket still commits');
});

t.test('other calls check their arguments too', async (t) => {
  const { sock } = fixture(t);

  const bridge = 'bridge' as 'inet';
  await t.rejects(sock.listTable(bridge, T), { name: 'TypeError', message: /^family/ });
  await t.rejects(sock.listTable('inet', ''), { name: 'TypeError', message: /^name/ });
  await t.rejects(
    sock.ctDelete([{ proto: 6, src: '10.0.0.300', dst: '10.0.0.1', sport: 1, dport: 2 }]),
    { name: 'TypeError', message: /^tuples\[0\]\.src/ },
  );
  await t.rejects(
    sock.ctDelete([{ proto: 47, src: '10.0.0.3', dst: '10.0.0.1', sport: 0, dport: 0 }]),
    { name: 'TypeError', message: /^tuples\[0\]\.proto: only TCP/ },
  );
  await t.rejects(
    sock.ctDelete([{ proto: 1, src: '10.0.0.3', dst: '10.0.0.1', sport: 0, dport: 0 }]),
    { name: 'TypeError', message: /^tuples\[0\]\.icmp/ },
    'an ICMP entry is named by its id, type and code',
  );
  await t.rejects(
    sock.ctDelete([{ proto: 6, src: '10.0.0.3', dst: '10.0.0.1', sport: 70000, dport: 1 }]),
    { name: 'TypeError', message: /^tuples\[0\]\.sport/ },
  );
  t.throws(() => NftSocket.open({ netns: '/run/netns/does-not-exist' }), NftSocketError);
});

t.test('a closed socket refuses calls with EBADF', async (t) => {
  const { ns } = fixture(t);
  const sock = NftSocket.open({ netns: `/run/netns/${ns}` });
  sock.close();

  await t.rejects(sock.commit([]), { name: 'NftSocketError', code: 'EBADF' });
  await t.rejects(sock.listTable('inet', T), { code: 'EBADF' });
  t.ok(ifname('x'), 'the process is still here');
});
