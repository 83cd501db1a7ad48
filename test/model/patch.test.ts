import t from 'tap';
import { applyPatch, unique } from '../../src/model/patch';
import { defaultPolicy, type NetworkPolicy } from '../../src/model/types';

const proxy = {
  host: '93.184.216.34',
  port: 3128,
  protocol: 'http' as const,
  username: null,
  password: null,
};
const withoutCredentials = { host: proxy.host, port: proxy.port, protocol: proxy.protocol };

t.test('an empty patch changes nothing', async (t) => {
  const policy = defaultPolicy();
  t.same(applyPatch(policy, {}), policy);
});

t.test('only the fields sent change', async (t) => {
  const policy: NetworkPolicy = { ...defaultPolicy(), ingress_ports: [22], egress: ['a.com'] };
  const next = applyPatch(policy, { public_access: true, egress_ports: [443] });
  t.same(next, { ...policy, public_access: true, egress_ports: [443] });
  t.same(policy.egress_ports, [], 'the stored policy is not mutated');
});

t.test('duplicates are dropped, first occurrence order kept', async (t) => {
  const next = applyPatch(defaultPolicy(), {
    ingress_ports: [443, 80, 443, 3000, 80],
    egress_ports: [53, 53],
    egress: ['b.com', 'a.com', 'b.com'],
    private_link_ids: ['ws_b', 'ws_a', 'ws_b'],
  });
  t.same(next.ingress_ports, [443, 80, 3000]);
  t.same(next.egress_ports, [53]);
  t.same(next.egress, ['b.com', 'a.com']);
  t.same(next.private_link_ids, ['ws_b', 'ws_a']);
});

t.test('allow_internet false clears egress', async (t) => {
  const policy: NetworkPolicy = { ...defaultPolicy(), egress: ['a.com'], egress_ports: [443] };
  const next = applyPatch(policy, { allow_internet: false });
  t.equal(next.allow_internet, false);
  t.same(next.egress, []);
  t.same(next.egress_ports, [443], 'egress_ports are kept');
});

t.test('egress sent with allow_internet false is stored empty', async (t) => {
  const next = applyPatch(defaultPolicy(), { allow_internet: false, egress: ['a.com'] });
  t.same(next.egress, []);
});

t.test('egress sent while the internet is already off is stored empty', async (t) => {
  const off = applyPatch(defaultPolicy(), { allow_internet: false });
  t.same(applyPatch(off, { egress: ['a.com'] }).egress, []);
});

t.test('turning the internet back on keeps egress empty (everything allowed)', async (t) => {
  const off = applyPatch(defaultPolicy(), { allow_internet: false });
  const on = applyPatch(off, { allow_internet: true });
  t.equal(on.allow_internet, true);
  t.same(on.egress, []);
});

t.test('custom stores the proxy without its credentials; managed forgets it', async (t) => {
  const custom = applyPatch(defaultPolicy(), { outbound_mode: 'custom', custom_proxy: proxy });
  t.equal(custom.outbound_mode, 'custom');
  t.strictSame(custom.custom_proxy, { ...withoutCredentials, has_credentials: false });

  const secret = { ...proxy, username: 'u', password: 'hunter2' };
  const authed = applyPatch(defaultPolicy(), { outbound_mode: 'custom', custom_proxy: secret });
  t.strictSame(authed.custom_proxy, { ...withoutCredentials, has_credentials: true });
  t.notMatch(JSON.stringify(authed), /hunter2|"u"/, 'the secret store keeps them');

  const managed = applyPatch(custom, { outbound_mode: 'managed' });
  t.equal(managed.outbound_mode, 'managed');
  t.equal(managed.custom_proxy, null);
});

t.test('unique', async (t) => {
  t.same(unique([3, 1, 3, 2, 1]), [3, 1, 2]);
  t.same(unique([]), []);
});
