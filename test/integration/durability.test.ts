/**
 * Durability in the lab: the rules outlive the daemon (kill -9, SIGTERM), a restart loses
 * no acknowledged change and rebuilds the same ruleset, other programs cannot change the
 * owned table, and without ownership (table_owner false) a changed or deleted table comes
 * back within a second. A foreign table in the same namespace is never touched.
 */
import t, { type Test } from 'tap';
import { createLab, type Lab } from '../lab/lab';
import { holdTcp, tcp, udp } from '../lab/probe';
import { closedTable } from '../../src/compile/closed';
import { NftSocket } from '../../src/nft/addon';
import { normalize } from '../support/render';
import { spawn } from 'node:child_process';
import { existsSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const TABLE = 'workspace_netd';
const S1 = '198.18.1.10';
let lab: Lab;

/** Prints each datagram received on the Unix socket argv[1], newlines as spaces. */
const NOTIFY_LISTENER = [
  'import socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.bind(sys.argv[1])',
  'while True: print(s.recv(4096).decode().replace("\\n", " "), flush=True)',
].join('\n');
let reader: NftSocket;

const api = (method: string, path: string, body?: unknown) => lab.daemon!.api(method, path, body);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `nft list table` of `name`, normalized, with its chains and sets in name order. */
async function listing(name = TABLE): Promise<string> {
  // Flags are checked apart: nft 1.0.6 prints owner, not persist (an orphan shows "flags").
  const text = normalize(await lab.nft(['list', 'table', 'inet', name]));
  const lines = text.split('\n').filter((line) => !/^flags\b/.test(line));
  const blocks: string[][] = [];
  let depth = 0;
  for (const line of lines.slice(1, -1)) {
    if (depth === 0) blocks.push([]);
    blocks[blocks.length - 1].push(line);
    depth += (line.endsWith('{') ? 1 : 0) - (line === '}' ? 1 : 0);
  }
  const body = blocks.map((b) => b.join('\n')).sort();
  return [lines[0], ...body, lines[lines.length - 1]].join('\n');
}

/** Polls `check` until it holds; returns the milliseconds it took, or throws. */
async function within(ms: number, what: string, check: () => Promise<boolean>) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
  return Date.now() - started;
}

/** The daemon's table as the kernel holds it, null when absent. */
const kernelTable = () => reader.listTable('inet', TABLE);

/** Another program's table, which the daemon must never touch. */
async function addForeignTable(): Promise<void> {
  await lab.nft(['add', 'table', 'inet', 'foreign']);
  await lab.nft(['add', 'chain', 'inet', 'foreign', 'watch',
    '{ type filter hook input priority 10; policy accept; }']);
  await lab.nft(['add', 'rule', 'inet', 'foreign', 'watch', 'tcp', 'dport', '4242', 'counter']);
}

async function register(ids: string[]): Promise<void> {
  for (const id of ids) {
    const res = await api('PUT', `/workspace/${id}`, lab.registration(id));
    if (res.status !== 200 && res.status !== 201) throw new Error(JSON.stringify(res.body));
  }
}

/** Still enforced: the host cannot reach ws_a (dark), ws_a reaches the internet. */
async function enforced(t: Test, when: string): Promise<void> {
  const a = lab.ws('ws_a');
  t.equal((await tcp(lab.host, a.ip, 80, { timeoutMs: 1000 })).result, 'timeout', `${when}: dark`);
  t.equal((await tcp(a.ns, S1, 80)).result, 'connected', `${when}: allowed out`);
}

t.before(async () => {
  lab = await createLab({ workspaces: ['ws_a', 'ws_b', 'ws_c'] });
  reader = NftSocket.open({ netns: `/run/netns/${lab.host}` });
  await addForeignTable();
  await lab.startDaemon();
  await register(['ws_a', 'ws_b', 'ws_c']);
});
t.teardown(async () => {
  reader?.close();
  await lab?.destroy();
});

t.test('the table is owned and persistent, and /healthz is 200 once it matches', async (t) => {
  t.same((await kernelTable())?.flags, { owner: true, persist: true });
  const res = await api('GET', '/healthz');
  t.equal(res.status, 200);
  t.match(res.body, { success: true, workspaces: 3 });
});

t.test('another program can neither change nor delete the owned table', async (t) => {
  const before = await listing();
  const refused = (args: string[]) => lab.nft(args).then(() => 'accepted', (e) => String(e));
  t.match(await refused(['add', 'chain', 'inet', TABLE, 'ws_x_out']), /Operation not permitted/);
  t.match(await refused(['flush', 'chain', 'inet', TABLE, 'forward']), /not permitted/);
  t.match(await refused(['delete', 'table', 'inet', TABLE]), /Operation not permitted/);
  // flush ruleset passes over an owned table; it removes only what is not owned.
  const foreign = await listing('foreign');
  t.equal(await refused(['flush', 'ruleset']), 'accepted');
  t.equal(await listing(), before);
  await addForeignTable();
  t.equal(await listing('foreign'), foreign, 'the foreign table is put back by the test');
  t.equal((await api('GET', '/healthz')).status, 200);
});

t.test('kill -9 leaves every rule enforced; a restart takes the same table back', async (t) => {
  const before = await listing();
  await lab.daemon!.kill9();
  t.same((await kernelTable())?.flags, { persist: true }, 'orphaned: persist, no owner');
  t.equal(await listing(), before, 'nothing changed in the kernel');
  await enforced(t, 'while down');

  await lab.daemon!.start();
  t.equal((await api('GET', '/healthz')).status, 200);
  t.same((await kernelTable())?.flags, { owner: true, persist: true }, 'owned again');
  t.equal(await listing(), before, 'the same ruleset');
  await enforced(t, 'after the restart');
});

t.test('SIGTERM leaves every rule enforced; restarts give the same ruleset', async (t) => {
  await api('PATCH', '/workspace/ws_b/network', {
    public_access: true, ingress_ports: [443], egress: ['198.18.2.0/24'], egress_ports: [80],
    private_link_ids: ['ws_a'],
  });
  const before = await listing();
  t.equal(await lab.daemon!.stop(), 0);
  t.equal(await listing(), before);
  await enforced(t, 'stopped');

  for (const round of [1, 2]) {
    await lab.daemon!.start();
    t.equal(await listing(), before, `restart ${round}: the same ruleset`);
    await lab.daemon!.stop();
  }
  await lab.daemon!.start();
});

t.test('systemd hears READY=1 once the table matches, STOPPING=1 at SIGTERM', async (t) => {
  // Node has no AF_UNIX datagram sockets, so python3 stands in for systemd's end.
  const path = join(lab.daemon!.dir, 'notify.sock');
  const heard: string[] = [];
  const listener = spawn('python3', ['-u', '-c', NOTIFY_LISTENER, path]);
  listener.stdout.on('data', (chunk: Buffer) => heard.push(...chunk.toString().split('\n')));
  t.teardown(() => listener.kill());
  await within(5000, 'the listener', async () => existsSync(path));

  await lab.daemon!.stop();
  process.env.NOTIFY_SOCKET = path;
  try {
    await lab.daemon!.start();
  } finally {
    delete process.env.NOTIFY_SOCKET;
  }
  await within(2000, 'READY=1', async () => heard.some((l) => l.startsWith('READY=1')));
  const order = lab.daemon!.logRecords().map((r) => r.msg);
  t.ok(order.lastIndexOf('table in place') < order.lastIndexOf('systemd told ready'));
  t.match(heard.find((l) => l.startsWith('READY=1')), /STATUS=enforcing 3 workspaces/);

  await lab.daemon!.stop();
  t.ok(heard.some((l) => l.startsWith('STOPPING=1')), 'STOPPING=1');
  await lab.daemon!.start();
});

t.test('kill -9 in a stream of changes loses no acknowledged change', async (t) => {
  const acked = new Map<string, number>();
  const pending = new Map<string, number>();
  const created: string[] = [];
  let running = true;

  // Each local workspace changes its ingress port in turn; remote ones are registered.
  const streams = ['ws_a', 'ws_b', 'ws_c'].map(async (id, k) => {
    for (let i = 0; running; i++) {
      const port = 2000 + k * 1000 + i;
      pending.set(id, port);
      const res = await api('PATCH', `/workspace/${id}/network`, { ingress_ports: [port] })
        .catch(() => null);
      if (res?.status !== 200) return;
      acked.set(id, port);
    }
  });
  const registrations = (async () => {
    for (let i = 1; running; i++) {
      const id = `ws_r${i}`;
      const body = { ip: `10.250.${i >> 8}.${(i & 255) + 1}`, gateway: '10.250.255.254',
        interface: null };
      const res = await api('PUT', `/workspace/${id}`, body).catch(() => null);
      if (res && res.status !== 201) {
        t.fail(`PUT ${id}: ${res.status} ${JSON.stringify(res.body)}`);
      }
      if (res?.status !== 201) return;
      created.push(id);
    }
  })();

  // Kill once every stream has made progress, at a moment no request waits for.
  const changes = () => [...acked.values()].map((port) => (port - 2000) % 1000 + 1);
  await within(60_000, 'progress', async () => created.length >= 8 && acked.size === 3 &&
    changes().every((n) => n >= 3));
  await sleep(Math.random() * 50);
  await lab.daemon!.kill9();
  running = false;
  await Promise.all([...streams, registrations]);
  t.comment(`acknowledged: ${created.length} registrations, ${changes().join('+')} changes`);

  await lab.daemon!.start();
  t.equal((await api('GET', '/healthz')).status, 200);
  const ids = new Set((await api('GET', '/workspaces')).body.workspaces.map((w: any) => w.id));
  t.same(created.filter((id) => !ids.has(id)), [], 'every acknowledged registration is there');

  const inPort = await lab.nft(['list', 'set', 'inet', TABLE, 'in_port']);
  for (const [id, port] of acked) {
    const ports = (await api('GET', `/workspace/${id}/network`)).body.ingress_ports;
    const allowed = [port, pending.get(id)];
    t.ok(ports.length === 1 && allowed.includes(ports[0]), `${id}: ${ports} in ${allowed}`);
    t.match(inPort, `"${lab.ws(id).tap}" . tcp . ${ports[0]}`, `${id}: in the kernel`);
    t.notMatch(inPort, new RegExp(`"${lab.ws(id).tap}" \\. tcp \\. (?!${ports[0]}\\b)\\d+`),
      `${id}: nothing else in the kernel`);
  }
});

t.test('a table deleted while the daemon was down comes back at start', async (t) => {
  const before = await listing();
  await lab.daemon!.kill9();
  await lab.nft(['delete', 'table', 'inet', TABLE]);
  const a = lab.ws('ws_a');
  t.equal((await tcp(lab.host, a.ip, 80)).result, 'connected', 'open without the table');

  await lab.daemon!.start();
  t.equal(await listing(), before);
  await enforced(t, 'after the start');
  t.ok(lab.daemon!.logRecords().some((r) => r.msg === 'table missing: closed until rebuilt'),
    'the start closed the missing table before its rebuild');
});

t.test('the closed table cuts every workspace off until the rebuild replaces it', async (t) => {
  const before = await listing();
  await lab.daemon!.kill9();
  await lab.nft(['delete', 'table', 'inet', TABLE]);
  const [a, b] = [lab.ws('ws_a'), lab.ws('ws_b')];
  // What a start or a repair commits first when the table is missing (ownerless here,
  // so that the daemon's start below replaces it as it would its own orphan).
  const layout = { table: TABLE, uplink: lab.uplink, workspaceNet: { net: '10.0.0.0', len: 8 } };
  const closed = closedTable(layout, lab.workspaces.map((w) => w.tap));
  t.same(await reader.commit(closed), { ok: true });
  const dark = async (from: string, to: string, what: string) =>
    t.equal((await tcp(from, to, 80, { timeoutMs: 1000 })).result, 'timeout', what);
  await dark(a.ns, S1, 'a workspace cannot reach the internet');
  await dark(b.ns, a.ip, 'nor another workspace');
  await dark(lab.host, a.ip, 'nor the host it');
  t.equal((await udp(a.ns, a.gateway, 53, { timeoutMs: 1000 })).result, 'timeout',
    'nor its gateway\'s DNS');

  const closings = () => lab.daemon!.logRecords()
    .filter((r) => r.msg === 'table missing: closed until rebuilt').length;
  const earlier = closings();
  await lab.daemon!.start();
  t.equal(await listing(), before, 'the start replaced it with the full table');
  await enforced(t, 'after the start');
  t.equal(closings(), earlier, 'a table that exists is not closed again');
});

t.test('a start that fails over a missing table leaves it closed, not open', async (t) => {
  const before = await listing();
  await lab.daemon!.kill9();
  await lab.nft(['delete', 'table', 'inet', TABLE]);
  // A state the daemon refuses to read (README: Durability, Files), as after a bad edit.
  const link = join(lab.daemon!.stateDir, 'stray');
  symlinkSync('/etc/hostname', link);
  t.teardown(() => rmSync(link, { force: true }));

  await t.rejects(lab.daemon!.start(), /exited/);
  t.match(lab.daemon!.logTail(), /is a symbolic link/);
  t.match(lab.daemon!.logTail(), /the closed table cuts every workspace off/);
  t.ok(await kernelTable(), 'a table is in place');
  const [a, b] = [lab.ws('ws_a'), lab.ws('ws_b')];
  for (const [from, to, what] of [[a.ns, S1, 'ws_a to the internet'],
    [b.ns, a.ip, 'ws_b to ws_a'], [lab.host, a.ip, 'the host to ws_a']]) {
    t.equal((await tcp(from, to, 80, { timeoutMs: 1000 })).result, 'timeout', `${what}: dark`);
  }

  rmSync(link);
  await lab.daemon!.start();
  t.equal(await listing(), before, 'a start that succeeds puts the full table back');
  await enforced(t, 'after the start');
});

t.test('a connection opened while the table was missing ends at start', async (t) => {
  // A host firewall that uses conntrack keeps it tracking while the daemon's table is gone.
  await lab.nft(['add', 'table', 'ip', 'hostfw']);
  await lab.nft(['add', 'chain', 'ip', 'hostfw', 'fw',
    '{ type filter hook forward priority 10; policy accept; }']);
  await lab.nft(['add', 'rule', 'ip', 'hostfw', 'fw', 'ct', 'state', 'new', 'counter']);
  t.teardown(() => lab.nft(['delete', 'table', 'ip', 'hostfw']));

  await lab.daemon!.kill9();
  await lab.nft(['delete', 'table', 'inet', TABLE]);
  const [a, b] = [lab.ws('ws_a'), lab.ws('ws_b')];
  // ws_b has no link to ws_a: only the missing table lets this connection open.
  const held = await holdTcp(lab.run, b.ns, a.ip, 80);
  t.teardown(() => held.close());
  t.equal(await held.check(1000), 'alive', 'open while the table is missing');

  await lab.daemon!.start();
  for (let i = 0; i < 100 && (await api('GET', '/healthz')).status !== 200; i++) await sleep(50);
  t.equal(await held.check(1000), 'timeout', 'ended once the table is back');
  t.equal((await tcp(b.ns, a.ip, 80, { timeoutMs: 1000 })).result, 'timeout', 'and stays dark');
  t.ok(lab.daemon!.logs.some((l) => /connections the policy refuses ended/.test(l)), 'logged');
});

t.test('a daemon does not start over a table another process owns', async (t) => {
  await lab.daemon!.stop();
  const thief = NftSocket.open({ netns: `/run/netns/${lab.host}` });
  // The kernel refuses to clear persist on the way (EOPNOTSUPP): a take-over keeps it.
  const taken = await thief.commit([
    { op: 'add', kind: 'table', family: 'inet', name: TABLE,
      flags: { owner: true, persist: true } },
  ]);
  t.same(taken, { ok: true }, 'an orphaned table can be taken over');

  await t.rejects(lab.daemon!.start(), /exited/);
  t.match(lab.daemon!.logTail(), /Operation not permitted/);
  thief.close();
  await lab.daemon!.start();
  t.equal((await api('GET', '/healthz')).status, 200);
});

t.test('without ownership, a changed or deleted table comes back within a second', async (t) => {
  await lab.daemon!.stop();
  await lab.startDaemon({ table_owner: false });
  await register(['ws_a', 'ws_b', 'ws_c']);
  t.same((await kernelTable())?.flags, {});
  const want = await listing();
  const foreign = await listing('foreign');

  const breaks: [string, string[]][] = [
    ['delete table', ['delete', 'table', 'inet', TABLE]],
    ['flush chain', ['flush', 'chain', 'inet', TABLE, 'forward']],
    ['delete element', ['delete', 'element', 'inet', TABLE, 'ifaces',
      `{ "${lab.ws('ws_c').tap}" }`]],
    ['add rule', ['insert', 'rule', 'inet', TABLE, 'input', 'accept']],
    ['add chain', ['add', 'chain', 'inet', TABLE, 'extra']],
  ];
  for (const [what, args] of breaks) {
    await lab.nft(args);
    const ms = await within(1000, what, async () => (await listing().catch(() => '')) === want);
    t.pass(`${what}: repaired in ${ms} ms`);
  }
  t.equal(await listing('foreign'), foreign, 'the foreign table is untouched');
  await enforced(t, 'after the repairs');

  const repaired = lab.daemon!.logRecords().filter((r) => r.msg === 'table repaired');
  t.equal(repaired.length, breaks.length, 'each repair is logged');
  t.match(repaired[0], { differences: [`table inet ${TABLE} is missing`] });
});

t.test('flush ruleset: the daemon restores its table, not the foreign one', async (t) => {
  const want = await listing();
  await lab.nft(['flush', 'ruleset']);
  const ms = await within(1000, 'flush ruleset', async () => (await listing().catch(() => ''))
    === want);
  t.pass(`repaired in ${ms} ms`);
  await t.rejects(listing('foreign'), /No such file|does not exist/, 'gone, as nft was told');
});

t.test('/healthz is 503 while another process holds the table, 200 once back', async (t) => {
  const want = await listing();
  const thief = NftSocket.open({ netns: `/run/netns/${lab.host}` });
  t.teardown(() => thief.close());
  const taken = await thief.commit([
    { op: 'delete', kind: 'table', family: 'inet', name: TABLE },
    { op: 'create', kind: 'table', family: 'inet', name: TABLE, flags: { owner: true } },
  ]);
  t.same(taken, { ok: true });

  await within(1000, '503', async () => (await api('GET', '/healthz')).status === 503);
  const refused = async () =>
    lab.daemon!.logRecords().some((r) => r.msg === 'table repair failed');
  await within(2000, 'a refused repair', refused);
  t.match((await api('GET', '/healthz')).body, { error: 'not_ready' }, 'still 503');

  thief.close();
  const healthy = async () => (await api('GET', '/healthz')).status === 200;
  const ms = await within(10_000, '200', healthy);
  t.pass(`200 again ${ms} ms after the other process let go`);
  t.equal(await listing(), want);
});
