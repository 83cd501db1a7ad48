import t from 'tap';
import { ApiError } from '../../src/api/errors';
import type { WorkspaceInput } from '../../src/model/schema';
import { WorkspaceRegistry } from '../../src/service/registry';
import { RecordingEnforcer } from '../support/recording-enforcer';
import type { DurableState } from '../../src/state/durable';

function input(ip: string, iface: string | null, extra: Partial<WorkspaceInput> = {}) {
  return { ip, gateway: '10.0.0.1', interface: iface, name: null, image_logo: null,
    image_color: null, plan: 'free' as const, ...extra };
}

function setup() {
  const enforcer = new RecordingEnforcer();
  const registry = new WorkspaceRegistry({
    enforcer,
    customProxyPlans: ['scale', 'enterprise'],
    workspaceNetwork: '10.0.0.0/8',
  });
  return { enforcer, registry };
}

/** Lets every queued microtask and timer run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

t.test('a new workspace starts with the default policy, applied then stored', async (t) => {
  const { enforcer, registry } = setup();
  const result = await registry.put('ws_a', input('10.0.0.2', 'tap_a'));

  t.equal(result.created, true);
  t.equal(enforcer.calls.length, 1);
  t.same(enforcer.calls[0].changes, [{ prev: null, next: result.workspace }]);
  t.equal(enforcer.calls[0].registry.get('ws_a'), result.workspace);
  t.same(registry.getNetwork('ws_a').ingress, []);
  t.same(registry.list(), [{ id: 'ws_a', ip: '10.0.0.2', interface: 'tap_a' }]);
});

t.test('PUT on an existing workspace keeps its network', async (t) => {
  const { registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.patchNetwork('ws_a', { ingress_ports: [80] });
  const again = await registry.put('ws_a', input('10.0.0.3', 'tap_a2', { name: 'renamed' }));

  t.equal(again.created, false);
  t.equal(again.workspace.name, 'renamed');
  t.same(registry.getNetwork('ws_a').ingress_ports, [80]);
  t.equal(registry.getNetwork('ws_a').ip, '10.0.0.3');
});

t.test('PUT refuses a shared ip, a shared tap, an ip outside the network', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  const before = registry.snapshot();

  await t.rejects(registry.put('ws_b', input('10.0.0.2', 'tap_b')), { code: 'ip_in_use' });
  await t.rejects(registry.put('ws_b', input('10.0.0.3', 'tap_a')), { code: 'interface_in_use' });
  await t.rejects(registry.put('ws_b', input('192.168.0.3', null)), { code: 'invalid_ip' });
  t.equal(enforcer.calls.length, 1, 'the enforcer was not called');
  t.same(registry.snapshot(), before);

  await registry.put('ws_b', input('10.0.0.3', null));
  await registry.put('ws_c', input('10.0.0.4', null));
  t.pass('remote workspaces (interface null) may coexist');
});

t.test('unknown workspaces are workspace_not_found', async (t) => {
  const { enforcer, registry } = setup();
  t.throws(() => registry.getNetwork('ws_x'), { code: 'workspace_not_found' });
  await t.rejects(registry.patchNetwork('ws_x', {}), { code: 'workspace_not_found' });
  await t.rejects(registry.delete('ws_x'), { code: 'workspace_not_found' });
  t.equal(enforcer.calls.length, 0);
});

t.test('a kernel refusal stores nothing and propagates', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  const before = registry.getNetwork('ws_a');

  enforcer.refuseNext();
  await t.rejects(registry.patchNetwork('ws_a', { ingress_ports: [80] }), { name: 'KernelError' });
  t.same(registry.getNetwork('ws_a'), before);

  enforcer.refuseNext();
  await t.rejects(registry.put('ws_b', input('10.0.0.3', 'tap_b')), { name: 'KernelError' });
  t.throws(() => registry.get('ws_b'), { code: 'workspace_not_found' });

  enforcer.refuseNext();
  await t.rejects(registry.delete('ws_a'), { name: 'KernelError' });
  t.same(registry.getNetwork('ws_a'), before);
});

t.test('custom proxy: plan_required, then not_implemented, nothing changed', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_free', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_scale', input('10.0.0.3', 'tap_b', { plan: 'scale' }));
  const calls = enforcer.calls.length;
  const custom = {
    outbound_mode: 'custom' as const,
    custom_proxy: { host: '93.184.216.34', port: 3128, protocol: 'http' as const,
      username: null, password: null },
  };

  await t.rejects(registry.patchNetwork('ws_free', custom), { code: 'plan_required' });
  await t.rejects(registry.patchNetwork('ws_scale', custom), { code: 'not_implemented' });
  t.equal(enforcer.calls.length, calls);
  t.equal(registry.getNetwork('ws_scale').outbound_mode, 'managed');
});

t.test('DELETE recompiles the workspaces that link to the deleted one', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_b', input('10.0.0.3', 'tap_b'));
  await registry.put('ws_r', input('10.0.0.4', null));
  await registry.patchNetwork('ws_b', { private_link_ids: ['ws_a'] });
  await registry.patchNetwork('ws_r', { private_link_ids: ['ws_a'] });
  const b = registry.get('ws_b');

  await registry.delete('ws_a');
  const call = enforcer.calls.at(-1)!;
  t.same(enforcer.changedIds(enforcer.calls.length - 1), ['ws_a', 'ws_b'],
    'local linkers only; a remote workspace has no kernel state');
  t.equal(call.changes[0].next, null);
  t.equal(call.changes[1].prev, b);
  t.same(call.changes[1].next?.network.private_link_ids, [], 'the link is dropped');
  t.notOk(call.registry.has('ws_a'), 'resolved against the registry without it');
  t.equal(call.registry.get('ws_b'), call.changes[1].next, 'the registry holds the new ws_b');
  t.same(registry.getNetwork('ws_b').ingress, []);
  t.same(registry.get('ws_b').network.private_link_ids, [], 'stored without the link');
  t.same(registry.get('ws_r').network.private_link_ids, [], 'remote linkers forget it too');
});

t.test('a workspace registered again under a deleted id inherits no links', async (t) => {
  const { registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_b', input('10.0.0.3', 'tap_b'));
  await registry.patchNetwork('ws_b', { private_link_ids: ['ws_a'] });

  await registry.delete('ws_a');
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  t.same(registry.getNetwork('ws_b').ingress, []);
  t.same(registry.getNetwork('ws_b').private_links, []);
});

t.test('a refused DELETE keeps every link', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_b', input('10.0.0.3', 'tap_b'));
  await registry.patchNetwork('ws_b', { private_link_ids: ['ws_a'] });

  enforcer.refuseNext();
  await t.rejects(registry.delete('ws_a'), { name: 'KernelError' });
  t.same(registry.get('ws_b').network.private_link_ids, ['ws_a']);
  t.same(registry.getNetwork('ws_b').ingress, ['10.0.0.2']);
});

t.test('PATCH stores only the links that resolve, in request order', async (t) => {
  const { registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_b', input('10.0.0.3', 'tap_b'));
  await registry.put('ws_r', input('10.9.0.4', null, { name: 'remote' }));

  const body = await registry.patchNetwork('ws_a', {
    private_link_ids: ['ws_r', 'ws_nope', 'ws_a', 'ws_b'],
  });
  t.same(body.private_link_ids, ['ws_r', 'ws_b'], 'unknown and self left out');
  t.same(body.ingress, ['10.9.0.4', '10.0.0.3']);
  t.same(registry.get('ws_a').network.private_link_ids, ['ws_r', 'ws_b']);

  // An id that did not resolve stays unlinked when a workspace takes it later.
  await registry.put('ws_nope', input('10.0.0.5', null));
  t.same(registry.getNetwork('ws_a').ingress, ['10.9.0.4', '10.0.0.3']);

  const kept = await registry.patchNetwork('ws_a', { public_access: true });
  t.notOk('private_link_ids' in kept, 'not sent, not answered');
  t.same(kept.ingress, ['host', '10.9.0.4', '10.0.0.3'], 'links kept, host first');
  const cleared = await registry.patchNetwork('ws_a', { private_link_ids: [] });
  t.same(cleared.private_link_ids, []);
  t.same(cleared.ingress, ['host'], 'public_access untouched by links');
});

t.test('an ip change, also of a remote workspace, recompiles its linkers', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_b', input('10.0.0.3', 'tap_b'));
  await registry.put('ws_a', input('10.0.0.2', null));
  await registry.patchNetwork('ws_b', { private_link_ids: ['ws_a'] });
  t.same(registry.getNetwork('ws_b').ingress, ['10.0.0.2'], 'a remote workspace resolves');

  await registry.put('ws_a', input('10.0.0.7', null));
  t.same(enforcer.changedIds(enforcer.calls.length - 1), ['ws_a', 'ws_b'],
    'its re-registration with a new ip recompiles the linkers in the same transaction');
  t.same(registry.getNetwork('ws_b').ingress, ['10.0.0.7']);

  await registry.put('ws_a', input('10.0.0.9', 'tap_a'));
  t.same(enforcer.changedIds(enforcer.calls.length - 1), ['ws_a', 'ws_b']);
  t.same(registry.getNetwork('ws_b').ingress, ['10.0.0.9']);

  await registry.put('ws_a', input('10.0.0.9', 'tap_a', { name: 'same ip' }));
  t.same(enforcer.changedIds(enforcer.calls.length - 1), ['ws_a'], 'same ip: no linkers');
});

t.test('two PATCHes on one workspace apply in arrival order', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  const release = enforcer.hold('ws_a');

  const first = registry.patchNetwork('ws_a', { ingress_ports: [1] });
  const second = registry.patchNetwork('ws_a', { ingress_ports: [2] });
  await settle();
  t.equal(enforcer.calls.length, 2, 'the second waits for the first to finish');

  release();
  await Promise.all([first, second]);
  t.same(enforcer.calls[1].changes[0].next?.network.ingress_ports, [1]);
  t.same(enforcer.calls[2].changes[0].prev?.network.ingress_ports, [1], 'built on the first');
  t.same(registry.getNetwork('ws_a').ingress_ports, [2]);
});

t.test('a refused request does not stop the next one for the same workspace', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  enforcer.refuseNext();
  const failed = registry.patchNetwork('ws_a', { ingress_ports: [1] });
  const next = registry.patchNetwork('ws_a', { ingress_ports: [2] });
  await t.rejects(failed);
  t.same((await next).ingress_ports, [2]);
});

t.test('PATCHes queued behind a transaction share the next one', async (t) => {
  const { enforcer, registry } = setup();
  for (const [id, ip] of [['ws_a', '10.0.0.2'], ['ws_b', '10.0.0.3'], ['ws_c', '10.0.0.4']]) {
    await registry.put(id, input(ip, `tap_${id}`));
  }
  const release = enforcer.hold('ws_a');
  const slow = registry.patchNetwork('ws_a', { ingress_ports: [1] });
  await settle();

  const queued = [
    registry.patchNetwork('ws_b', { ingress_ports: [2] }),
    registry.patchNetwork('ws_c', { ingress_ports: [3] }),
  ];
  await settle();
  t.equal(enforcer.calls.length, 4, 'the two wait for the transaction in flight');
  release();
  const [b, c] = await Promise.all(queued);
  await slow;

  t.equal(enforcer.calls.length, 5, 'one transaction for both');
  t.same(enforcer.changedIds(4), ['ws_b', 'ws_c']);
  t.same(b.ingress_ports, [2]);
  t.same(c.ingress_ports, [3]);
});

t.test('a refused request in a batch fails alone; the others still take effect', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_b', input('10.0.0.3', 'tap_b'));
  const release = enforcer.hold('ws_a');
  const slow = registry.patchNetwork('ws_a', { ingress_ports: [1] });
  await settle();

  enforcer.refuseAlways('ws_c');
  const results = Promise.allSettled([
    registry.patchNetwork('ws_b', { ingress_ports: [2] }),
    registry.put('ws_c', input('10.0.0.4', 'tap_c')),
    registry.put('ws_d', input('10.0.0.5', 'tap_d')),
  ]);
  release();
  await slow;
  const [b, c, d] = await results;

  t.equal(b.status, 'fulfilled');
  t.equal(c.status, 'rejected');
  t.match((c as PromiseRejectedResult).reason, { name: 'KernelError', workspace: 'ws_c' });
  t.equal(d.status, 'fulfilled');
  t.same(enforcer.changedIds(3).sort(), ['ws_b', 'ws_c', 'ws_d'], 'the batch, refused');
  t.same([4, 5, 6].map((n) => enforcer.changedIds(n)).sort(), [['ws_b'], ['ws_c'], ['ws_d']],
    'then one by one');
  t.equal(enforcer.calls.length, 7);
  t.same(registry.getNetwork('ws_b').ingress_ports, [2]);
  t.throws(() => registry.get('ws_c'), { code: 'workspace_not_found' }, 'the refused: nothing');
  t.same(registry.list().map((w) => w.id), ['ws_a', 'ws_b', 'ws_d']);
});

t.test('a request whose check fails in a batch fails alone, after those before it', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  const release = enforcer.hold('ws_a');
  const slow = registry.patchNetwork('ws_a', { ingress_ports: [1] });
  await settle();

  const results = Promise.allSettled([
    registry.put('ws_c', input('10.0.0.4', 'tap_c')),
    registry.put('ws_d', input('10.0.0.4', 'tap_d')),
  ]);
  release();
  await slow;
  const [c, d] = await results;

  t.equal(c.status, 'fulfilled');
  t.match((d as PromiseRejectedResult).reason, { code: 'ip_in_use' }, 'ws_c took the ip first');
  t.same(enforcer.changedIds(2), ['ws_c'], 'the batch holds the one that passed');
  t.equal(enforcer.calls.length, 3);
});

t.test('a PUT waits for PATCHes in flight and runs alone', async (t) => {
  const { enforcer, registry } = setup();
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  const release = enforcer.hold('ws_a');
  const patch = registry.patchNetwork('ws_a', { ingress_ports: [1] });
  await settle();

  const put = registry.put('ws_b', input('10.0.0.3', 'tap_b'));
  await settle();
  t.equal(enforcer.calls.length, 2, 'the PUT has not reached the enforcer');
  release();
  await Promise.all([patch, put]);
  t.same(enforcer.changedIds(2), ['ws_b']);
});

t.test('errors are ApiErrors with their status', async (t) => {
  const { registry } = setup();
  try {
    registry.get('ws_none');
  } catch (err) {
    t.type(err, ApiError);
    t.equal((err as ApiError).status, 404);
  }
});

t.test('a plan that loses the custom proxy takes the workspace back to managed', async (t) => {
  const enforcer = new RecordingEnforcer();
  const custom = {
    id: 'ws_c', ...input('10.0.0.5', 'tap_c', { plan: 'scale' }),
    network: {
      ...(await import('../../src/model/types')).defaultPolicy(),
      outbound_mode: 'custom' as const,
      custom_proxy: { host: '45.0.0.1', port: 3128, protocol: 'http' as const,
        has_credentials: false },
    },
  };
  const registry = new WorkspaceRegistry({
    enforcer, customProxyPlans: ['scale', 'enterprise'], workspaceNetwork: '10.0.0.0/8',
    initial: [custom as never],
  });
  await registry.put('ws_c', input('10.0.0.5', 'tap_c', { plan: 'enterprise' }));
  t.equal(registry.getNetwork('ws_c').outbound_mode, 'custom', 'still allowed');

  await registry.put('ws_c', input('10.0.0.5', 'tap_c', { plan: 'pro' }));
  const view = registry.getNetwork('ws_c');
  t.equal(view.outbound_mode, 'managed');
  t.equal(view.outbound_proxy, null);
  t.equal(enforcer.calls.at(-1)!.changes[0].next!.network.custom_proxy, null, 'in the kernel too');
});

t.test('what a call stores names every workspace it changed, remote linkers too', async (t) => {
  const stored: string[][] = [];
  const registry = new WorkspaceRegistry({
    enforcer: new RecordingEnforcer(),
    customProxyPlans: [],
    workspaceNetwork: '10.0.0.0/8',
    durable: {
      record: async (...args: Parameters<DurableState['record']>) =>
        void stored.push([...(args[3] ?? [])]),
    } as unknown as DurableState,
  });
  await registry.put('ws_a', input('10.0.0.2', 'tap_a'));
  await registry.put('ws_r', input('10.0.0.4', null));
  await registry.patchNetwork('ws_r', { private_link_ids: ['ws_a'] });
  t.same(stored.at(-1), ['ws_r'], 'a PATCH stores its workspace alone');

  await registry.delete('ws_a');
  t.same(stored.at(-1), ['ws_a', 'ws_r'], 'the deleted one and the remote one unlinked from it');
});
