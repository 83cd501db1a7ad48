import t from 'tap';
import { stillAllowed, ConnectionContext } from '../../src/policy/connections';
import { defaultPolicy, Workspace } from '../../src/model/types';

function ws(id: string, ip: string, patch: Partial<Workspace['network']> = {}): Workspace {
  return {
    id, ip, gateway: ip.replace(/\.\d+$/, '.1'), interface: `t-${id}`, name: null,
    image_logo: null, image_color: null, plan: 'free', network: { ...defaultPolicy(), ...patch },
  };
}
const TCP = 6;
const UDP = 17;
const tuple = (src: string, dst: string, dport: number, proto = TCP) =>
  ({ proto, src, dst, sport: 40000, dport });

function ctx(...all: Workspace[]): ConnectionContext {
  return {
    workspaceNet: [0x0a000000, 0x0affffff],
    runtimeApiPort: 9990,
    registry: new Map(all.map((w) => [w.id, w])),
  };
}

t.test('outbound to the internet follows allow_internet, egress and ports', async (t) => {
  const open = ws('ws_a', '10.0.1.2');
  t.ok(stillAllowed(open, tuple('10.0.1.2', '198.18.0.10', 80), ctx(open)));
  const off = ws('ws_a', '10.0.1.2', { allow_internet: false });
  t.notOk(stillAllowed(off, tuple('10.0.1.2', '198.18.0.10', 80), ctx(off)));
  const cidr = ws('ws_a', '10.0.1.2', { egress: ['198.18.0.0/24'], egress_ports: [443] });
  t.ok(stillAllowed(cidr, tuple('10.0.1.2', '198.18.0.10', 443), ctx(cidr)));
  t.notOk(stillAllowed(cidr, tuple('10.0.1.2', '198.18.0.10', 80), ctx(cidr)));
  t.notOk(stillAllowed(cidr, tuple('10.0.1.2', '198.19.0.10', 443), ctx(cidr)));
  t.notOk(stillAllowed(cidr, tuple('10.0.1.2', '198.18.0.10', 0, 1), ctx(cidr)), 'ICMP has no port');
});

t.test('DNS to the gateway lives and dies with allow_internet', async (t) => {
  const on = ws('ws_a', '10.0.1.2');
  t.ok(stillAllowed(on, tuple('10.0.1.2', '10.0.1.1', 53, UDP), ctx(on)));
  t.notOk(stillAllowed(on, tuple('10.0.1.2', '10.0.1.1', 22), ctx(on)));
  const off = ws('ws_a', '10.0.1.2', { allow_internet: false });
  t.notOk(stillAllowed(off, tuple('10.0.1.2', '10.0.1.1', 53, UDP), ctx(off)));
});

t.test('the workspace network is for the target to decide', async (t) => {
  const off = ws('ws_a', '10.0.1.2', { allow_internet: false });
  t.ok(stillAllowed(off, tuple('10.0.1.2', '10.0.2.2', 9990), ctx(off)));
});

t.test('inbound from the host needs public_access and an ingress port', async (t) => {
  const pub = ws('ws_a', '10.0.1.2', { public_access: true, ingress_ports: [80] });
  t.ok(stillAllowed(pub, tuple('10.0.1.1', '10.0.1.2', 80), ctx(pub)));
  t.notOk(stillAllowed(pub, tuple('10.0.1.1', '10.0.1.2', 81), ctx(pub)));
  const dark = ws('ws_a', '10.0.1.2', { ingress_ports: [80] });
  t.notOk(stillAllowed(dark, tuple('10.0.1.1', '10.0.1.2', 80), ctx(dark)));
});

t.test('inbound from a linked workspace: runtime API port and ingress ports', async (t) => {
  const caller = ws('ws_b', '10.0.2.2');
  const target = ws('ws_a', '10.0.1.2', { private_link_ids: ['ws_b'], ingress_ports: [8080] });
  const c = ctx(caller, target);
  t.ok(stillAllowed(target, tuple('10.0.2.2', '10.0.1.2', 9990), c));
  t.ok(stillAllowed(target, tuple('10.0.2.2', '10.0.1.2', 8080), c));
  t.notOk(stillAllowed(target, tuple('10.0.2.2', '10.0.1.2', 22), c));
  const unlinked = { ...target, network: { ...target.network, private_link_ids: [] } };
  t.notOk(stillAllowed(unlinked, tuple('10.0.2.2', '10.0.1.2', 9990), c));
});

t.test('an unlinked workspace is not the host, even on a public ingress port', async (t) => {
  const caller = ws('ws_b', '10.0.2.2');
  const target = ws('ws_a', '10.0.1.2', { public_access: true, ingress_ports: [3000] });
  const c = ctx(caller, target);
  t.notOk(stillAllowed(target, tuple('10.0.2.2', '10.0.1.2', 3000), c), 'ws_b lost its link');
  t.ok(stillAllowed(target, tuple('10.0.1.1', '10.0.1.2', 3000), c), 'the host keeps it');

  const linked = { ...target, network: { ...target.network, private_link_ids: ['ws_b'] } };
  t.ok(stillAllowed(linked, tuple('10.0.2.2', '10.0.1.2', 3000), ctx(caller, linked)));
});

t.test('a link follows its workspace to a new address', async (t) => {
  const target = ws('ws_a', '10.0.1.2', { private_link_ids: ['ws_r'] });
  const moved = { ...ws('ws_r', '10.9.0.3'), interface: null };
  const c = ctx(target, moved);
  t.ok(stillAllowed(target, tuple('10.9.0.3', '10.0.1.2', 9990), c));
  t.notOk(stillAllowed(target, tuple('10.9.0.2', '10.0.1.2', 9990), c), 'the old address');
});
