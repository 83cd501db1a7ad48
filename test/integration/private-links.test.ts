/**
 * Private links proven with real connections in the lab: what a link opens and nothing
 * more, one direction only, forged sources seen from inside the target, and the addresses
 * a link follows when its workspace is deleted, moves, or lives on another host.
 */
import t from 'tap';
import { createLab, Lab } from '../lab/lab';
import { addAddr, addRoute, addVeth, ip, nsExec } from '../lab/netns';
import { tcp, holdTcp } from '../lab/probe';

let lab: Lab;
let peer: string;
const API = 9990;
const IDS = ['ws_a', 'ws_b', 'ws_c', 'ws_d'];
const TABLE = ['inet', 'workspace_netd'];
/** A workspace on another host, reached through the peer host's namespace. */
const REMOTE = { first: '10.0.200.2', second: '10.0.200.3', gateway: '10.0.200.1' };

async function api(method: string, path: string, body?: unknown) {
  return lab.daemon!.api(method, path, body);
}

async function ok(method: string, path: string, body?: unknown) {
  const res = await api(method, path, body);
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

const patch = (id: string, body: unknown) => ok('PATCH', `/workspace/${id}/network`, body);
const link = (id: string, ids: string[]) => patch(id, { private_link_ids: ids });
const network = (id: string) => ok('GET', `/workspace/${id}/network`);
const put = (id: string, body: unknown) => ok('PUT', `/workspace/${id}`, body);

/** What `ns` connecting to ws_a's `port` meets (optionally from a chosen source). */
async function toA(ns: string, port: number, source?: string) {
  return (await tcp(ns, lab.ws('ws_a').ip, port, { source })).result;
}

/**
 * Counts, inside a workspace's own namespace (the VM's side of its tap), every packet
 * that arrives from `saddr`: proof that a dropped packet never reached the target.
 */
async function watchArrivals(ns: string, saddr: string) {
  const name = `seen_${saddr.replace(/\./g, '_')}`;
  const script = [
    `add table inet ${name}`,
    `add chain inet ${name} c { type filter hook prerouting priority -400; policy accept; }`,
    `add counter inet ${name} n`,
    `add rule inet ${name} c ip saddr ${saddr} counter name n`,
  ].join('\n');
  await nsExec(ns, ['nft', '-f', '-'], { input: script });
  return {
    async packets(): Promise<number> {
      const out = await nsExec(ns, ['nft', '-j', 'list', 'counter', 'inet', name, 'n']);
      const found = JSON.parse(out.stdout).nftables.find((o: any) => o.counter)?.counter;
      return Number(found.packets);
    },
    remove: () => nsExec(ns, ['nft', 'delete', 'table', 'inet', name]),
  };
}

/** A second host: its namespace holds the remote workspace's addresses on its loopback. */
async function addPeerHost(): Promise<string> {
  const ns = await lab.run.addNetns('peer');
  await addVeth(lab.host, 'xh0', ns, 'xh1');
  await addAddr(lab.host, 'xh0', '198.19.0.1/30');
  await addAddr(ns, 'xh1', '198.19.0.2/30');
  for (const addr of [REMOTE.first, REMOTE.second]) await addAddr(ns, 'lo', `${addr}/32`);
  await addRoute(ns, 'default', '198.19.0.1');
  await addRoute(lab.host, '10.0.200.0/24', '198.19.0.2');
  return ns;
}

t.before(async () => {
  lab = await createLab({ workspaces: IDS });
  peer = await addPeerHost();
  await lab.startDaemon();
  for (const [i, id] of IDS.entries()) {
    await put(id, lab.registration(id, {
      name: `agent-${i}`, image_logo: 'node', image_color: '#3C873A',
    }));
  }
});
t.teardown(() => lab?.destroy());

t.test('without a link, a workspace is dark to the others', async (t) => {
  for (const id of ['ws_b', 'ws_c']) {
    t.equal(await toA(lab.ws(id).ns, API, undefined), 'timeout', `${id} -> runtime API`);
    t.equal(await toA(lab.ws(id).ns, 80), 'timeout', `${id} -> port 80`);
  }
});

t.test('PATCH resolves the ids it can, in request order, and keeps public_access', async (t) => {
  const [a, b, c] = ['ws_a', 'ws_b', 'ws_c'].map((id) => lab.ws(id));
  await patch('ws_a', { public_access: true, ingress_ports: [3000] });

  const body = await link('ws_a', ['ws_c', 'ws_unknown', 'ws_b', 'ws_a', 'ws_c']);
  t.same(body.private_link_ids, ['ws_c', 'ws_b'], 'unknown and self left out silently');
  t.equal(body.public_access, true, 'links leave public_access alone');
  t.same(body.ingress, ['host', c.ip, b.ip], 'host first, then the linked addresses');

  const get = await network('ws_a');
  t.same(get.ingress, ['host', c.ip, b.ip]);
  t.strictSame(get.private_links, [
    { id: 'ws_c', ip: c.ip, name: 'agent-2', image_logo: 'node', image_color: '#3C873A' },
    { id: 'ws_b', ip: b.ip, name: 'agent-1', image_logo: 'node', image_color: '#3C873A' },
  ]);
  t.notOk('private_link_ids' in get, 'GET answers in the seed shape');
  t.equal(get.ip, a.ip);

  // An id that did not resolve was not linked: registering it later grants nothing.
  await put('ws_unknown', { ip: '10.0.201.2', gateway: '10.0.201.1', interface: null });
  t.same((await network('ws_a')).private_links.map((l: any) => l.id), ['ws_c', 'ws_b']);
  await ok('DELETE', '/workspace/ws_unknown');

  const cleared = await link('ws_a', []);
  t.same(cleared.private_link_ids, []);
  t.same(cleared.ingress, ['host'], 'an empty list removes every link, host stays');
  t.same((await network('ws_a')).private_links, []);
});

t.test('a refused link list changes nothing', async (t) => {
  await link('ws_a', ['ws_b']);
  const before = await lab.nft(['list', 'table', ...TABLE]);
  const many = Array.from({ length: 51 }, (_, i) => `ws_x${i}`);

  const tooMany = await api('PATCH', '/workspace/ws_a/network', { private_link_ids: many });
  t.equal(tooMany.status, 400);
  t.equal(tooMany.body.error, 'too_many_entries');
  const bad = await api('PATCH', '/workspace/ws_a/network', { private_link_ids: ['ws_b', 'b'] });
  t.equal(bad.status, 400);
  t.equal(bad.body.error, 'invalid_workspace_id');
  t.equal(await lab.nft(['list', 'table', ...TABLE]), before, 'kernel untouched');
  t.same((await network('ws_a')).private_links.map((l: any) => l.id), ['ws_b']);

  const fifty = await link('ws_a', [...many.slice(0, 49), 'ws_b']);
  t.same(fifty.private_link_ids, ['ws_b'], '50 entries are accepted');
});

t.test('a linked workspace reaches the runtime API and ingress ports, nothing else', async (t) => {
  const [b, d] = [lab.ws('ws_b'), lab.ws('ws_d')];
  await link('ws_a', ['ws_b']);

  const api9990 = await tcp(b.ns, lab.ws('ws_a').ip, API);
  t.equal(api9990.result, 'connected', 'runtime API port');
  t.equal(api9990.peerSaw, b.ip, 'the target sees the caller itself, not the host');
  t.equal(await toA(b.ns, 3000), 'connected', 'an ingress port');
  for (const port of [80, 443, 8000]) {
    t.equal(await toA(b.ns, port), 'timeout', `port ${port} is not opened by the link`);
  }

  t.equal(await toA(d.ns, API), 'timeout', 'an unlinked workspace gets nothing');
  t.equal(await toA(d.ns, 3000), 'timeout', 'not even the ingress port');
  t.equal(await toA(lab.host, API), 'timeout', 'public_access does not open the API port');
  t.equal(await toA(lab.host, 3000), 'connected', 'the host keeps its ingress port');
});

t.test('links are one-directional', async (t) => {
  const [a, b] = [lab.ws('ws_a'), lab.ws('ws_b')];
  await link('ws_a', ['ws_b']);
  t.equal((await tcp(a.ns, b.ip, API)).result, 'timeout', 'the target cannot reach the caller');

  await link('ws_b', ['ws_a']);
  t.equal((await tcp(a.ns, b.ip, API)).result, 'connected', 'until the caller links it back');
  await link('ws_b', []);
  t.equal((await tcp(a.ns, b.ip, API)).result, 'timeout');
  t.equal(await toA(b.ns, API), 'connected', 'the other direction is unchanged');
});

t.test('a third workspace forging a linked address gets no packet to the target', async (t) => {
  const [a, b, c] = ['ws_a', 'ws_b', 'ws_c'].map((id) => lab.ws(id));
  await link('ws_a', ['ws_b']);
  const seen = await watchArrivals(a.ns, b.ip);
  t.teardown(() => seen.remove());

  t.equal(await toA(b.ns, API), 'connected', 'the real caller');
  t.ok((await seen.packets()) > 0, 'the counter sees the real caller');

  // ws_c takes ws_b's address on its own interface and sends from it.
  await addAddr(c.ns, 'eth0', `${b.ip}/32`);
  t.teardown(() => ip(c.ns, ['addr', 'del', `${b.ip}/32`, 'dev', 'eth0']));
  const before = await seen.packets();
  t.equal(await toA(c.ns, API, b.ip), 'timeout');
  t.equal(await toA(c.ns, 3000, b.ip), 'timeout');
  t.equal(await seen.packets(), before, 'not one forged packet arrived in the target');
});

t.test('removing a link ends the connections it allowed, and only those', async (t) => {
  const [a, b] = [lab.ws('ws_a'), lab.ws('ws_b')];
  await link('ws_a', ['ws_b']);
  const toApi = await holdTcp(lab.run, b.ns, a.ip, API);
  const toPort = await holdTcp(lab.run, b.ns, a.ip, 3000);
  const fromHost = await holdTcp(lab.run, lab.host, a.ip, 3000);
  t.teardown(() => [toApi, toPort, fromHost].forEach((h) => h.close()));
  for (const held of [toApi, toPort, fromHost]) t.equal(await held.check(), 'alive');

  await link('ws_a', []);
  t.not(await toApi.check(), 'alive', 'the runtime API connection is dead');
  t.not(await toPort.check(), 'alive', 'the ingress port connection is dead');
  t.equal(await fromHost.check(), 'alive', 'the host still has public_access on 3000');
  t.equal(await toA(b.ns, API), 'timeout', 'and no new one opens');
});

t.test('deleting a linked workspace: its recycled address inherits nothing', async (t) => {
  const [a, b] = [lab.ws('ws_a'), lab.ws('ws_b')];
  await link('ws_a', ['ws_b', 'ws_c']);
  const held = await holdTcp(lab.run, b.ns, a.ip, API);
  t.teardown(() => held.close());
  t.equal(await held.check(), 'alive');
  // No pause here: a retransmission from ws_a towards the deleted (still running) VM
  // would be picked up as a new connection, and the forward chain drops it, since no
  // workspace holds that address any more.

  await ok('DELETE', '/workspace/ws_b');
  const get = await network('ws_a');
  t.same(get.ingress, ['host', lab.ws('ws_c').ip], 'its address left the ingress');
  t.same(get.private_links.map((l: any) => l.id), ['ws_c']);
  t.notMatch(await lab.nft(['list', 'set', ...TABLE, 'link_src']), b.ip, 'and the kernel');
  t.not(await held.check(), 'alive', 'its open connection ended');

  // A new workspace gets ws_b's address and tap: the VM behind them is now ws_e.
  await put('ws_e', { ip: b.ip, gateway: b.gateway, interface: b.tap });
  t.equal(await toA(b.ns, API), 'timeout', 'the recycled address reaches nothing');
  t.not(await held.check(), 'alive', 'nor does the old connection');
  t.same((await network('ws_a')).private_links.map((l: any) => l.id), ['ws_c']);

  // ws_b comes back under its old id: the deleted link does not come back with it.
  await ok('DELETE', '/workspace/ws_e');
  await put('ws_b', lab.registration('ws_b', { name: 'agent-1' }));
  t.equal(await toA(b.ns, API), 'timeout', 'a deleted link stays deleted');
  t.same((await network('ws_a')).private_links.map((l: any) => l.id), ['ws_c']);
});

t.test('an address change moves the link; the old address inherits nothing', async (t) => {
  const [a, b, c] = ['ws_a', 'ws_b', 'ws_c'].map((id) => lab.ws(id));
  const moved = b.ip.replace(/\.2$/, '.3');
  await link('ws_a', ['ws_b']);
  const held = await holdTcp(lab.run, b.ns, a.ip, API);
  t.teardown(() => held.close());

  await addAddr(b.ns, 'eth0', `${moved}/32`);
  await put('ws_b', lab.registration('ws_b', { ip: moved }));
  t.same((await network('ws_a')).ingress, ['host', moved], 'ingress follows the address');
  t.not(await held.check(), 'alive', 'the connection from the old address ended');
  t.equal(await toA(b.ns, API, moved), 'connected', 'the new address is linked');
  t.equal(await toA(b.ns, API, b.ip), 'timeout', 'the old one is not');

  // ws_c moves onto ws_b's old address: it owns it now, and still gets nothing through.
  const seen = await watchArrivals(a.ns, b.ip);
  t.teardown(() => seen.remove());
  await addAddr(c.ns, 'eth0', `${b.ip}/32`);
  t.teardown(() => ip(c.ns, ['addr', 'del', `${b.ip}/32`, 'dev', 'eth0']));
  await put('ws_c', lab.registration('ws_c', { ip: b.ip }));
  t.equal(await toA(c.ns, API, b.ip), 'timeout');
  t.equal(await seen.packets(), 0, 'no packet from the old address reached ws_a');

  await put('ws_c', lab.registration('ws_c'));
  await put('ws_b', lab.registration('ws_b'));
  t.equal(await toA(b.ns, API), 'connected', 'moved back, the link follows again');
  await ip(b.ns, ['addr', 'del', `${moved}/32`, 'dev', 'eth0']);
});

t.test('a link to a workspace on another host follows its registration', async (t) => {
  const c = lab.ws('ws_c');
  const remote = { gateway: REMOTE.gateway, interface: null, name: 'orchestrator',
    image_logo: 'python', image_color: '#306998' };
  await put('ws_r', { ...remote, ip: REMOTE.first });
  t.equal(await toA(peer, API, REMOTE.first), 'timeout', 'dark before the link');

  const body = await link('ws_a', ['ws_r']);
  t.same(body.private_link_ids, ['ws_r']);
  t.strictSame(body.private_links, [{ id: 'ws_r', ip: REMOTE.first, name: 'orchestrator',
    image_logo: 'python', image_color: '#306998' }]);
  const reached = await tcp(peer, lab.ws('ws_a').ip, API, { source: REMOTE.first });
  t.equal(reached.result, 'connected');
  t.equal(reached.peerSaw, REMOTE.first);
  t.equal(await toA(peer, 80, REMOTE.first), 'timeout', 'only what a link opens');

  // A local workspace cannot borrow the remote workspace's address.
  await addAddr(c.ns, 'eth0', `${REMOTE.first}/32`);
  t.teardown(() => ip(c.ns, ['addr', 'del', `${REMOTE.first}/32`, 'dev', 'eth0']));
  t.equal(await toA(c.ns, API, REMOTE.first), 'timeout', 'forged from a local tap');

  await put('ws_r', { ...remote, ip: REMOTE.second });
  t.same((await network('ws_a')).ingress, ['host', REMOTE.second]);
  t.equal(await toA(peer, API, REMOTE.first), 'timeout', 'the old address lost the link');
  t.equal(await toA(peer, API, REMOTE.second), 'connected', 'the new address has it');

  await ok('DELETE', '/workspace/ws_r');
  t.same((await network('ws_a')).ingress, ['host']);
  t.equal(await toA(peer, API, REMOTE.second), 'timeout', 'deleted, nothing left');
});
