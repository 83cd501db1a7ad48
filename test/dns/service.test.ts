/**
 * The DNS service end to end without a kernel: a workspace on 127.0.0.1 asks the daemon
 * (a high port), which forwards to a fake upstream on loopback and writes learned
 * addresses through a recording netlink. Checks what is forwarded, refused, learned (and
 * learned before the reply leaves), withdrawn, and how failures are answered.
 */
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import pino from 'pino';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket } from 'dns-packet';
import { DnsService } from '../../src/dns/service';
import { frame, TcpFramer } from '../../src/dns/message';
import { Upstream } from '../../src/dns/upstream';
import { defaultPolicy, type NetworkPolicy, type Workspace } from '../../src/model/types';
import type { CommitResult, CtTuple, Op } from '../../src/nft/types';
import type { Enforcer } from '../../src/enforce/types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A resolver on loopback answering from `zone`; every question it gets is in `asked`. */
async function fakeUpstream(zone: Record<string, Answer[]>) {
  const asked: string[] = [];
  const answer = (msg: Buffer, udp: boolean) => {
    const q = packet.decode(msg);
    const name = q.questions![0].name.toLowerCase();
    asked.push(name);
    const answers = zone[name] ?? [];
    const big = udp && name.startsWith('big.');
    return packet.encode({ type: 'response', id: q.id, questions: q.questions,
      flags: (big ? packet.TRUNCATED_RESPONSE : 0) | (answers.length ? 0 : 3),
      answers: big ? [] : answers });
  };
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, peer) => udp.send(answer(msg, true), peer.port, peer.address));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const port = udp.address().port;
  const tcp = net.createServer((conn) => {
    const framer = new TcpFramer();
    conn.on('data', (chunk) => framer.push(chunk).forEach((m) => conn.write(frame(answer(m,
      false)))));
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', r));
  let open = true;
  const close = () => {
    if (open) (udp.close(), tcp.close());
    open = false;
  };
  return { port, asked, close };
}

/** A netlink that records commits, each taking `delayMs`, refusing when told to. */
function recordingNetlink(delayMs = 50) {
  const nl = {
    commits: [] as { ops: Op[]; doneAt: number }[],
    refuse: null as CommitResult | null,
    tuples: [] as CtTuple[],
    async commit(ops: Op[]): Promise<CommitResult> {
      await sleep(delayMs);
      nl.commits.push({ ops, doneAt: Date.now() });
      return nl.refuse ?? { ok: true };
    },
    async ctList() {
      return nl.tuples;
    },
  };
  return nl;
}

function workspace(policy: Partial<NetworkPolicy>): Workspace {
  return { id: 'ws_a', ip: '127.0.0.1', gateway: '127.0.0.1', interface: 'tap_a', name: null,
    image_logo: null, image_color: null, plan: 'free', network: { ...defaultPolicy(), ...policy } };
}

async function ask(port: number, name: string, tcp = false) {
  const msg = packet.encode({ type: 'query', id: 77, flags: packet.RECURSION_DESIRED,
    questions: [{ type: 'A', name }] });
  if (tcp) {
    const conn = net.connect(port, '127.0.0.1');
    conn.write(frame(msg));
    const framer = new TcpFramer();
    const reply = await new Promise<Buffer>((r) => conn.on('data', (c) => {
      const [m] = framer.push(c);
      if (m) r(m);
    }));
    conn.destroy();
    return { msg: packet.decode(reply), at: Date.now() };
  }
  const sock = dgram.createSocket('udp4');
  const reply = new Promise<Buffer>((r) => sock.once('message', r));
  sock.send(msg, port, '127.0.0.1');
  const got = await reply;
  sock.close();
  return { msg: packet.decode(got), at: Date.now() };
}

const rcode = (m: DecodedPacket) => (m as DecodedPacket & { rcode: string }).rcode;
const addrs = (m: DecodedPacket) => (m.answers ?? []).flatMap((a) => (a.type === 'A'
  ? [a.data] : []));

t.test('the DNS service', async (t) => {
  const up = await fakeUpstream({
    'allowed.example': [{ type: 'CNAME', name: 'allowed.example', ttl: 60, data: 'edge.example' },
      { type: 'A', name: 'edge.example', ttl: 30, data: '93.184.216.34' },
      { type: 'A', name: 'edge.example', ttl: 30, data: '127.0.0.1' }],
    'big.example': [{ type: 'A', name: 'big.example', ttl: 30, data: '93.184.216.40' }],
    'other.example': [{ type: 'A', name: 'other.example', ttl: 30, data: '93.184.216.35' }],
  });
  const nl = recordingNetlink();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dns = new DnsService({
    nl, table: 'workspace_netd', upstream: new Upstream([{ host: '127.0.0.1', port: up.port }],
      500), graceMs: 60_000, workspaceNet: [0x0a000000, 0x0affffff], port,
    log: pino({ level: 'silent' }), hostAddresses: () => new Set(),
  });
  let current = workspace({});
  const inner: Enforcer = { apply: async () => undefined, healthy: async () => true };
  const enforcer = dns.watch(inner);
  const change = async (policy: Partial<NetworkPolicy>) => {
    const next = workspace(policy);
    await enforcer.apply([{ prev: current, next }], new Map([['ws_a', next]]));
    current = next;
  };
  await dns.start(new Map([['ws_a', current]]));
  t.teardown(() => (dns.close(), up.close()));
  t.same(dns.listening(), ['127.0.0.1'], 'listening on the gateway');

  t.test('with an empty list every name is forwarded and nothing learned', async (t) => {
    t.same(addrs((await ask(port, 'other.example')).msg), ['93.184.216.35']);
    t.equal(nl.commits.length, 0);
  });

  t.test('a listed name: learned before the reply leaves, rebinding withheld', async (t) => {
    await change({ egress: ['allowed.example'] });
    await sleep(200); // the daemon's own first resolution
    nl.commits.length = 0;
    up.asked.length = 0;
    dns.learnedAddresses().length = 0;

    const { msg } = await ask(port, 'allowed.example');
    t.equal(rcode(msg), 'NOERROR');
    t.same(addrs(msg), ['93.184.216.34'], 'the loopback answer is withheld');
    t.same(msg.answers?.[0], { name: 'allowed.example', type: 'CNAME', ttl: 60, class: 'IN',
      flush: false, data: 'edge.example' }, 'the chain is kept');
    const learned = dns.learnedAddresses();
    t.same(learned.map((l) => l.addr), ['93.184.216.34']);
    t.ok(learned[0].msLeft > 89_000 && learned[0].msLeft <= 90_000, 'TTL 30 s + grace 60 s');
    t.ok(dns.isLearned(current, '93.184.216.34'));
    t.notOk(dns.isLearned(current, '127.0.0.1'));
  });

  t.test('the kernel has a new address before the workspace hears of it', async (t) => {
    await change({ egress: ['other.example'] });
    nl.commits.length = 0;
    const { at } = await ask(port, 'other.example');
    const added = nl.commits.find((c) => c.ops[0].op === 'add');
    t.ok(added, 'an add was committed');
    t.ok(added!.doneAt <= at, 'the commit finished before the reply arrived');
    const op = added!.ops[0] as Extract<Op, { kind: 'elements' }>;
    t.same([op.set, op.elements[0].timeout! > 89_000], ['egress_learned', true]);
  });

  t.test('an alias of a listed name may be asked for by itself', async (t) => {
    await change({ egress: ['allowed.example'] });
    await ask(port, 'allowed.example');
    up.asked.length = 0;
    t.equal(rcode((await ask(port, 'edge.example')).msg), 'NXDOMAIN', 'forwarded');
    t.same(up.asked, ['edge.example']);
  });

  t.test('other names are REFUSED and never forwarded, over UDP and TCP', async (t) => {
    up.asked.length = 0;
    t.equal(rcode((await ask(port, 'exfil-data.evil.example')).msg), 'REFUSED');
    t.equal(rcode((await ask(port, 'exfil-more.evil.example', true)).msg), 'REFUSED');
    t.same(up.asked, [], 'the upstream never saw them');
  });

  t.test('a name taken off the list: its addresses are withdrawn', async (t) => {
    nl.commits.length = 0;
    await change({ egress: ['1.2.3.4'] });
    const deleted = nl.commits.find((c) => c.ops[0].op === 'delete');
    t.ok(deleted, 'the elements were deleted');
    t.same(dns.learnedAddresses(), []);
    t.notOk(dns.isLearned(current, '93.184.216.34'));
  });

  t.test('without the internet every question is refused', async (t) => {
    await change({ allow_internet: false });
    t.equal(rcode((await ask(port, 'other.example')).msg), 'REFUSED');
  });

  t.test('a truncated upstream answer is asked again over TCP', async (t) => {
    await change({ egress: ['big.example'] });
    t.same(addrs((await ask(port, 'big.example', true)).msg), ['93.184.216.40']);
  });

  t.test('a kernel refusal or a dead upstream is SERVFAIL', async (t) => {
    await change({ egress: ['other.example'] });
    await change({ egress: [] });
    nl.refuse = { ok: false, index: 0, errno: 22, message: 'Invalid argument' };
    await change({ egress: ['other.example'] });
    t.equal(rcode((await ask(port, 'other.example')).msg), 'SERVFAIL', 'kernel refused');
    nl.refuse = null;

    up.close();
    await change({ egress: ['allowed.example'] });
    t.equal(rcode((await ask(port, 'allowed.example')).msg), 'SERVFAIL', 'no upstream');
  });
});
