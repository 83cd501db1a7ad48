import t from 'tap';
import { applyPatch } from '../../src/model/patch';
import { defaultPolicy, type Workspace } from '../../src/model/types';
import { ingressOf, networkView, patchView } from '../../src/model/view';

function workspace(id: string, ip: string, extra: Partial<Workspace> = {}): Workspace {
  return {
    id,
    ip,
    gateway: '10.0.0.1',
    interface: `tap-${id}`,
    name: null,
    image_logo: null,
    image_color: null,
    plan: 'free',
    network: defaultPolicy(),
    ...extra,
  };
}

const caller1 = workspace('ws_caller_1', '10.40.0.5', {
  name: 'my-agent',
  image_logo: 'node',
  image_color: '#3C873A',
});
const caller2 = workspace('ws_caller_2', '10.40.0.12', { name: 'orchestrator', interface: null });

t.test('a new workspace shows the seed default, keys in the seed order', async (t) => {
  const view = networkView(workspace('ws_a1b2c3d4', '10.0.0.15'), new Map());
  t.strictSame(view, {
    success: true,
    ip: '10.0.0.15',
    gateway: '10.0.0.1',
    public_access: false,
    allow_internet: true,
    ingress: [],
    ingress_ports: [],
    egress: [],
    egress_ports: [],
    outbound_ip: null,
    outbound_mode: 'managed',
    outbound_proxy: null,
    private_links: [],
  });
  t.same(Object.keys(view), [
    'success', 'ip', 'gateway', 'public_access', 'allow_internet', 'ingress', 'ingress_ports',
    'egress', 'egress_ports', 'outbound_ip', 'outbound_mode', 'outbound_proxy', 'private_links',
  ]);
});

t.test('private links resolve in request order; unknown ids are skipped', async (t) => {
  const target = workspace('ws_target', '10.40.0.2', {
    network: applyPatch(defaultPolicy(), {
      private_link_ids: ['ws_caller_2', 'ws_gone', 'ws_caller_1'],
    }),
  });
  const registry = new Map([caller1, caller2, target].map((w) => [w.id, w]));
  const view = networkView(target, registry);

  t.same(view.ingress, ['10.40.0.12', '10.40.0.5']);
  t.strictSame(view.private_links, [
    { id: 'ws_caller_2', ip: '10.40.0.12', name: 'orchestrator', image_logo: null,
      image_color: null },
    { id: 'ws_caller_1', ip: '10.40.0.5', name: 'my-agent', image_logo: 'node',
      image_color: '#3C873A' },
  ]);
});

t.test('"host" comes first in ingress while public_access is true', async (t) => {
  const target = workspace('ws_target', '10.40.0.2', {
    network: applyPatch(defaultPolicy(), {
      public_access: true,
      private_link_ids: ['ws_caller_1'],
    }),
  });
  const registry = new Map([[caller1.id, caller1]]);
  t.same(ingressOf(target, registry), ['host', '10.40.0.5']);
});

t.test('a link to itself does not resolve', async (t) => {
  const self = workspace('ws_self', '10.0.0.9', {
    network: applyPatch(defaultPolicy(), { private_link_ids: ['ws_self'] }),
  });
  t.same(networkView(self, new Map([[self.id, self]])).private_links, []);
});

t.test('a custom proxy shows has_credentials and never the password', async (t) => {
  const proxy = { host: '93.184.216.34', port: 3128, protocol: 'https' as const,
    has_credentials: true };
  const custom = workspace('ws_c', '10.0.0.3', {
    network: { ...defaultPolicy(), outbound_mode: 'custom', custom_proxy: proxy },
  });
  const view = networkView(custom, new Map());
  t.strictSame(view.outbound_proxy, {
    host: '93.184.216.34', port: 3128, protocol: 'https', has_credentials: true,
  });

  const bare = { ...custom, network: { ...custom.network,
    custom_proxy: { ...proxy, has_credentials: false } } };
  t.equal(networkView(bare, new Map()).outbound_proxy?.has_credentials, false);
});

t.test('the PATCH view adds the resolved link ids only when they were sent', async (t) => {
  const target = workspace('ws_target', '10.40.0.2', {
    network: applyPatch(defaultPolicy(), { private_link_ids: ['ws_caller_1', 'ws_gone'] }),
  });
  const registry = new Map([[caller1.id, caller1]]);
  const sent = patchView(target, registry, true);
  t.same(sent.private_link_ids, ['ws_caller_1']);
  t.equal(Object.keys(sent).at(-1), 'private_link_ids', 'appended after the seed fields');
  t.notOk('private_link_ids' in patchView(target, registry, false));
});

t.test('the view is a copy: changing it does not change the workspace', async (t) => {
  const w = workspace('ws_a', '10.0.0.2', {
    network: applyPatch(defaultPolicy(), { ingress_ports: [80] }),
  });
  networkView(w, new Map()).ingress_ports.push(1);
  t.same(w.network.ingress_ports, [80]);
});
