/**
 * KernelEnforcer start and reconcile against the kernel, each test in its own namespace:
 * the table it builds reads back equal to what it compiled (no false drift, whatever the
 * policies use), it is owned and persistent, a new socket takes over an orphan, and a
 * table changed behind its back is rebuilt.
 */
import t from 'tap';
import pino from 'pino';
import { KernelEnforcer, type KernelOptions } from '../../src/enforce/kernel';
import { KernelError } from '../../src/enforce/types';
import { NftSocket } from '../../src/nft/addon';
import { defaultPolicy, type NetworkPolicy, type Workspace } from '../../src/model/types';
import { fixture } from '../nft/fixtures/netns';

const TABLE = 'workspace_netd';
const log = pino({ level: 'silent' });
const base: KernelOptions = {
  table: TABLE, uplink: 'eth0', workspaceNet: { net: '10.0.0.0', len: 8 },
  runtimeApiPort: 9990, relayPort: 15001,
};
const owned: KernelOptions = { ...base, tableFlags: { owner: true, persist: true } };

function ws(id: string, n: number, policy: Partial<NetworkPolicy>, iface = `tap${n}`): Workspace {
  return {
    id, ip: `10.0.${n}.2`, gateway: `10.0.${n}.1`, interface: iface, name: null,
    image_logo: null, image_color: null, plan: 'scale', network: { ...defaultPolicy(), ...policy },
  };
}

/** Policies that use every part of the compiler the daemon has today. */
const registry = new Map([
  ws('ws_default', 1, {}),
  ws('ws_web', 2, { public_access: true, ingress_ports: [80, 443],
    egress: ['192.0.2.0/24', '198.51.100.7', 'api.github.com'], egress_ports: [443, 53] }),
  ws('ws_offline', 3, { allow_internet: false, ingress_ports: [22] }),
  ws('ws_linked', 4, { private_link_ids: ['ws_web', 'ws_remote'] }),
  ws('ws_proxied', 5, { outbound_mode: 'custom', custom_proxy: { host: '93.184.216.34',
    port: 3128, protocol: 'http', has_credentials: false } }),
  ws('ws_remote', 6, {}, null as unknown as string),
].map((w) => [w.id, w]));

t.test('a start reads back equal to what it compiled, owned and persistent', async (t) => {
  const f = fixture(t);
  const enforcer = new KernelEnforcer(f.sock, owned, log);
  await enforcer.start(registry);
  t.equal(await enforcer.healthy(), true, 'no false drift');
  t.same((await f.sock.listTable('inet', TABLE))?.flags, { owner: true, persist: true });
  t.same(await enforcer.reconcile('test'), { differences: [], repaired: false });
});

t.test('an orphaned table is taken over by the next start, in one transaction', async (t) => {
  const f = fixture(t);
  const first = NftSocket.open({ netns: `/run/netns/${f.ns}` });
  await new KernelEnforcer(first, owned, log).start(registry);
  first.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same((await f.sock.listTable('inet', TABLE))?.flags, { persist: true }, 'orphaned');

  const second = new KernelEnforcer(f.sock, owned, log);
  await second.start(registry);
  t.equal(await second.healthy(), true);
  t.same((await f.sock.listTable('inet', TABLE))?.flags, { owner: true, persist: true });
});

t.test('a start over a table another socket owns is refused with EPERM', async (t) => {
  const f = fixture(t);
  const other = NftSocket.open({ netns: `/run/netns/${f.ns}` });
  t.teardown(() => other.close());
  await new KernelEnforcer(other, owned, log).start(new Map());

  const err = await new KernelEnforcer(f.sock, owned, log).start(registry).catch((e) => e);
  t.type(err, KernelError);
  t.equal(err.errno, 1);
  t.match(err.hint, /no other process may own table/);
});

t.test('without ownership, what was changed behind its back is rebuilt', async (t) => {
  const f = fixture(t);
  const enforcer = new KernelEnforcer(f.sock, base, log);
  let hooks = 0;
  enforcer.rebuilt = async () => void hooks++;
  await enforcer.start(registry);
  const before = await f.sock.listTable('inet', TABLE);

  const breaks = [
    ['delete', 'table', 'inet', TABLE],
    ['flush', 'chain', 'inet', TABLE, 'ws_web_out'],
    ['add', 'rule', 'inet', TABLE, 'input', 'accept'],
    ['delete', 'element', 'inet', TABLE, 'ifaces', '{ "tap3" }'],
  ];
  for (const args of breaks) {
    f.exec(['nft', ...args]);
    enforcer.suspect();
    t.equal(await enforcer.healthy(), false, `${args[0]} ${args[1]}: unhealthy`);
    const result = await enforcer.reconcile('test');
    t.equal(result.repaired, true, `${args[0]} ${args[1]}: ${result.differences.join('; ')}`);
    t.equal(await enforcer.healthy(), true);
    t.same(normalized(await f.sock.listTable('inet', TABLE)), normalized(before));
  }
  t.equal(hooks, breaks.length, 'the after-repair hook ran each time');
});

/** Handles and hash order aside. */
function normalized(state: Awaited<ReturnType<NftSocket['listTable']>>) {
  const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : '');
  return state && {
    ...state,
    chains: state.chains.map((c) => ({ ...c, rules: c.rules.map((r) => r.exprs) })),
    sets: state.sets.map((s) => ({ ...s, elements: [...s.elements].sort((a, b) =>
      (hex(a.key) + hex(a.keyEnd)).localeCompare(hex(b.key) + hex(b.keyEnd))) })),
  };
}
