import t, { type Test } from 'tap';
import { ApiError, type ErrorCode } from '../../src/api/errors';
import {
  isInterfaceName,
  parseNetworkPatch,
  parseWorkspaceId,
  parseWorkspaceInput,
} from '../../src/model/schema';

const workspace = { ip: '10.0.0.15', gateway: '10.0.0.1', interface: 'tap0' };
const proxy = { host: '93.184.216.34', port: 3128 };

/** Asserts that `fn` throws an ApiError with `code` whose message matches `message`. */
function refuses(t: Test, fn: () => unknown, code: ErrorCode, message?: RegExp) {
  try {
    fn();
    t.fail(`expected ${code}`);
  } catch (err) {
    t.type(err, ApiError);
    t.equal((err as ApiError).code, code);
    if (message) t.match((err as ApiError).message, message);
  }
}

t.test('workspace ids', async (t) => {
  t.equal(parseWorkspaceId('ws_a1b2c3d4'), 'ws_a1b2c3d4');
  t.equal(parseWorkspaceId(`ws_${'A-_9'.repeat(16)}`), `ws_${'A-_9'.repeat(16)}`);
  const bad = ['', 'ws_', 'ws_a.b', 'WS_a', 'ws_a b', `ws_${'a'.repeat(65)}`, 'xws_a', 'ws_ä', 7];
  for (const id of bad) {
    refuses(t, () => parseWorkspaceId(id), 'invalid_workspace_id', /must be "ws_"/);
  }
});

t.test('interface names', async (t) => {
  for (const name of ['tap0', 'a', 'tap-ws_a1.b', 'x'.repeat(15)]) t.ok(isInterfaceName(name));
  for (const name of ['', 'x'.repeat(16), 'a/b', 'a:b', 'a b', '.', '..', 'tap\n', 'täp', 1]) {
    t.notOk(isInterfaceName(name), JSON.stringify(name));
  }
});

t.test('a workspace body is normalized with defaults', async (t) => {
  t.same(parseWorkspaceInput(workspace), {
    ...workspace,
    name: null,
    image_logo: null,
    image_color: null,
    plan: 'free',
  });
  const full = { ...workspace, interface: null, name: 'agent', image_logo: 'node',
    image_color: '#3C873A', plan: 'scale' };
  t.same(parseWorkspaceInput(full), full);
});

t.test('a workspace body refuses each bad field with its code', async (t) => {
  refuses(t, () => parseWorkspaceInput(undefined), 'invalid_body', /body must be a JSON object/);
  refuses(t, () => parseWorkspaceInput([workspace]), 'invalid_body');
  refuses(t, () => parseWorkspaceInput({ ...workspace, ip: '010.0.0.1' }), 'invalid_ip', /^ip /);
  refuses(t, () => parseWorkspaceInput({ ...workspace, ip: undefined }), 'invalid_ip', /nothing/);
  refuses(t, () => parseWorkspaceInput({ ...workspace, gateway: 'x' }), 'invalid_ip', /gateway/);
  refuses(t, () => parseWorkspaceInput({ ...workspace, gateway: workspace.ip }), 'invalid_ip',
    /must differ/);
  refuses(t, () => parseWorkspaceInput({ ...workspace, interface: 'a/b' }), 'invalid_interface');
  refuses(t, () => parseWorkspaceInput({ ip: '10.0.0.2', gateway: '10.0.0.1' }),
    'invalid_interface', /or null/);
  refuses(t, () => parseWorkspaceInput({ ...workspace, plan: 'gold' }), 'invalid_plan',
    /"free", "hobby", "pro", "scale", "enterprise", got "gold"/);
  refuses(t, () => parseWorkspaceInput({ ...workspace, name: 5 }), 'invalid_body', /^name /);
  refuses(t, () => parseWorkspaceInput({ ...workspace, name: 'x'.repeat(201) }), 'invalid_body');
  refuses(t, () => parseWorkspaceInput({ ...workspace, network: {} }), 'unknown_field',
    /"network"/);
});

t.test('a patch keeps only the fields sent', async (t) => {
  t.same(parseNetworkPatch({}), {});
  t.same(parseNetworkPatch({ allow_internet: false, ingress_ports: [80, 443] }), {
    allow_internet: false,
    ingress_ports: [80, 443],
  });
  t.same(parseNetworkPatch({ egress: ['API.GitHub.com.', '10.0.0.0/8'] }), {
    egress: ['api.github.com', '10.0.0.0/8'],
  });
  t.same(parseNetworkPatch({ outbound_mode: 'managed' }), { outbound_mode: 'managed' });
});

t.test('ports are JSON integers 1..65535', async (t) => {
  for (const bad of [0, 65536, 80.5, '80', true, null, -1, 1e10]) {
    refuses(t, () => parseNetworkPatch({ ingress_ports: [80, bad] }), 'invalid_port',
      /^ingress_ports\[1\] must be an integer from 1 to 65535, got /);
  }
  refuses(t, () => parseNetworkPatch({ egress_ports: [70000] }), 'invalid_port',
    /egress_ports\[0\] must be an integer from 1 to 65535, got 70000/);
  refuses(t, () => parseNetworkPatch({ ingress_ports: 80 }), 'invalid_port', /must be a list/);
  t.same(parseNetworkPatch({ egress_ports: [1, 65535] }), { egress_ports: [1, 65535] });
});

t.test('lists hold at most 50 entries', async (t) => {
  const ports = Array.from({ length: 51 }, (_, i) => i + 1);
  refuses(t, () => parseNetworkPatch({ ingress_ports: ports }), 'too_many_entries',
    /ingress_ports has 51 entries; at most 50/);
  refuses(t, () => parseNetworkPatch({ egress_ports: ports }), 'too_many_entries');
  refuses(t, () => parseNetworkPatch({ egress: ports.map((i) => `h${i}.com`) }),
    'too_many_entries');
  refuses(t, () => parseNetworkPatch({ private_link_ids: ports.map((i) => `ws_${i}`) }),
    'too_many_entries');
  t.equal(parseNetworkPatch({ ingress_ports: ports.slice(0, 50) }).ingress_ports?.length, 50);
});

t.test('egress entries', async (t) => {
  refuses(t, () => parseNetworkPatch({ egress: ['a.com', '*.b.com'] }), 'invalid_egress',
    /^egress\[1\] "\*\.b\.com" is a wildcard/);
  refuses(t, () => parseNetworkPatch({ egress: [5] }), 'invalid_egress', /must be a string/);
  refuses(t, () => parseNetworkPatch({ egress: ['10.0.0.1/8'] }), 'invalid_egress',
    /host bits set; the network is 10.0.0.0\/8/);
  refuses(t, () => parseNetworkPatch({ egress: ['é.com'] }), 'invalid_egress', /ASCII/);
  refuses(t, () => parseNetworkPatch({ egress: 'a.com' }), 'invalid_egress', /must be a list/);
});

t.test('booleans, link ids, outbound_mode', async (t) => {
  refuses(t, () => parseNetworkPatch({ allow_internet: 'yes' }), 'invalid_body',
    /allow_internet must be true or false/);
  refuses(t, () => parseNetworkPatch({ public_access: 1 }), 'invalid_body');
  refuses(t, () => parseNetworkPatch({ private_link_ids: ['ws_a', 'nope'] }),
    'invalid_workspace_id', /private_link_ids\[1\]/);
  refuses(t, () => parseNetworkPatch({ outbound_mode: 'direct' }), 'invalid_outbound_mode',
    /must be "managed" or "custom", got "direct"/);
  refuses(t, () => parseNetworkPatch({ outbound_mode: null }), 'invalid_outbound_mode');
});

t.test('unknown fields are refused by name, before other problems', async (t) => {
  refuses(t, () => parseNetworkPatch({ ingress_ports: [0], egres: ['a.com'] }), 'unknown_field',
    /unknown field "egres"/);
  refuses(t, () => parseNetworkPatch({ ingress: ['1.2.3.4'] }), 'unknown_field', /"ingress"/);
  refuses(t, () => parseNetworkPatch({ outbound_mode: 'custom',
    custom_proxy: { ...proxy, tls: true } }), 'unknown_field', /"custom_proxy.tls"/);
  refuses(t, () => parseNetworkPatch(null), 'invalid_body');
  refuses(t, () => parseNetworkPatch('{}'), 'invalid_body');
});

t.test('a custom proxy is validated with the seed codes', async (t) => {
  const custom = (p: unknown) => () =>
    parseNetworkPatch({ outbound_mode: 'custom', custom_proxy: p });

  t.same(custom(proxy)(), {
    outbound_mode: 'custom',
    custom_proxy: { ...proxy, protocol: 'http', username: null, password: null },
  });
  refuses(t, () => parseNetworkPatch({ outbound_mode: 'custom' }), 'missing_custom_proxy');
  refuses(t, custom(null), 'missing_custom_proxy');
  refuses(t, custom('93.184.216.34:3128'), 'missing_custom_proxy');
  refuses(t, custom({ ...proxy, host: 'proxy.example.com' }), 'invalid_proxy_host',
    /custom_proxy.host must be an IPv4 address/);
  refuses(t, custom({ ...proxy, host: '010.1.1.1' }), 'invalid_proxy_host');
  refuses(t, custom({ port: 3128 }), 'invalid_proxy_host');
  refuses(t, custom({ ...proxy, port: 0 }), 'invalid_proxy_port');
  refuses(t, custom({ ...proxy, port: '3128' }), 'invalid_proxy_port');
  refuses(t, custom({ host: proxy.host }), 'invalid_proxy_port');
  refuses(t, custom({ ...proxy, protocol: 'socks5' }), 'invalid_proxy_protocol');
  t.equal(custom({ ...proxy, protocol: 'https' })().custom_proxy?.protocol, 'https');
});

t.test('a proxy host in any of the 16 reserved ranges is refused', async (t) => {
  const custom = (host: string) => () =>
    parseNetworkPatch({ outbound_mode: 'custom', custom_proxy: { ...proxy, host } });
  const reserved = ['0.1.2.3', '10.9.9.9', '100.64.0.1', '100.127.255.255', '127.0.0.1',
    '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.0.0.8', '192.0.2.1',
    '192.88.99.1', '192.168.1.1', '198.18.0.1', '198.19.255.255', '198.51.100.1',
    '203.0.113.10', '224.0.0.1', '239.255.255.255', '240.0.0.1', '255.255.255.255'];
  for (const host of reserved) {
    refuses(t, custom(host), 'reserved_proxy_host', new RegExp(`${host} is in the reserved`));
  }
  for (const host of ['100.63.255.255', '100.128.0.0', '172.32.0.1', '198.20.0.1', '8.8.8.8',
    '1.1.1.1', '223.255.255.255', '192.0.1.1']) {
    t.equal(custom(host)().custom_proxy?.host, host, `${host} is public`);
  }
});

t.test('proxy credentials', async (t) => {
  const custom = (extra: object) => () =>
    parseNetworkPatch({ outbound_mode: 'custom', custom_proxy: { ...proxy, ...extra } });

  t.same(custom({ username: 'my-user', password: 'my-pass' })().custom_proxy, {
    ...proxy, protocol: 'http', username: 'my-user', password: 'my-pass',
  });
  const forbidden = ['a:b', 'a@b', 'a/b', 'a?b', 'a b', 'a\tb', '', 'pässword', 'x'.repeat(256)];
  for (const bad of forbidden) {
    refuses(t, custom({ username: 'u', password: bad }), 'invalid_proxy_credentials');
    refuses(t, custom({ username: bad, password: 'p' }), 'invalid_proxy_credentials');
  }
  refuses(t, custom({ username: 'u' }), 'invalid_proxy_credentials', /without .*password/);
  refuses(t, custom({ password: 'p' }), 'invalid_proxy_credentials', /without .*username/);
  refuses(t, custom({ username: 'u', password: null }), 'invalid_proxy_credentials');
  refuses(t, custom({ username: 5, password: 'p' }), 'invalid_proxy_credentials');
});

t.test('a refused credential is never echoed', async (t) => {
  try {
    parseNetworkPatch({ outbound_mode: 'custom',
      custom_proxy: { ...proxy, username: 'u', password: 'hunter2 secret' } });
  } catch (err) {
    t.notMatch((err as Error).message, /hunter2/);
  }
});

t.test('custom_proxy is accepted only with outbound_mode custom', async (t) => {
  refuses(t, () => parseNetworkPatch({ custom_proxy: proxy }), 'invalid_body', /only together/);
  refuses(t, () => parseNetworkPatch({ outbound_mode: 'managed', custom_proxy: proxy }),
    'invalid_body');
});
