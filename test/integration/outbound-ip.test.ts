/**
 * Dedicated outbound IPs in the lab, with real connections: a workspace with a pool
 * address reaches the internet from that address, through its zone's next hop, while
 * the others keep the uplink's address; releasing or changing the address ends the
 * connections that left with the old one; every refusal leaves the kernel as it was.
 *
 * The DE zone's next hop sits on a link of its own (zl0 on the host, zr0 in the
 * internet), so the internet can tell by the arriving interface which hop delivered a
 * packet; the US zone's next hop, 198.18.0.254, shares the uplink with the default
 * gateway 198.18.0.1, and the host's neighbour table shows it was used.
 */
import t from 'tap';
import { createLab, Lab } from '../lab/lab';
import { addAddr, addVeth, ip, nsExec, sysctl } from '../lab/netns';
import { holdTcp, tcp, dns } from '../lab/probe';

const [S1, S2] = ['198.18.1.10', '198.18.2.10'];
const US = { ip: '198.18.0.50', country_code: 'US', host: '198.18.0.254' };
const DE = { ip: '198.18.0.51', country_code: 'DE', host: '198.18.5.1' };
const FR = { ip: '198.18.0.52', country_code: 'FR', host: null };
let lab: Lab;

const api = (method: string, path: string, body?: unknown) => lab.daemon!.api(method, path, body);

async function apply(id: string, addr: string) {
  const res = await api('POST', `/workspace/${id}/network/ip`, { ip: addr });
  if (res.status !== 200) throw new Error(`POST ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Everything the daemon may have programmed in the host: table, rules, routes. */
async function kernelState(): Promise<string> {
  const table = await lab.nft(['list', 'table', 'inet', 'workspace_netd']);
  const rules = (await ip(lab.host, ['rule', 'show'])).stdout;
  const routes = (await ip(lab.host, ['route', 'show', 'table', 'all'])).stdout;
  return [table, rules, routes].join('\n');
}

/** Packets to port 80 that reached the internet through each of its links. */
async function arrivals(): Promise<{ zr0: number; wan0: number }> {
  const count = async (name: string) => {
    const out = await nsExec(lab.internet, ['nft', '-j', 'list', 'counter', 'ip', 'obs', name]);
    const item = JSON.parse(out.stdout).nftables.find((x: { counter?: unknown }) => x.counter);
    return item.counter.packets as number;
  };
  return { zr0: await count('zr0'), wan0: await count('wan0') };
}

/** Probes S1:80 from `id` and says what the server saw and which link brought it. */
async function probe(id: string) {
  const before = await arrivals();
  const out = await tcp(lab.ws(id).ns, S1, 80);
  const after = await arrivals();
  return { ...out, zr0: after.zr0 - before.zr0, wan0: after.wan0 - before.wan0 };
}

t.before(async () => {
  lab = await createLab({ workspaces: ['ws_a', 'ws_b'] });
  await addVeth(lab.host, 'zl0', lab.internet, 'zr0');
  await addAddr(lab.host, 'zl0', '198.18.5.2/24');
  await addAddr(lab.internet, 'zr0', '198.18.5.1/24');
  // Packets from 198.18.0.51 arrive on zr0 while the way back to it is wan0.
  for (const scope of ['all', 'default', 'zr0', 'wan0']) {
    await sysctl(lab.internet, `net.ipv4.conf.${scope}.rp_filter`, 0);
  }
  const obs = [
    'add table ip obs',
    'add counter ip obs zr0', 'add counter ip obs wan0',
    'add chain ip obs pre { type filter hook prerouting priority -300; }',
    'add rule ip obs pre iifname "zr0" tcp dport 80 counter name "zr0"',
    'add rule ip obs pre iifname "wan0" tcp dport 80 counter name "wan0"',
  ];
  await nsExec(lab.internet, ['nft', obs.join('\n')]);

  await lab.startDaemon({ zones: [US, DE, FR] });
  for (const id of ['ws_a', 'ws_b']) {
    const res = await api('PUT', `/workspace/${id}`, lab.registration(id));
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  }
});
t.teardown(() => lab?.destroy());

t.test('GET /zone/mine lists the pool', async (t) => {
  const res = await api('GET', '/zone/mine');
  t.same(res.body, { success: true, proxies: [US, DE, FR].map(({ ip, country_code }) =>
    ({ ip, country_code })) });
});

t.test('before any address, both workspaces leave with the uplink address', async (t) => {
  for (const id of ['ws_a', 'ws_b']) {
    const out = await probe(id);
    t.equal(out.result, 'connected');
    t.equal(out.peerSaw, lab.uplinkIp);
    t.same([out.zr0, out.wan0 > 0], [0, true], 'through the default gateway');
  }
});

t.test('a pool address: that workspace leaves with it via the zone host', async (t) => {
  const started = performance.now();
  t.same(await apply('ws_a', DE.ip), { success: true, ip: DE.ip, country_code: 'DE' });
  t.comment(`POST .../network/ip took ${Math.round(performance.now() - started)} ms`);
  t.equal((await api('GET', '/workspace/ws_a/network')).body.outbound_ip, DE.ip);

  const a = await probe('ws_a');
  t.equal(a.result, 'connected');
  t.equal(a.peerSaw, DE.ip, 'the server sees the zone address');
  t.ok(a.zr0 > 0 && a.wan0 === 0, `arrived on the zone's link (zr0 ${a.zr0}, wan0 ${a.wan0})`);

  const b = await probe('ws_b');
  t.equal(b.peerSaw, lab.uplinkIp, 'another workspace keeps the uplink address');
  t.ok(b.zr0 === 0 && b.wan0 > 0, 'and the default gateway');

  t.match(await lab.nft(['list', 'map', 'inet', 'workspace_netd', 'outbound_ip']),
    /10\.0\.1\.2 : 198\.18\.0\.51/);
  t.match((await ip(lab.host, ['rule', 'show'])).stdout,
    /30500:\s+from all fwmark 0x7725 lookup 30501 proto 201/, 'one rule for the zone');
  t.match(await lab.nft(['list', 'map', 'inet', 'workspace_netd', 'outbound_mark']),
    /10\.0\.1\.2 : 0x00007725/);
  const chain = await lab.nft(['list', 'chain', 'inet', 'workspace_netd', 'postrouting']);
  t.match(chain, /ip daddr != 10\.0\.0\.0\/8 snat ip to ip saddr map @outbound_ip\n\t+oifname/,
    'nft reads the snat rule back as the golden file shows it, before the masquerade');
});

t.test('the workspace network and the gateway stay off the zone route', async (t) => {
  const [a, b] = [lab.ws('ws_a'), lab.ws('ws_b')];
  const patched = await api('PATCH', '/workspace/ws_b/network', {
    private_link_ids: ['ws_a'], ingress_ports: [80],
  });
  t.equal(patched.status, 200);
  const out = await tcp(a.ns, b.ip, 80);
  t.equal(out.result, 'connected', 'a linked workspace is reached directly (throw route)');
  t.equal(out.peerSaw, a.ip, 'and sees the private address, not a translated one');
  t.same(await dns(a.ns, a.gateway, 'server1.lab.test'), { ok: true, addresses: [S1] });
  await api('PATCH', '/workspace/ws_b/network', { private_link_ids: [], ingress_ports: [] });
});

t.test('a new address ends the connections that left with the old one', async (t) => {
  const held = await holdTcp(lab.run, lab.ws('ws_a').ns, S2, 80);
  t.teardown(() => held.close());
  t.equal(held.peerSaw, DE.ip);
  t.equal(await held.check(), 'alive');

  const neighbour = async () =>
    (await ip(lab.host, ['neigh', 'show', US.host, 'dev', lab.uplink])).stdout.trim();
  t.equal(await neighbour(), '', 'the US next hop was never used before');

  await apply('ws_a', US.ip);
  t.equal(await held.check(), 'reset', 'the connection translated to the DE address ended');
  const a = await probe('ws_a');
  t.equal(a.peerSaw, US.ip);
  t.ok(a.zr0 === 0 && a.wan0 > 0, 'not through the DE link any more');
  t.match(await neighbour(), /lladdr/, 'the host resolved the US next hop: it sent through it');
});

t.test('several workspaces share one pool address', async (t) => {
  await apply('ws_b', US.ip);
  t.equal((await probe('ws_a')).peerSaw, US.ip);
  t.equal((await probe('ws_b')).peerSaw, US.ip);
  t.equal((await api('DELETE', '/workspace/ws_b/network/ip')).status, 200);
  t.equal((await probe('ws_b')).peerSaw, lab.uplinkIp, 'released: back to the uplink');
  t.equal((await probe('ws_a')).peerSaw, US.ip, 'the other keeps the shared address');
});

t.test('a zone rule or table removed by hand is put back within seconds', async (t) => {
  await apply('ws_a', DE.ip);
  const rules = async () => (await ip(lab.host, ['rule', 'show'])).stdout;
  const zoneRoutes = async () =>
    (await ip(lab.host, ['route', 'show', 'table', '30501'])).stdout;
  const wantRoutes = await zoneRoutes();
  t.match(wantRoutes, /default via 198\.18\.5\.1/);

  const repaired = async (what: string) => {
    const started = performance.now();
    while (!/fwmark 0x7725/.test(await rules()) || (await zoneRoutes()) !== wantRoutes) {
      if (performance.now() - started > 8000) throw new Error(`${what}: not repaired in 8 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const ms = Math.round(performance.now() - started);
    t.comment(`${what}: repaired after ${ms} ms`);
    t.ok(ms < 5000, `${what}: back within seconds`);
  };

  await ip(lab.host, ['rule', 'del', 'priority', '30500']);
  t.notMatch(await rules(), /fwmark/);
  const stray = await probe('ws_a');
  // The audit may have run during the probe; only a probe sent without the rule counts.
  if (!/fwmark/.test(await rules())) {
    t.ok(stray.wan0 > 0 && stray.zr0 === 0, 'without the rule the zone link is not used');
  }
  await repaired('ip rule del');
  const a = await probe('ws_a');
  t.equal(a.peerSaw, DE.ip);
  t.ok(a.zr0 > 0 && a.wan0 === 0, 'leaves through the zone host again');

  await ip(lab.host, ['route', 'flush', 'table', '30501']);
  await repaired('ip route flush table 30501');
  const b = await probe('ws_a');
  t.ok(b.peerSaw === DE.ip && b.zr0 > 0 && b.wan0 === 0, 'and again after a flushed table');

  const logged = lab.daemon!.logRecords().filter((r) => r.msg === 'routes repaired');
  t.equal(logged.length, 2, 'each repair is logged with what it found');
  t.match(logged[0].differences, ['missing rule fwmark 30501 lookup 30501 priority 30500']);
  await apply('ws_a', US.ip);
});

t.test('every refusal answers its code and changes nothing in the kernel', async (t) => {
  const before = await kernelState();
  const cases: [string, string, unknown, string, number][] = [
    ['POST', '/workspace/ws_a/network/ip', {}, 'ip_required', 400],
    ['POST', '/workspace/ws_a/network/ip', { ip: '203.0.113.50' }, 'invalid_zone_ip', 400],
    ['POST', '/workspace/ws_a/network/ip', { ip: FR.ip }, 'zone_missing_host', 422],
    ['POST', '/workspace/ws_zz/network/ip', { ip: US.ip }, 'workspace_not_found', 404],
    ['DELETE', '/workspace/ws_zz/network/ip', undefined, 'workspace_not_found', 404],
    ['POST', '/workspace/ws_a/network/ip', { ip: 50 }, 'invalid_body', 400],
    ['POST', '/workspace/ws_a/network/ip', [US.ip], 'invalid_body', 400],
    ['POST', '/workspace/ws_a/network/ip', { ip: US.ip, country: 'US' }, 'unknown_field', 400],
    ['POST', '/workspace/nope/network/ip', { ip: US.ip }, 'invalid_workspace_id', 400],
  ];
  for (const [method, path, body, code, status] of cases) {
    const res = await api(method, path, body);
    t.same([res.status, res.body.error], [status, code], `${method} ${JSON.stringify(body)}`);
  }
  t.equal(await kernelState(), before, 'table, rules and routes identical');
  t.equal((await api('GET', '/workspace/ws_a/network')).body.outbound_ip, US.ip);
});

t.test('releasing ends what left with the zone address; the uplink takes over', async (t) => {
  const held = await holdTcp(lab.run, lab.ws('ws_a').ns, S2, 80);
  t.teardown(() => held.close());
  t.equal(held.peerSaw, US.ip);

  const res = await api('DELETE', '/workspace/ws_a/network/ip');
  t.same(res.body, { success: true, released: US.ip });
  t.equal(await held.check(), 'reset', 'the translated connection ended');
  t.equal((await probe('ws_a')).peerSaw, lab.uplinkIp);
  t.equal((await api('GET', '/workspace/ws_a/network')).body.outbound_ip, null);

  t.notMatch((await ip(lab.host, ['rule', 'show'])).stdout, /lookup 305/, 'no rule left');
  t.equal((await ip(lab.host, ['route', 'show', 'table', 'all', 'proto', '201'])).stdout, '',
    'no zone table left');
});

t.test('deleting a workspace takes its rule, and its zone table if it was the last', async (t) => {
  await apply('ws_b', DE.ip);
  t.match((await ip(lab.host, ['rule', 'show'])).stdout, /fwmark 0x7725 lookup 30501/);
  t.equal((await api('DELETE', '/workspace/ws_b')).status, 200);
  t.notMatch((await ip(lab.host, ['rule', 'show'])).stdout, /lookup 305/);
  t.equal((await ip(lab.host, ['route', 'show', 'table', 'all', 'proto', '201'])).stdout, '');
});

t.test('a restart removes the rules and routes the desired state no longer needs', async (t) => {
  await apply('ws_a', DE.ip);
  t.match((await ip(lab.host, ['rule', 'show'])).stdout, /lookup 30501/);
  await lab.daemon!.stop();
  t.match((await ip(lab.host, ['rule', 'show'])).stdout, /lookup 30501/, 'kept while stopped');

  // Without the pool, no stored address applies any more.
  await lab.startDaemon({ zones: [] });
  t.notMatch((await ip(lab.host, ['rule', 'show'])).stdout, /lookup 305/);
  t.equal((await ip(lab.host, ['route', 'show', 'table', 'all', 'proto', '201'])).stdout, '');
});

t.test('an empty pool answers pool_empty', async (t) => {
  await api('PUT', '/workspace/ws_a', lab.registration('ws_a'));
  const before = await kernelState();
  const res = await api('POST', '/workspace/ws_a/network/ip', { ip: US.ip });
  t.same([res.status, res.body.error], [503, 'pool_empty']);
  t.same((await api('GET', '/zone/mine')).body, { success: true, proxies: [] });
  t.equal(await kernelState(), before);
});
