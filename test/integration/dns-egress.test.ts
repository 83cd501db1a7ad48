/**
 * Egress by hostname, proven in the lab: the daemon answers DNS on each workspace's
 * gateway and forwards to a dnsmasq standing for the host's resolver (127.0.0.2, TTL 1 s,
 * every query logged). Allowed names resolve and connect at once, other names are refused
 * without reaching the resolver, a changed answer is followed within its TTL, rebinding
 * answers open nothing, and without the internet there is no DNS at all.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, type Lab } from '../lab/lab';
import { addAddr, nsExec } from '../lab/netns';
import { holdTcp, tcp } from '../lab/probe';
import { upstreamDns, waitReady, type Server } from '../lab/servers';

let lab: Lab;
let upstream: Server;
const dir = mkdtempSync(join(tmpdir(), 'netd-dns-'));
const hostsFile = join(dir, 'hosts');
const logFile = join(dir, 'queries.log');

// Public-looking addresses inside the lab's internet namespace: the lab's own servers sit in
// 198.18.0.0/15, a reserved range that an answer may never open.
const P1 = '93.184.216.34';
const P2 = '93.184.216.35';
/** An address of the host itself that is in no reserved range. */
const HOST_OWN = '93.184.216.99';
const UPSTREAM = '127.0.0.2';

const records: Record<string, string> = {
  'allowed.pub.test': P1,
  'edge.cdn.test': P1,
  'moving.pub.test': P1,
  'other.pub.test': P2,
  'rebind-loop.pub.test': '127.0.0.1',
  'rebind-ws.pub.test': '10.0.1.2',
  'rebind-host.pub.test': HOST_OWN,
  'rebind-bench.pub.test': '198.18.1.10',
  'mixed.pub.test': P2,
};

function writeHosts(): void {
  const lines = Object.entries(records).map(([name, addr]) => `${addr} ${name}`);
  writeFileSync(hostsFile, [...lines, '127.0.0.1 mixed.pub.test', ''].join('\n'));
}

/** A dig answer: status, A records, CNAME targets. */
interface Dig {
  status: string;
  addresses: string[];
  cnames: string[];
}

async function dig(ns: string, server: string, name: string, tcpMode = false): Promise<Dig> {
  const argv = ['dig', `@${server}`, name, 'A', '+tries=1', '+time=1', '+noall', '+answer',
    '+comments', ...(tcpMode ? ['+tcp'] : [])];
  const res = await nsExec(ns, argv, { check: false, timeoutMs: 8000 });
  const out = res.stdout + res.stderr;
  const status = /status: (\w+)/.exec(out)?.[1] ?? (/timed out|no servers/.test(out)
    ? 'timeout' : `exit ${res.code}`);
  const rows = out.split('\n').filter((l) => !l.startsWith(';')).map((l) => l.trim().split(/\s+/));
  return {
    status,
    addresses: rows.filter((f) => f[3] === 'A').map((f) => f[4]),
    cnames: rows.filter((f) => f[3] === 'CNAME').map((f) => f[4]),
  };
}

async function patch(id: string, body: unknown) {
  const res = await lab.daemon!.api('PATCH', `/workspace/${id}/network`, body);
  if (res.status !== 200) throw new Error(`PATCH ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The addresses egress_learned holds for a workspace's tap. */
async function learned(id: string): Promise<string[]> {
  const text = await lab.nft(['list', 'set', 'inet', 'workspace_netd', 'egress_learned']);
  const tap = lab.ws(id).tap;
  return [...text.matchAll(new RegExp(`"${tap}" \\. ([0-9.]+)`, 'g'))].map((m) => m[1]);
}

function upstreamSaw(name: string): boolean {
  return readFileSync(logFile, 'utf8').includes(` ${name} `);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.before(async () => {
  lab = await createLab({ workspaces: ['ws_a', 'ws_b', 'ws_c'] });
  for (const addr of [P1, P2]) await addAddr(lab.internet, 'lo', `${addr}/32`);
  await addAddr(lab.host, 'lo', `${HOST_OWN}/32`);

  writeHosts();
  upstream = upstreamDns(lab.run, lab.host, {
    listen: UPSTREAM, hostsFile, logFile, ttl: 1, cnames: [['www.pub.test', 'edge.cdn.test']],
  });
  await waitReady([{ server: upstream, proto: 'udp', port: 53, addr: UPSTREAM }]);

  await lab.startDaemon({ dns: { upstream: [UPSTREAM], grace_s: 2 } });
  for (const id of ['ws_a', 'ws_b', 'ws_c']) {
    const res = await lab.daemon!.api('PUT', `/workspace/${id}`, lab.registration(id));
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  }
});
t.teardown(async () => {
  await lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

t.test('with an empty egress list every name resolves, through the daemon', async (t) => {
  const b = lab.ws('ws_b');
  t.same(await dig(b.ns, b.gateway, 'other.pub.test'), { status: 'NOERROR', addresses: [P2],
    cnames: [] });
  t.ok(upstreamSaw('other.pub.test'), 'forwarded to the upstream');
  t.same(await learned('ws_b'), [], 'nothing is learned: every address is open anyway');
});

t.test('allowed names resolve and their first connection passes', async (t) => {
  const a = lab.ws('ws_a');
  const body = await patch('ws_a', { egress: ['Allowed.PUB.test.', 'www.pub.test'] });
  t.same(body.egress, ['allowed.pub.test', 'www.pub.test'], 'names as stored');

  const answer = await dig(a.ns, a.gateway, 'allowed.pub.test');
  t.same(answer.addresses, [P1]);
  t.equal((await tcp(a.ns, P1, 80)).result, 'connected', 'the first connection passes');
  t.ok((await learned('ws_a')).includes(P1), 'learned for its tap');

  const viaAlias = await dig(a.ns, a.gateway, 'www.pub.test');
  t.same([viaAlias.cnames, viaAlias.addresses], [['edge.cdn.test.'], [P1]], 'CNAME chain');
  t.same((await dig(a.ns, a.gateway, 'edge.cdn.test')).addresses, [P1], 'an alias by itself');
  t.equal((await tcp(a.ns, P2, 80)).result, 'reset', 'an address no allowed name gave');
});

t.test('other names are REFUSED and never reach the upstream', async (t) => {
  const a = lab.ws('ws_a');
  for (const name of ['secret-payload-1.exfil.test', 'other.pub.test', 'pub.test']) {
    t.equal((await dig(a.ns, a.gateway, name)).status, 'REFUSED', name);
  }
  t.equal((await dig(a.ns, a.gateway, 'secret-payload-2.exfil.test', true)).status, 'REFUSED');
  await sleep(300);
  t.notOk(upstreamSaw('secret-payload-1.exfil.test'), 'the refused name never left the host');
  t.notOk(upstreamSaw('secret-payload-2.exfil.test'), 'nor over TCP');
  t.ok(upstreamSaw('allowed.pub.test'), 'the log does record what was forwarded');
});

t.test('DNS over TCP works like UDP', async (t) => {
  const a = lab.ws('ws_a');
  t.same((await dig(a.ns, a.gateway, 'allowed.pub.test', true)).addresses, [P1]);
  const c = lab.ws('ws_c');
  t.same((await dig(c.ns, c.gateway, 'other.pub.test', true)).addresses, [P2], 'open list');
});

t.test('an answer that changes is followed within its TTL of 1 s', async (t) => {
  const c = lab.ws('ws_c');
  await patch('ws_c', { egress: ['moving.pub.test'] });
  t.same((await dig(c.ns, c.gateway, 'moving.pub.test')).addresses, [P1]);
  t.equal((await tcp(c.ns, P1, 80)).result, 'connected');
  t.equal((await tcp(c.ns, P2, 80, { timeoutMs: 500 })).result, 'reset', 'not yet');

  records['moving.pub.test'] = P2;
  writeHosts();
  upstream.child.kill('SIGHUP');
  const changed = Date.now();

  // Without asking again: the daemon's own refresh opens the new address.
  let result = '';
  while (Date.now() - changed < 5000) {
    result = (await tcp(c.ns, P2, 80, { timeoutMs: 500 })).result;
    if (result === 'connected') break;
    await sleep(100);
  }
  const ms = Date.now() - changed;
  t.equal(result, 'connected', `the new address opened after ${ms} ms`);
  t.ok(ms < 2500, `within the TTL and one refresh (${ms} ms)`);
  t.same((await dig(c.ns, c.gateway, 'moving.pub.test')).addresses, [P2], 'and is answered');
});

t.test('an old address stays open while a connection to it is, then closes', async (t) => {
  const c = lab.ws('ws_c');
  records['moving.pub.test'] = P1;
  writeHosts();
  upstream.child.kill('SIGHUP');
  await dig(c.ns, c.gateway, 'moving.pub.test');
  const held = await holdTcp(lab.run, c.ns, P1, 80);

  records['moving.pub.test'] = P2;
  writeHosts();
  upstream.child.kill('SIGHUP');
  await sleep(6000); // past TTL 1 s + grace 2 s, and sweeps of the open connections
  t.ok((await learned('ws_c')).includes(P1), 'kept: a connection is open');
  await patch('ws_c', { ingress_ports: [3000] });
  t.equal(await held.check(), 'alive', 'a change of policy does not end it');

  // Once the connection is gone the keep-alive (3 sweeps of 5 s) runs out.
  held.close();
  const closed = Date.now();
  while ((await learned('ws_c')).includes(P1) && Date.now() - closed < 25_000) await sleep(500);
  const ms = Date.now() - closed;
  t.notOk((await learned('ws_c')).includes(P1), `gone ${ms} ms after the connection closed`);
  const after = (await tcp(c.ns, P1, 80)).result;
  // Seen once in CI (1 run of 4): gone after 41 ms, yet connected. Keep what shows why.
  if (after !== 'reset') {
    t.comment(`learned now: ${await learned('ws_c')}\n${lab.daemon!.logTail(40)}`);
  }
  t.equal(after, 'reset');
});

t.test('rebinding answers open nothing and are withheld', async (t) => {
  const b = lab.ws('ws_b');
  const names = ['rebind-loop', 'rebind-ws', 'rebind-host', 'rebind-bench'].map((n) =>
    `${n}.pub.test`);
  await patch('ws_b', { egress: [...names, 'mixed.pub.test'] });
  for (const name of names) {
    t.same(await dig(b.ns, b.gateway, name), { status: 'NOERROR', addresses: [], cnames: [] },
      name);
  }
  const mixed = await dig(b.ns, b.gateway, 'mixed.pub.test');
  t.same(mixed.addresses, [P2], 'the public address of a mixed answer stays');
  t.same(await learned('ws_b'), [P2], 'only the public address was learned');
  t.equal((await tcp(b.ns, '198.18.1.10', 80)).result, 'reset', 'a reserved address');
});

t.test('a name taken off the list is refused and its addresses withdrawn', async (t) => {
  const a = lab.ws('ws_a');
  const held = await holdTcp(lab.run, a.ns, P1, 80);
  await patch('ws_a', { egress: ['198.18.3.10'] });
  t.equal((await dig(a.ns, a.gateway, 'allowed.pub.test')).status, 'REFUSED', 'only CIDRs');
  t.same(await learned('ws_a'), [], 'withdrawn at once');
  t.not(await held.check(), 'alive', 'its connection ended');
  t.equal((await tcp(a.ns, P1, 80)).result, 'reset');
  held.close();
});

t.test('no DNS at all without the internet', async (t) => {
  const b = lab.ws('ws_b');
  await patch('ws_b', { allow_internet: false });
  t.equal((await dig(b.ns, b.gateway, 'other.pub.test')).status, 'timeout', 'udp');
  t.equal((await dig(b.ns, b.gateway, 'other.pub.test', true)).status, 'timeout', 'tcp');
  t.same(await learned('ws_b'), [], 'its learned addresses are withdrawn');
});
