import t from 'tap';
import { onlyWidens } from '../../src/policy/widening';
import { stillAllowed, ConnectionContext } from '../../src/policy/connections';
import { defaultPolicy, NetworkPolicy, Workspace } from '../../src/model/types';
import type { CtTuple } from '../../src/nft/types';

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const A_IP = '10.0.1.2';
const LEARNED = '198.51.100.9';

function ws(id: string, ip: string, network: Partial<NetworkPolicy> = {}): Workspace {
  return {
    id, ip, gateway: ip.replace(/\.\d+$/, '.1'), interface: `t-${id}`, name: null,
    image_logo: null, image_color: null, plan: 'free', network: { ...defaultPolicy(), ...network },
  };
}

const B = ws('ws_b', '10.0.2.2');
const C = ws('ws_c', '10.0.3.2');

/** A workspace whose every field admits something, so that each can be narrowed. */
const RICH: Partial<NetworkPolicy> = {
  public_access: true,
  allow_internet: true,
  ingress_ports: [8080, 8081],
  egress: ['198.18.0.0/24', '203.0.113.7', 'example.com'],
  egress_ports: [443, 80],
  private_link_ids: ['ws_b', 'ws_c'],
};

function registry(...all: Workspace[]): Map<string, Workspace> {
  return new Map(all.map((w) => [w.id, w]));
}

function ctx(reg: ReadonlyMap<string, Workspace>): ConnectionContext {
  return {
    workspaceNet: [0x0a000000, 0x0affffff],
    runtimeApiPort: 9990,
    registry: reg,
    // The DNS opened LEARNED for example.com while that name is on the list.
    learned: (w, addr) => addr === LEARNED && w.network.egress.includes('example.com'),
  };
}

const tuple = (src: string, dst: string, dport: number, proto = TCP): CtTuple =>
  ({ proto, src, dst, sport: proto === ICMP ? 0 : 40000, dport });

/** Connections of A in every direction the policy decides. */
const CORPUS: CtTuple[] = [];
const DESTINATIONS = ['198.18.0.10', '198.18.0.200', '198.18.1.10', '203.0.113.7', '203.0.113.8',
  LEARNED, '192.0.2.50', '10.0.2.2'];
for (const dst of DESTINATIONS) {
  for (const port of [443, 80, 22]) {
    CORPUS.push(tuple(A_IP, dst, port), tuple(A_IP, dst, port, UDP));
  }
  CORPUS.push(tuple(A_IP, dst, 0, ICMP));
}
CORPUS.push(tuple(A_IP, '10.0.1.1', 53, UDP), tuple(A_IP, '10.0.1.1', 53));
for (const src of ['10.0.1.1', '192.0.2.60', B.ip, C.ip]) {
  for (const port of [8080, 8081, 9990, 22]) {
    CORPUS.push(tuple(src, A_IP, port), tuple(src, A_IP, port, UDP));
  }
}

/** Connections the old registry admitted and the new one refuses. */
function lost(before: Map<string, Workspace>, after: Map<string, Workspace>, id: string) {
  const prev = before.get(id)!;
  const next = after.get(id)!;
  return CORPUS.filter(
    (c) => stillAllowed(prev, c, ctx(before)) && !stillAllowed(next, c, ctx(after)),
  );
}

interface Case {
  name: string;
  from?: Partial<NetworkPolicy>;
  to: Partial<NetworkPolicy>;
  widens: boolean;
  /** narrowed, though no connection stillAllowed judges is lost: the predicate is wary */
  wary?: boolean;
}

const CASES: Case[] = [
  { name: 'nothing changes', to: {}, widens: true },

  { name: 'public_access turned on', from: { public_access: false }, to: { public_access: true },
    widens: true },
  { name: 'public_access turned off', to: { public_access: false }, widens: false },

  { name: 'allow_internet turned on', from: { allow_internet: false },
    to: { allow_internet: true, egress: [], egress_ports: [] }, widens: true },
  { name: 'allow_internet turned on with lists', from: { allow_internet: false },
    to: { allow_internet: true }, widens: true },
  { name: 'allow_internet turned off', to: { allow_internet: false }, widens: false },
  { name: 'lists change while the internet is off', from: { allow_internet: false },
    to: { allow_internet: false, egress: ['192.0.2.0/24'], egress_ports: [22] }, widens: true },

  { name: 'an ingress port added', to: { ingress_ports: [8080, 8081, 22] }, widens: true },
  { name: 'ingress ports reordered', to: { ingress_ports: [8081, 8080] }, widens: true },
  { name: 'an ingress port removed', to: { ingress_ports: [8080] }, widens: false },
  { name: 'ingress ports emptied', to: { ingress_ports: [] }, widens: false },

  { name: 'an egress CIDR added', to: { egress: [...RICH.egress!, '192.0.2.0/24'] },
    widens: true },
  { name: 'an egress address grows into its CIDR',
    to: { egress: ['198.18.0.0/24', '203.0.113.0/24', 'example.com'] }, widens: true },
  { name: 'a CIDR covered by a wider one',
    to: { egress: ['198.18.0.0/16', '203.0.113.7', 'example.com'] }, widens: true },
  { name: 'egress emptied (every address)', to: { egress: [] }, widens: true },
  { name: 'an egress CIDR removed', to: { egress: ['203.0.113.7', 'example.com'] },
    widens: false },
  { name: 'an egress CIDR narrowed', to: { egress: ['198.18.0.0/25', '203.0.113.7',
    'example.com'] }, widens: false },
  { name: 'an egress address removed', to: { egress: ['198.18.0.0/24', 'example.com'] },
    widens: false },
  { name: 'an egress name removed', to: { egress: ['198.18.0.0/24', '203.0.113.7'] },
    widens: false },
  { name: 'an egress list where there was none', from: { egress: [] },
    to: { egress: ['198.18.0.0/24'] }, widens: false },
  { name: 'an egress name added', to: { egress: [...RICH.egress!, 'example.org'] },
    widens: true },

  { name: 'an egress port added', to: { egress_ports: [443, 80, 8443] }, widens: true },
  { name: 'egress ports emptied (every port)', to: { egress_ports: [] }, widens: true },
  { name: 'an egress port removed', to: { egress_ports: [443] }, widens: false },
  { name: 'egress ports where there were none', from: { egress_ports: [] },
    to: { egress_ports: [443] }, widens: false },

  { name: 'a link added', from: { private_link_ids: ['ws_b'] },
    to: { private_link_ids: ['ws_b', 'ws_c'] }, widens: true },
  { name: 'links reordered', to: { private_link_ids: ['ws_c', 'ws_b'] }, widens: true },
  { name: 'a link removed', to: { private_link_ids: ['ws_b'] }, widens: false },
  { name: 'links emptied', to: { private_link_ids: [] }, widens: false },

  { name: 'outbound_ip changed', from: { outbound_ip: null },
    to: { outbound_ip: '198.51.100.1' }, widens: false, wary: true },
  { name: 'custom proxy switched on', to: { outbound_mode: 'custom', custom_proxy:
    { host: 'proxy.example', port: 3128, protocol: 'http', has_credentials: false } },
  widens: false, wary: true },
  { name: 'custom proxy moved', from: { outbound_mode: 'custom', custom_proxy:
    { host: 'proxy.example', port: 3128, protocol: 'http', has_credentials: false } },
  to: { outbound_mode: 'custom', custom_proxy:
    { host: 'proxy.example', port: 3129, protocol: 'http', has_credentials: false } },
  widens: false, wary: true },
];

for (const c of CASES) {
  t.test(`${c.name}: ${c.widens ? 'skips conntrack' : 'lists conntrack'}`, async (t) => {
    const prev = ws('ws_a', A_IP, { ...RICH, ...c.from });
    const next = ws('ws_a', A_IP, { ...prev.network, ...c.to });
    const before = registry(prev, B, C);
    const after = registry(next, B, C);

    t.equal(onlyWidens([{ prev, next }], after), c.widens);
    const gone = lost(before, after, 'ws_a');
    if (c.widens) t.same(gone, [], 'no connection the old policy admitted is refused');
    else if (!c.wary) t.not(gone.length, 0, 'some connection is refused now');
  });
}

t.test('a new, deleted, moved or re-tapped workspace lists conntrack', async (t) => {
  const a = ws('ws_a', A_IP, RICH);
  t.notOk(onlyWidens([{ prev: null, next: a }], registry(a, B)), 'registered');
  t.notOk(onlyWidens([{ prev: a, next: null }], registry(B)), 'deleted');
  const moved = { ...a, ip: '10.0.1.3' };
  t.notOk(onlyWidens([{ prev: a, next: moved }], registry(moved, B)), 'new address');
  const gw = { ...a, gateway: '10.0.1.254' };
  t.notOk(onlyWidens([{ prev: a, next: gw }], registry(gw, B)), 'new gateway');
  const tap = { ...a, interface: 't-other' };
  t.notOk(onlyWidens([{ prev: a, next: tap }], registry(tap, B)), 'new tap');
});

t.test('a linked workspace that moved ends its links: the linker lists', async (t) => {
  // The registry recompiles linkers with prev === next; their links resolve anew.
  const a = ws('ws_a', A_IP, RICH);
  const movedB = { ...B, ip: '10.0.2.3' };
  const after = registry(a, movedB, C);
  t.notOk(onlyWidens([{ prev: B, next: movedB }, { prev: a, next: a }], after));
});

t.test('a batch widens only when every change does', async (t) => {
  const a = ws('ws_a', A_IP, RICH);
  const wider = ws('ws_a', A_IP, { ...RICH, ingress_ports: [8080, 8081, 22] });
  const narrower = { ...C, network: { ...C.network, allow_internet: false } };
  t.ok(onlyWidens([{ prev: a, next: wider }], registry(wider, B, C)));
  t.notOk(onlyWidens([{ prev: a, next: wider }, { prev: C, next: narrower }],
    registry(wider, B, narrower)));
});

t.test('a registry that does not hold `next` lists', async (t) => {
  const a = ws('ws_a', A_IP, RICH);
  t.notOk(onlyWidens([{ prev: a, next: a }], registry(B, C)));
});

t.test('random pairs of policies: a skipped listing never spares a refused connection',
  async (t) => {
    let seed = 8;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16) % n;
    const some = <T>(xs: T[]) => xs.filter(() => rand(2) === 0);
    const policy = (): Partial<NetworkPolicy> => ({
      public_access: rand(2) === 0,
      allow_internet: rand(3) !== 0,
      ingress_ports: some([8080, 8081, 9990]),
      egress: some(['198.18.0.0/24', '198.18.0.0/16', '203.0.113.7', '203.0.113.0/24',
        'example.com']),
      egress_ports: some([443, 80, 22]),
      private_link_ids: some(['ws_b', 'ws_c']),
    });
    let skipped = 0;
    for (let i = 0; i < 3000; i++) {
      const prev = ws('ws_a', A_IP, policy());
      // Half the time a neighbour of prev: one field drawn anew, the rest kept.
      const drawn = policy();
      const field = Object.keys(drawn)[rand(6)] as keyof NetworkPolicy;
      const next = ws('ws_a', A_IP,
        rand(2) === 0 ? drawn : { ...prev.network, [field]: drawn[field] });
      const before = registry(prev, B, C);
      const after = registry(next, B, C);
      if (!onlyWidens([{ prev, next }], after)) continue;
      skipped++;
      const gone = lost(before, after, 'ws_a');
      if (gone.length > 0) {
        t.fail('skipped a listing that would end a connection', { prev, next, gone });
        return;
      }
    }
    t.ok(skipped > 100, `${skipped} of 3000 random changes only widen`);
  });
