/**
 * The registry with the durable layer: a change is stored only after the kernel took it,
 * a refused change is not stored, a change the store cannot keep is taken back out of the
 * kernel, and changes committed together each store their own.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { WorkspaceRegistry } from '../../src/service/registry';
import { DurableState } from '../../src/state/durable';
import { StateStore, type StateChange } from '../../src/state/store';
import { RecordingEnforcer } from '../support/recording-enforcer';

const log = pino({ level: 'silent' });

function input(ip: string, iface: string | null) {
  return { ip, gateway: '10.0.0.1', interface: iface, name: null, image_logo: null,
    image_color: null, plan: 'free' as const };
}

function setup(t: Test, sink?: { save(change: StateChange): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'netd-durable-'));
  const store = StateStore.open(join(dir, 'state'));
  t.teardown(() => (store.close(), rmSync(dir, { recursive: true, force: true })));
  const enforcer = new RecordingEnforcer();
  const fatal: Error[] = [];
  const durable = new DurableState(sink ?? store, enforcer, log, (err) => fatal.push(err));
  const registry = new WorkspaceRegistry({
    enforcer, durable, customProxyPlans: [], workspaceNetwork: '10.0.0.0/8', logger: log,
  });
  return { store, enforcer, registry, fatal };
}

t.test('a change is stored after the kernel took it, and a restart loads it', async (t) => {
  const { store, registry, enforcer } = setup(t);
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.patchNetwork('ws_a', { ingress_ports: [80], private_link_ids: ['ws_b'] });

  t.equal(enforcer.calls.length, 2);
  const loaded = store.load();
  t.same(loaded.get('ws_a'), registry.get('ws_a'));
  const again = new WorkspaceRegistry({
    enforcer, customProxyPlans: [], initial: loaded.values(),
  });
  t.same(again.getNetwork('ws_a'), registry.getNetwork('ws_a'));
});

t.test('a change the kernel refuses is not stored', async (t) => {
  const { store, registry, enforcer } = setup(t);
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  enforcer.refuseNext();
  await t.rejects(registry.patchNetwork('ws_a', { ingress_ports: [80] }));
  t.same(store.load().get('ws_a')!.network.ingress_ports, []);
});

t.test('a change the store cannot keep is taken back out of the kernel', async (t) => {
  let failing = false;
  const real = { save: (_: StateChange) => {} };
  const { registry, enforcer, fatal } = setup(t, {
    save: (change) => {
      if (failing) throw new Error('disk full');
      real.save(change);
    },
  });
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_b', input('10.0.0.3', 'tap_b'));
  failing = true;

  await t.rejects(registry.patchNetwork('ws_a', { ingress_ports: [80] }), /taken back/);
  const [applied, reverted] = enforcer.calls.slice(-2);
  t.same(reverted.changes, [{ prev: applied.changes[0].next, next: applied.changes[0].prev }]);
  const byId = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : 1);
  t.same([...reverted.registry.entries()].sort(byId),
    [['ws_a', applied.changes[0].prev], ['ws_b', registry.get('ws_b')]],
    'the revert resolves against the whole registry as it was');
  t.same(registry.getNetwork('ws_a').ingress_ports, [], 'not in memory either');
  t.same(fatal, []);
});

t.test('when the revert fails too, the daemon is told to stop (fatal)', async (t) => {
  const { registry, enforcer, fatal } = setup(t, { save: () => {
    throw new Error('disk full');
  } });
  enforcer.refuseNext();
  await t.rejects(registry.put('ws_a', input('10.0.0.2', 'tap_a')), /kernel refused/);
  t.same(fatal, [], 'the kernel refused: nothing stored, nothing to revert');

  // The change passes, the store fails, and the kernel refuses the revert.
  const apply = enforcer.apply.bind(enforcer);
  enforcer.apply = async (changes, registry) => {
    await apply(changes, registry);
    if (changes[0].prev !== null) throw new Error('revert refused');
  };
  await t.rejects(registry.put('ws_b', input('10.0.0.3', 'tap_b')), /reverting it failed/);
  t.equal(fatal.length, 1);
});

t.test('changes queued together are stored together, each as its request made it', async (t) => {
  const { store, registry, enforcer } = setup(t);
  for (const [id, ip] of [['ws_a', '10.0.0.2'], ['ws_b', '10.0.0.3'], ['ws_c', '10.0.0.4']]) {
    await registry.put(id, input(ip, `tap_${id}`));
  }

  const release = enforcer.hold('ws_a');
  const slow = registry.patchNetwork('ws_a', { ingress_ports: [22] });
  await new Promise((resolve) => setTimeout(resolve, 5));
  const queued = [registry.patchNetwork('ws_b', { ingress_ports: [443] }),
    registry.patchNetwork('ws_c', { ingress_ports: [8443] })];
  release();
  await Promise.all([slow, ...queued]);

  t.equal(enforcer.calls.length, 5, 'ws_b and ws_c in one transaction');
  const loaded = store.load();
  t.same(loaded.get('ws_a')!.network.ingress_ports, [22]);
  t.same(loaded.get('ws_b')!.network.ingress_ports, [443], 'not overwritten by the slow one');
  t.same(loaded.get('ws_c')!.network.ingress_ports, [8443]);
});

t.test('deleting a workspace stores the links it ends, with it, in one transaction', async (t) => {
  const { store, registry } = setup(t);
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_b', input('10.0.0.3', null));
  await registry.patchNetwork('ws_b', { private_link_ids: ['ws_a'] });
  await registry.delete('ws_a');

  const loaded = store.load();
  t.same([...loaded.keys()], ['ws_b']);
  t.same(loaded.get('ws_b')!.network.private_link_ids, registry.get('ws_b').network
    .private_link_ids);
});
