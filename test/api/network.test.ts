import t from 'tap';
import type { ErrorCode } from '../../src/api/errors';
import { isRefusal, testApi, workspaceBody } from '../support/api';

async function withWorkspaces() {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.15', 'tap_a'));
  await api.call('PUT', '/workspace/ws_caller_1', workspaceBody('10.40.0.5', null,
    { name: 'my-agent', image_logo: 'node', image_color: '#3C873A' }));
  await api.call('PUT', '/workspace/ws_pro', workspaceBody('10.0.0.16', 'tap_p', { plan: 'pro' }));
  await api.call('PUT', '/workspace/ws_scale', workspaceBody('10.0.0.17', 'tap_s',
    { plan: 'scale' }));
  return api;
}

t.test('GET returns the seed response for a new workspace', async (t) => {
  const api = await withWorkspaces();
  const reply = await api.call('GET', '/workspace/ws_a/network');
  t.equal(reply.status, 200);
  t.strictSame(reply.body, {
    success: true, ip: '10.0.0.15', gateway: '10.0.0.1', public_access: false,
    allow_internet: true, ingress: [], ingress_ports: [], egress: [], egress_ports: [],
    outbound_ip: null, outbound_mode: 'managed', outbound_proxy: null, private_links: [],
  });
});

t.test('PATCH applies a partial update and answers with the whole object', async (t) => {
  const api = await withWorkspaces();
  const reply = await api.call('PATCH', '/workspace/ws_a/network', {
    allow_internet: true,
    ingress_ports: [80, 443, 3000, 80],
    egress: ['API.github.com', 'registry.npmjs.org.'],
    public_access: true,
  });
  t.equal(reply.status, 200);
  t.same(reply.body.ingress, ['host']);
  t.same(reply.body.ingress_ports, [80, 443, 3000]);
  t.same(reply.body.egress, ['api.github.com', 'registry.npmjs.org']);
  t.notOk('private_link_ids' in reply.body, 'not sent, not returned');

  const next = api.enforcer.calls.at(-1)!.changes[0].next!;
  t.same(next.network.ingress_ports, [80, 443, 3000], 'the enforcer got the new policy');
  const get = await api.call('GET', '/workspace/ws_a/network');
  const { private_link_ids: _, ...rest } = reply.body;
  t.same(get.body, rest, 'GET shows what PATCH answered');
});

t.test('private links resolve; the answer names the resolved ids', async (t) => {
  const api = await withWorkspaces();
  const reply = await api.call('PATCH', '/workspace/ws_a/network', {
    private_link_ids: ['ws_caller_1', 'ws_unknown'],
  });
  t.same(reply.body.private_link_ids, ['ws_caller_1']);
  t.same(reply.body.ingress, ['10.40.0.5']);
  t.strictSame(reply.body.private_links, [{
    id: 'ws_caller_1', ip: '10.40.0.5', name: 'my-agent', image_logo: 'node',
    image_color: '#3C873A',
  }]);

  const cleared = await api.call('PATCH', '/workspace/ws_a/network', { private_link_ids: [] });
  t.same(cleared.body.private_link_ids, []);
  t.same(cleared.body.private_links, []);
});

t.test('allow_internet false clears egress', async (t) => {
  const api = await withWorkspaces();
  await api.call('PATCH', '/workspace/ws_a/network', { egress: ['1.2.3.4'] });
  const off = await api.call('PATCH', '/workspace/ws_a/network', {
    allow_internet: false,
    egress: ['5.6.7.8'],
  });
  t.equal(off.body.allow_internet, false);
  t.same(off.body.egress, []);
});

t.test('every PATCH refusal has its code and status and changes nothing', async (t) => {
  const api = await withWorkspaces();
  await api.call('PATCH', '/workspace/ws_a/network', { ingress_ports: [22], egress: ['a.com'] });
  const before = (await api.call('GET', '/workspace/ws_a/network')).body;
  const calls = api.enforcer.calls.length;
  const proxy = { host: '93.184.216.34', port: 3128 };
  const custom = (p: object) => ({ outbound_mode: 'custom', custom_proxy: { ...proxy, ...p } });

  const cases: [unknown, ErrorCode, RegExp][] = [
    ['not json', 'invalid_body', /not valid JSON/],
    [[1], 'invalid_body', /JSON object/],
    [{ allow_internet: 'false' }, 'invalid_body', /allow_internet must be true or false/],
    [{ egres: [] }, 'unknown_field', /"egres"/],
    [{ ingress: ['host'] }, 'unknown_field', /"ingress"/],
    [{ ingress_ports: [80, 443, 3000, 70000] }, 'invalid_port',
      /ingress_ports\[3\] must be an integer from 1 to 65535, got 70000/],
    [{ egress_ports: [80.5] }, 'invalid_port', /got 80.5/],
    [{ egress_ports: ['80'] }, 'invalid_port', /got "80"/],
    [{ ingress_ports: [true] }, 'invalid_port', /got true/],
    [{ egress_ports: Array.from({ length: 51 }, (_, i) => i + 1) }, 'too_many_entries', /51/],
    [{ egress: ['https://example.com/'] }, 'invalid_egress', /egress\[0\]/],
    [{ egress: ['exämple.com'] }, 'invalid_egress', /ASCII/],
    [{ private_link_ids: ['caller'] }, 'invalid_workspace_id', /private_link_ids\[0\]/],
    [{ outbound_mode: 'proxy' }, 'invalid_outbound_mode', /"proxy"/],
    [{ outbound_mode: 'custom' }, 'missing_custom_proxy', /custom_proxy/],
    [custom({ host: 'proxy.example.com' }), 'invalid_proxy_host', /custom_proxy.host/],
    [custom({ host: '10.0.0.1' }), 'reserved_proxy_host', /10.0.0.0\/8/],
    [custom({ host: '127.0.0.1' }), 'reserved_proxy_host', /127.0.0.0\/8/],
    [custom({ port: 65536 }), 'invalid_proxy_port', /65536/],
    [custom({ protocol: 'socks5' }), 'invalid_proxy_protocol', /socks5/],
    [custom({ username: 'u' }), 'invalid_proxy_credentials', /password/],
    [custom({ username: 'u', password: 'p@ss' }), 'invalid_proxy_credentials', /: @ \/ \?/],
    [{ custom_proxy: proxy }, 'invalid_body', /outbound_mode "custom"/],
    // Under the body limit, yet deeper than JSON.stringify's stack: still a 400.
    [`{"egress":${'['.repeat(30000)}${']'.repeat(30000)}}`, 'invalid_egress', /nested too deeply/],
  ];
  for (const [body, code, message] of cases) {
    const headers = typeof body === 'string' ? { 'content-type': 'application/json' } : {};
    const reply = await api.call('PATCH', '/workspace/ws_a/network', body, headers);
    isRefusal(t, reply, code, message);
  }
  const after = await api.call('GET', '/workspace/ws_a/network');
  t.same(after.body, before, 'GET after is identical');
  t.equal(api.enforcer.calls.length, calls, 'the enforcer was not called');
});

t.test('PATCH of an unknown or badly named workspace', async (t) => {
  const api = await withWorkspaces();
  isRefusal(t, await api.call('PATCH', '/workspace/ws_nobody/network', {}),
    'workspace_not_found', /ws_nobody/);
  isRefusal(t, await api.call('PATCH', '/workspace/nobody/network', {}), 'invalid_workspace_id');
  isRefusal(t, await api.call('GET', '/workspace/ws_nobody/network'), 'workspace_not_found');
  isRefusal(t, await api.call('GET', '/workspace/ws%20a/network'), 'invalid_workspace_id');
});

t.test('a custom proxy: plan_required below Scale, then 501 with nothing changed', async (t) => {
  const api = await withWorkspaces();
  const body = {
    outbound_mode: 'custom',
    custom_proxy: { host: '93.184.216.34', port: 3128, username: 'u', password: 'hunter2' },
    ingress_ports: [443],
  };
  const before = (await api.call('GET', '/workspace/ws_pro/network')).body;
  const calls = api.enforcer.calls.length;

  isRefusal(t, await api.call('PATCH', '/workspace/ws_pro/network', body), 'plan_required',
    /scale or enterprise.*pro/);
  isRefusal(t, await api.call('PATCH', '/workspace/ws_scale/network', body), 'not_implemented',
    /custom outbound proxies/);
  t.same((await api.call('GET', '/workspace/ws_pro/network')).body, before);
  t.same((await api.call('GET', '/workspace/ws_scale/network')).body.ingress_ports, [],
    'the other fields of the refused request were not applied either');
  t.equal(api.enforcer.calls.length, calls);
  t.notMatch(JSON.stringify(api.logs), /hunter2/, 'the password never reaches the log');
});

t.test('outbound_mode managed on a managed workspace is accepted', async (t) => {
  const api = await withWorkspaces();
  const reply = await api.call('PATCH', '/workspace/ws_a/network', { outbound_mode: 'managed' });
  t.equal(reply.status, 200);
  t.equal(reply.body.outbound_mode, 'managed');
  t.equal(reply.body.outbound_proxy, null);
});

t.test('a kernel refusal of a PATCH is kernel_refused and changes nothing', async (t) => {
  const api = await withWorkspaces();
  const before = (await api.call('GET', '/workspace/ws_a/network')).body;
  api.enforcer.refuseNext('add element in_port', 17, 'File exists');

  const reply = await api.call('PATCH', '/workspace/ws_a/network', { ingress_ports: [80] });
  isRefusal(t, reply, 'kernel_refused',
    /kernel refused add element in_port for ws_a: File exists \(a stale element\)/);
  t.same((await api.call('GET', '/workspace/ws_a/network')).body, before);
  t.equal(api.enforcer.calls.length, 5, 'the enforcer was called and threw');
});

t.test('a plain exception from the enforcer is internal_error, logged as a fault', async (t) => {
  const api = await withWorkspaces();
  api.enforcer.apply = async () => {
    throw new Error('netlink socket closed');
  };
  const reply = await api.call('PATCH', '/workspace/ws_a/network', { ingress_ports: [80] });
  isRefusal(t, reply, 'internal_error');
  t.notMatch(reply.body.message, /netlink/, 'internals stay in the log');
  const fault = api.logs.find((line) => line.msg === 'request failed');
  t.equal(fault?.level, 50, 'logged at error');
});
