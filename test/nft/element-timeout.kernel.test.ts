/**
 * Element timeouts: a timeout set, elements that expire on their own, an element added
 * again with a new timeout (the kernel restarts its clock), and bad timeouts refused by
 * the addon before they reach libnftnl. Each test runs in its own network namespace.
 */
import t from 'tap';

import { concat, ifname, ipv4 } from '../../src/nft/bytes';
import type { Element, Op, SetSpec } from '../../src/nft/types';
import { fixture } from './fixtures/netns';

const T = 'workspace_netd';
const at = { family: 'inet', table: T } as const;
// ifname . ipv4_addr (nftables src/datatype.h, CONCAT_TYPE_BITS 6).
const KEY_TYPE = (41 << 6) | 7;

const spec: SetSpec = {
  name: 'egress_learned', keyType: KEY_TYPE, keyLen: 20, fields: [16, 4], timeout: true,
};
const key = (addr: string) => concat(ifname('t-ws1'), ipv4(addr));

const setup: Op[] = [
  { op: 'create', kind: 'table', family: 'inet', name: T },
  { op: 'create', kind: 'set', ...at, set: spec },
];
const add = (elements: Element[]): Op => ({ op: 'add', kind: 'elements', ...at, set: spec.name,
  elements });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function learned(sock: ReturnType<typeof fixture>['sock']): Promise<Element[]> {
  const table = await sock.listTable('inet', T);
  return table?.sets.find((s) => s.spec.name === spec.name)?.elements ?? [];
}

t.test('a timeout set reads back with its flag, elements with timeout and time left', async (t) => {
  const { sock, exec } = fixture(t);
  t.same(await sock.commit([...setup, add([{ key: key('93.184.216.34'), timeout: 30_000 }])]),
    { ok: true });

  const table = await sock.listTable('inet', T);
  t.same(table?.sets[0].spec, spec);
  const [el] = await learned(sock);
  t.equal(el.timeout, 30_000);
  t.ok(el.expires! > 29_000 && el.expires! <= 30_000, `expires ${el.expires}`);
  t.match(exec(['nft', 'list', 'set', 'inet', T, spec.name]), /flags timeout/);
});

t.test('an element expires by itself', async (t) => {
  const { sock } = fixture(t);
  await sock.commit([...setup, add([{ key: key('93.184.216.34'), timeout: 300 }])]);
  t.equal((await learned(sock)).length, 1);
  await sleep(700);
  t.equal((await learned(sock)).length, 0, 'gone after its timeout');
});

t.test('adding an element again restarts its clock, longer or shorter', async (t) => {
  const { sock } = fixture(t);
  await sock.commit([...setup, add([{ key: key('93.184.216.34'), timeout: 1000 }])]);
  await sleep(600);
  t.same(await sock.commit([add([{ key: key('93.184.216.34'), timeout: 60_000 }])]), { ok: true });
  const [el] = await learned(sock);
  t.ok(el.expires! > 59_000, `extended: expires ${el.expires}`);

  await sock.commit([add([{ key: key('93.184.216.34'), timeout: 5000 }])]);
  t.ok((await learned(sock))[0].expires! <= 5000, 'shortened');
});

t.test('deleting an element that expired is ENOENT', async (t) => {
  const { sock } = fixture(t);
  await sock.commit([...setup, add([{ key: key('93.184.216.34'), timeout: 100 }])]);
  await sleep(400);
  const res = await sock.commit([{ op: 'delete', kind: 'elements', ...at, set: spec.name,
    elements: [{ key: key('93.184.216.34') }] }]);
  t.match(res, { ok: false, index: 0, errno: 2 });
});

t.test('bad timeouts are refused by the addon', async (t) => {
  const { sock } = fixture(t);
  await sock.commit(setup);
  for (const timeout of [0, -1, 1.5, 8 * 24 * 3600 * 1000]) {
    await t.rejects(sock.commit([add([{ key: key('93.184.216.34'), timeout }])]),
      { name: 'TypeError', message: /elements\[0\]\.timeout/ }, `timeout ${timeout}`);
  }
  t.same(await learned(sock), [], 'nothing was added');
});
