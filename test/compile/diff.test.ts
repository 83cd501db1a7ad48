import t from 'tap';
import { compileWorkspace } from '../../src/compile/workspace';
import { diffWorkspace } from '../../src/compile/diff';
import { egressNetSet } from '../../src/compile/layout';
import { defaultPolicy, Workspace } from '../../src/model/types';
import type { Op } from '../../src/nft/types';

const opts = { workspaceNet: { net: '10.0.0.0', len: 8 }, runtimeApiPort: 9990 };

function ws(id: string, patch: Partial<Workspace['network']> = {}, iface = `t-${id}`): Workspace {
  return {
    id, ip: '10.0.1.2', gateway: '10.0.1.1', interface: iface, name: null, image_logo: null,
    image_color: null, plan: 'free', network: { ...defaultPolicy(), ...patch },
  };
}
const compile = (w: Workspace) => compileWorkspace(w, new Map([[w.id, w]]), opts);
const summary = (ops: Op[]) => ops.map((o) => {
  if (o.kind === 'elements') return `${o.op} ${o.set} ${o.elements.length}`;
  if (o.kind === 'rule') return `rule ${o.chain}`;
  if (o.kind === 'set') return `${o.op} set`;
  return `${o.op} ${o.kind} ${o.name}`;
});

t.test('a new workspace adds its chains before the map elements that jump to them', async (t) => {
  const ops = summary(diffWorkspace('tbl', null, compile(ws('ws_a'))));
  t.same(ops.slice(0, 2), ['create chain ws_a_out', 'create chain ws_a_in']);
  t.ok(ops.indexOf('create out 1') > 1);
  t.ok(ops.includes('create host_svc 2'), 'DNS on the gateway, udp and tcp');
});

t.test('an unchanged workspace needs no operation', async (t) => {
  t.same(diffWorkspace('tbl', compile(ws('ws_a')), compile(ws('ws_a'))), []);
});

t.test('a port change touches only that workspace\'s port elements', async (t) => {
  const a = compile(ws('ws_a', { ingress_ports: [80, 443] }));
  const b = compile(ws('ws_a', { ingress_ports: [443, 3000] }));
  t.same(summary(diffWorkspace('tbl', a, b)), ['delete in_port 2', 'create in_port 2']);
});

t.test('turning the internet off flushes and refills the out chain', async (t) => {
  const a = compile(ws('ws_a', { egress_ports: [443] }));
  const b = compile(ws('ws_a', { allow_internet: false, egress_ports: [443] }));
  const ops = summary(diffWorkspace('tbl', a, b));
  t.ok(ops.includes('delete egress_port 2'));
  t.ok(ops.includes('delete host_svc 2'));
  t.ok(ops.includes('flush chain ws_a_out'));
  t.same(ops.filter((o) => o === 'rule ws_a_out').length, 2, 'workspace network, then refuse');
});

t.test('removal deletes elements before it deletes the chains they jump to', async (t) => {
  const ops = summary(diffWorkspace('tbl', compile(ws('ws_a')), null));
  const lastElement = Math.max(...ops.map((o, i) => (o.startsWith('delete out') ? i : -1)));
  t.ok(lastElement >= 0 && lastElement < ops.indexOf('delete chain ws_a_out'));
  t.ok(ops.includes('flush chain ws_a_in'));
});

t.test('overlapping egress CIDRs become one interval', async (t) => {
  const c = compile(ws('ws_a', { egress: ['192.0.2.0/24', '192.0.2.7', '192.0.3.0/24'] }));
  t.same(c.elements.get(egressNetSet('ws_a'))!.length, 1);
});

t.test('names on the egress list still restrict: nothing is allowed by name yet', async (t) => {
  const c = compile(ws('ws_a', { egress: ['api.github.com'] }));
  t.notOk(c.elements.has(egressNetSet('ws_a')));
  t.same(c.chains.get('ws_a_out')!.length, 3, 'workspace network, egress refusal, accept');
});

t.test('a workspace on another host is only an address the workspaces may reach', async (t) => {
  const c = compile(ws('ws_r', {}, null as unknown as string));
  t.same(c.chains.size, 0);
  t.same([...c.elements.keys()], ['remote_ip']);
});
