/**
 * What the kernel enforces, proven with real connections in a lab of network namespaces:
 * each rule of the contract's "What the kernel enforces" that this daemon owns today.
 */
import t from 'tap';
import { createLab, Lab } from '../lab/lab';
import { tcp, udp, dns, holdTcp } from '../lab/probe';
import { startDaemon } from '../lab/daemon';
import { NftSocket } from '../../src/nft/addon';

let lab: Lab;
const T = 'workspace_netd';
const [S1, S2] = ['198.18.1.10', '198.18.2.10'];

async function api(method: string, path: string, body?: unknown) {
  return lab.daemon!.api(method, path, body);
}

async function patch(id: string, body: unknown) {
  const res = await api('PATCH', `/workspace/${id}/network`, body);
  if (res.status !== 200) throw new Error(`PATCH ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

t.before(async () => {
  lab = await createLab({ workspaces: ['ws_a', 'ws_b', 'ws_c'] });
  await lab.startDaemon();
  for (const id of ['ws_a', 'ws_b', 'ws_c']) {
    const res = await api('PUT', `/workspace/${id}`, lab.registration(id));
    if (res.status !== 200 && res.status !== 201) throw new Error(JSON.stringify(res.body));
  }
});
t.teardown(() => lab?.destroy());

t.test('a new workspace reaches the internet and leaves with the uplink address', async (t) => {
  const a = lab.ws('ws_a');
  const out = await tcp(a.ns, S1, 80);
  t.equal(out.result, 'connected');
  t.equal(out.peerSaw, lab.uplinkIp, 'masqueraded: the internet has no route to workspaces');
});

t.test('a workspace is dark by default, to the host and to other workspaces', async (t) => {
  const a = lab.ws('ws_a');
  t.equal((await tcp(lab.host, a.ip, 80)).result, 'timeout', 'host -> workspace');
  t.equal((await tcp(lab.ws('ws_b').ns, a.ip, 80)).result, 'timeout', 'workspace -> workspace');
  t.equal((await tcp(lab.internet, a.ip, 80)).result, 'unreachable', 'no route from outside');
});

t.test('public_access opens the ingress ports to the host, and only to it', async (t) => {
  const a = lab.ws('ws_a');
  const body = await patch('ws_a', { public_access: true, ingress_ports: [80, 443] });
  t.same(body.ingress, ['host']);
  t.equal((await tcp(lab.host, a.ip, 80)).result, 'connected');
  t.equal((await tcp(lab.host, a.ip, 443)).result, 'connected');
  t.equal((await tcp(lab.host, a.ip, 3000)).result, 'timeout', 'a port not listed');
  t.equal((await tcp(lab.ws('ws_b').ns, a.ip, 80)).result, 'timeout', 'not for workspaces');

  await patch('ws_a', { public_access: false });
  t.equal((await tcp(lab.host, a.ip, 80)).result, 'timeout', 'dark again, ports kept');
});

t.test('egress CIDRs and ports: the rest is refused with a reset', async (t) => {
  const a = lab.ws('ws_a');
  await patch('ws_a', { egress: ['198.18.1.0/24'], egress_ports: [80, 5000] });
  t.equal((await tcp(a.ns, S1, 80)).result, 'connected');
  t.equal((await tcp(a.ns, S1, 443)).result, 'reset', 'port not listed');
  t.equal((await tcp(a.ns, S2, 80)).result, 'reset', 'address not listed');
  t.equal((await udp(a.ns, S1, 5000)).result, 'answered', 'udp on a listed port');
  t.equal((await udp(a.ns, S1, 7)).result, 'unreachable', 'udp refused with ICMP');

  await patch('ws_a', { egress: [], egress_ports: [] });
  t.equal((await tcp(a.ns, S2, 443)).result, 'connected', 'empty lists allow everything');
});

t.test('allow_internet false refuses everything outside and clears egress', async (t) => {
  const b = lab.ws('ws_b');
  await patch('ws_b', { egress: ['198.18.2.0/24'] });
  const body = await patch('ws_b', { allow_internet: false });
  t.same(body.egress, []);
  t.equal((await tcp(b.ns, S1, 80)).result, 'reset');
  t.equal((await tcp(b.ns, S2, 80)).result, 'reset');
  t.notOk((await dns(b.ns, b.gateway, 'server1.lab.test')).ok, 'no DNS without internet');

  await patch('ws_b', { allow_internet: true });
  t.equal((await tcp(b.ns, S2, 80)).result, 'connected', 'egress stayed cleared');
});

t.test('of the host, a workspace reaches DNS on its own gateway and nothing else', async (t) => {
  const b = lab.ws('ws_b');
  const answer = await dns(b.ns, b.gateway, 'server1.lab.test');
  t.same(answer, { ok: true, addresses: [S1] });
  t.equal((await tcp(b.ns, b.gateway, 22)).result, 'timeout', 'ssh on the gateway');
  t.equal((await tcp(b.ns, b.gateway, 8080)).result, 'timeout', 'another host service');
  t.equal((await tcp(b.ns, lab.uplinkIp, 22)).result, 'timeout', 'the uplink address');
  t.notOk((await dns(b.ns, lab.ws('ws_a').gateway, 'server1.lab.test')).ok, 'another gateway');
});

t.test('a packet with a forged source address is dropped', async (t) => {
  const c = lab.ws('ws_c');
  t.equal((await tcp(c.ns, S1, 80)).result, 'connected', 'its own address passes');
  t.equal((await tcp(c.ns, S1, 80, { source: c.spoofIp })).result, 'timeout');
});

t.test('IPv6 from a workspace is dropped', async (t) => {
  const c = lab.ws('ws_c');
  t.equal((await tcp(c.ns, c.gateway6, 22)).result, 'timeout');
});

t.test('a change that tightens a policy ends the connections it no longer allows', async (t) => {
  const c = lab.ws('ws_c');
  const doomed = await holdTcp(lab.run, c.ns, S1, 80);
  const kept = await holdTcp(lab.run, c.ns, S2, 80);
  t.teardown(() => (doomed.close(), kept.close()));
  t.equal(await doomed.check(), 'alive');
  t.equal(await kept.check(), 'alive');

  await patch('ws_c', { egress: ['198.18.2.0/24'] });
  t.equal(await doomed.check(), 'reset', 'the disallowed connection is reset');
  t.equal(await kept.check(), 'alive', 'the allowed one carries on');
  const listed = ['conntrack listed instead of looked up',
    'conntrack events unavailable; narrowing changes list conntrack'];
  t.same(lab.daemon!.logRecords().filter((r) => listed.includes(r.msg as string)), [],
    'found in the table kept from conntrack events, not in a listing');
});

t.test('a change that only widens keeps every connection and lists no conntrack',
  async (t) => {
    const c = lab.ws('ws_c');
    const kept = await holdTcp(lab.run, c.ns, S2, 80);
    t.teardown(() => kept.close());

    const wider = { egress: ['198.18.2.0/24', '198.18.1.0/24'], ingress_ports: [8080] };
    t.equal(await conntrackAfter('ws_c', wider), 'skipped', 'nothing to end: not listed');
    t.equal(await kept.check(), 'alive', 'the connection carries on');

    const doomed = await holdTcp(lab.run, c.ns, S1, 80);
    t.teardown(() => doomed.close());
    const narrower = { egress: ['198.18.2.0/24'] };
    t.equal(await conntrackAfter('ws_c', narrower), 'listed', 'a narrowing change lists');
    t.equal(await doomed.check(), 'reset', 'and ends what it no longer allows');
    t.equal(await kept.check(), 'alive', 'but not what it still allows');
  });

/** PATCHes `id` and returns the `conntrack` field of the 'policy applied' line it logged. */
async function conntrackAfter(id: string, body: unknown): Promise<unknown> {
  const applied = () => lab.daemon!.logRecords().filter((r) => r.msg === 'policy applied' &&
    Array.isArray(r.workspaces) && r.workspaces.includes(id));
  const seen = applied().length;
  await patch(id, body);
  for (let i = 0; i < 40 && applied().length === seen; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return applied()[seen]?.conntrack;
}

t.test('a refused request changes nothing in the kernel', async (t) => {
  const before = await lab.nft(['list', 'table', 'inet', 'workspace_netd']);
  const res = await api('PATCH', '/workspace/ws_a/network', { ingress_ports: [80, 70000] });
  t.equal(res.status, 400);
  t.equal(res.body.error, 'invalid_port');
  t.equal(await lab.nft(['list', 'table', 'inet', 'workspace_netd']), before);
});

t.test('a transaction the kernel refuses names the operation and changes nothing', async (t) => {
  // The daemon owns its table (NFT_TABLE_F_OWNER): while it runs no other program can put
  // an object where the daemon's would go, and its changes are never refused that way.
  // With table_owner false (for kernels before 6.9, where an owned table would vanish
  // with the daemon) another process can take the table; the kernel then refuses
  // the daemon's next transaction (EPERM), which must name its operation and change
  // nothing. The restarted daemon keeps the same state; the lab uses it from here on.
  const owned = lab.daemon!;
  await owned.stop();
  lab.daemon = await startDaemon(lab.run, { ns: lab.host, uplink: lab.uplink,
    config: { table_owner: false, state_dir: owned.stateDir } });
  const thief = NftSocket.open({ netns: `/run/netns/${lab.host}` });
  t.teardown(() => thief.close());
  const taken = await thief.commit([
    { op: 'delete', kind: 'table', family: 'inet', name: T },
    { op: 'create', kind: 'table', family: 'inet', name: T, flags: { owner: true } },
  ]);
  t.same(taken, { ok: true }, 'another process replaces the table with one it owns');

  const before = await lab.nft(['list', 'table', 'inet', T]);
  const res = await api('PUT', '/workspace/ws_d', {
    ip: '10.0.99.2', gateway: '10.0.99.1', interface: 't-absent',
  });
  t.equal(res.status, 500);
  t.equal(res.body.error, 'kernel_refused');
  t.match(res.body.message, /create chain ws_d_out/);
  t.match(res.body.message, /not permitted/i);
  t.equal(await lab.nft(['list', 'table', 'inet', T]), before);
  t.equal((await api('GET', '/workspace/ws_d/network')).status, 404, 'not stored either');

  // Once the other process lets go, the daemon takes its table back (README: Durability).
  thief.close();
  for (let i = 0; (await api('GET', '/healthz')).status !== 200; i++) {
    if (i > 100) throw new Error('the daemon did not take its table back');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

t.test('SIGTERM stops the daemon and leaves every rule in place', async (t) => {
  const a = lab.ws('ws_a');
  const before = await lab.nft(['list', 'table', 'inet', 'workspace_netd']);
  await lab.daemon!.stop();
  t.equal(await lab.nft(['list', 'table', 'inet', 'workspace_netd']), before);
  t.equal((await tcp(lab.host, a.ip, 80)).result, 'timeout', 'still dark');
  t.equal((await tcp(a.ns, S1, 80)).result, 'connected', 'still allowed out');
});
