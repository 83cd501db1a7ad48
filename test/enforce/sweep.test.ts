/**
 * Ending connections after a change, over a fake netlink socket: a change that only widens
 * lists no conntrack; changes queued behind one another share one listing; a sweep judges
 * each workspace by its latest committed policy.
 */
import pino from 'pino';
import t from 'tap';
import { KernelEnforcer, type Netlink } from '../../src/enforce/kernel';
import { defaultPolicy, type NetworkPolicy, type Workspace } from '../../src/model/types';
import type { CtTuple, Op } from '../../src/nft/types';

const log = pino({ level: 'silent' });

function ws(id: string, n: number, network: Partial<NetworkPolicy> = {}): Workspace {
  return {
    id, ip: `10.0.${n}.2`, gateway: `10.0.${n}.1`, interface: `t-${id}`, name: null,
    image_logo: null, image_color: null, plan: 'free', network: { ...defaultPolicy(), ...network },
  };
}

/** A fake socket whose commits take a tick, counting listings and keeping deletes. */
function kernel(conntrack: CtTuple[]) {
  const state = { listings: 0, deleted: [] as CtTuple[] };
  const nl: Netlink = {
    async commit(_ops: Op[]) {
      await new Promise((resolve) => setImmediate(resolve));
      return { ok: true };
    },
    readTable: async () => null,
    async ctList() {
      state.listings++;
      return conntrack;
    },
    async ctDelete(tuples: CtTuple[]) {
      state.deleted.push(...tuples);
      return tuples.length;
    },
  };
  const o = { table: 'workspace_netd', uplink: 'up0', workspaceNet: { net: '10.0.0.0', len: 8 },
    runtimeApiPort: 9990 };
  return { enforcer: new KernelEnforcer(nl, o, log), state };
}

const tcp = (src: string, dst: string, dport: number): CtTuple =>
  ({ proto: 6, src, dst, sport: 40000, dport, replyDst: src });
const reg = (...w: Workspace[]) => new Map(w.map((x) => [x.id, x]));

t.test('a change that only widens lists no conntrack', async (t) => {
  const a = ws('ws_a', 1, { egress_ports: [443] });
  const k = kernel([tcp(a.ip, '198.18.0.10', 443)]);
  await k.enforcer.start(reg(a));
  k.state.listings = 0; // start's own sweep (tested below)
  const wider = ws('ws_a', 1, { egress_ports: [443, 80] });
  await k.enforcer.apply([{ prev: a, next: wider }], reg(wider));
  t.equal(k.state.listings, 0);

  await k.enforcer.apply([{ prev: wider, next: a }], reg(a));
  t.equal(k.state.listings, 1, 'narrowing lists');
});

t.test('narrowing changes queued together share one listing', async (t) => {
  const all = [1, 2, 3].map((n) => ws(`ws_${n}`, n));
  const k = kernel(all.map((w) => tcp(w.ip, '198.18.0.10', 80)));
  await k.enforcer.start(reg(...all));
  k.state.listings = 0; // start's own sweep (tested below)

  const shut = all.map((w) => ({ ...w, network: { ...w.network, allow_internet: false } }));
  await Promise.all(all.map((w, i) =>
    k.enforcer.apply([{ prev: w, next: shut[i] }], reg(...shut))));
  t.equal(k.state.listings, 1, 'one walk for three changes');
  t.same(k.state.deleted.map((c) => c.src).sort(), all.map((w) => w.ip).sort(),
    'and each change ended its connection');
});

t.test('a sweep judges a workspace by its latest policy, not the one that queued it',
  async (t) => {
    const a = ws('ws_a', 1);
    const k = kernel([tcp(a.ip, '198.18.0.10', 80)]);
    await k.enforcer.start(reg(a));
    k.state.listings = 0; // start's own sweep (tested below)

    const off = ws('ws_a', 1, { allow_internet: false });
    const narrowing = k.enforcer.apply([{ prev: a, next: off }], reg(off));
    const widening = k.enforcer.apply([{ prev: off, next: a }], reg(a));
    await Promise.all([narrowing, widening]);
    t.equal(k.state.listings, 1);
    t.same(k.state.deleted, [], 'the internet is back: the connection stays');
  });

t.test('a change committed after a sweep started waits for the next one', async (t) => {
  const a = ws('ws_a', 1);
  const conntrack = [tcp(a.ip, '198.18.0.10', 80)];
  const k = kernel(conntrack);
  await k.enforcer.start(reg(a));
  k.state.listings = 0; // start's own sweep (tested below)

  const off = ws('ws_a', 1, { allow_internet: false });
  await k.enforcer.apply([{ prev: a, next: off }], reg(off));
  await k.enforcer.apply([{ prev: off, next: a }], reg(a));
  const ports = ws('ws_a', 1, { egress_ports: [443] });
  await k.enforcer.apply([{ prev: a, next: ports }], reg(ports));
  t.equal(k.state.listings, 2, 'each narrowing change awaited its own listing');
  t.equal(k.state.deleted.length, 2);
});

t.test('a start ends the connections no policy admits, in one listing', async (t) => {
  const a = ws('ws_a', 1, { allow_internet: false });
  const b = ws('ws_b', 2, { egress: ['198.18.0.0/24'] });
  const named = ws('ws_c', 3, { egress: ['example.com'] });
  const k = kernel([tcp(a.ip, '198.18.0.10', 80), tcp(b.ip, '198.18.0.10', 80),
    tcp(b.ip, '198.18.9.10', 80), tcp(named.ip, '198.18.9.10', 80), tcp(b.ip, a.ip, 22)]);
  await k.enforcer.start(reg(a, b, named));
  t.equal(k.state.listings, 1);
  t.same(k.state.deleted.map((c) => `${c.src}>${c.dst}`).sort(), [
    `${a.ip}>198.18.0.10`, `${b.ip}>${a.ip}`, `${b.ip}>198.18.9.10`,
  ].sort(), 'internet off, an unlisted address, a port never opened; names are kept');
});

t.test('with the connections table, a narrowing change asks it for its own addresses only',
  async (t) => {
    const a = ws('ws_a', 1);
    const b = ws('ws_b', 2);
    const renumbered = ws('ws_a', 5, { allow_internet: false });
    const k = kernel([]);
    const asked: string[][] = [];
    const entries = [tcp(a.ip, '198.18.0.10', 80), tcp(renumbered.ip, '198.18.0.10', 80)];
    k.enforcer.connections = {
      async of(addresses) {
        asked.push([...addresses].sort());
        return entries;
      },
    };
    await k.enforcer.start(reg(a, b));
    k.state.listings = 0; // start's own sweep lists (tested above)

    await k.enforcer.apply([{ prev: a, next: renumbered }], reg(renumbered, b));
    t.equal(k.state.listings, 0, 'no listing');
    t.same(asked, [[a.ip, renumbered.ip].sort()], 'the old and the new address');
    t.same(k.state.deleted.map((c) => c.src).sort(), [a.ip, renumbered.ip].sort(),
      'the old address is gone, the new one has no internet');
  });
