import t from 'tap';
import { isRefusal, testApi, workspaceBody } from '../support/api';

t.test('PUT creates (201) and updates (200) a workspace', async (t) => {
  const api = testApi();
  const created = await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  t.equal(created.status, 201);
  t.strictSame(created.body, {
    success: true, created: true, id: 'ws_a', ip: '10.0.0.2', gateway: '10.0.0.1',
    interface: 'tap_a', name: null, image_logo: null, image_color: null, plan: 'free',
  });

  const body = workspaceBody('10.0.0.3', 'tap_a', { name: 'agent', plan: 'scale' });
  const updated = await api.call('PUT', '/workspace/ws_a', body);
  t.equal(updated.status, 200);
  t.equal(updated.body.created, false);
  t.equal(updated.body.plan, 'scale');
  t.equal(api.enforcer.calls.length, 2);
});

t.test('GET /workspaces lists id, ip and interface by id', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_b', workspaceBody('10.0.0.3', null));
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  const list = await api.call('GET', '/workspaces');
  t.equal(list.status, 200);
  t.strictSame(list.body, {
    success: true,
    workspaces: [
      { id: 'ws_a', ip: '10.0.0.2', interface: 'tap_a' },
      { id: 'ws_b', ip: '10.0.0.3', interface: null },
    ],
  });
});

t.test('DELETE removes a workspace', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  const gone = await api.call('DELETE', '/workspace/ws_a');
  t.strictSame(gone.body, { success: true, id: 'ws_a' });
  t.equal(api.enforcer.calls[1].changes[0].next, null);
  isRefusal(t, await api.call('GET', '/workspace/ws_a/network'), 'workspace_not_found');
  isRefusal(t, await api.call('DELETE', '/workspace/ws_a'), 'workspace_not_found');
});

t.test('every PUT refusal has its code and changes nothing', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  const before = (await api.call('GET', '/workspaces')).body;
  const calls = api.enforcer.calls.length;

  const cases: [string, unknown, Parameters<typeof isRefusal>[2], RegExp][] = [
    ['/workspace/nope', workspaceBody('10.0.0.3', 'tap_b'), 'invalid_workspace_id', /"nope"/],
    [`/workspace/ws_${'x'.repeat(65)}`, workspaceBody('10.0.0.3', 'tap_b'),
      'invalid_workspace_id', /ws_/],
    ['/workspace/ws_b', [], 'invalid_body', /JSON object/],
    ['/workspace/ws_b', workspaceBody('10.0.0.3', 'tap_b', { extra: 1 }), 'unknown_field',
      /"extra"/],
    ['/workspace/ws_b', workspaceBody('10.0.0.300', 'tap_b'), 'invalid_ip', /^ip must be/],
    ['/workspace/ws_b', workspaceBody('172.16.0.3', 'tap_b'), 'invalid_ip',
      /outside the workspace network 10.0.0.0\/8/],
    ['/workspace/ws_b', workspaceBody('10.0.0.3', 'tap b'), 'invalid_interface', /interface/],
    ['/workspace/ws_b', workspaceBody('10.0.0.3', 'tap_b', { plan: 'gold' }), 'invalid_plan',
      /"gold"/],
    ['/workspace/ws_b', workspaceBody('10.0.0.2', 'tap_b'), 'ip_in_use', /ws_a/],
    ['/workspace/ws_b', workspaceBody('10.0.0.3', 'tap_a'), 'interface_in_use', /tap_a.*ws_a/],
  ];
  for (const [url, body, code, message] of cases) {
    isRefusal(t, await api.call('PUT', url, body), code, message);
  }
  t.same((await api.call('GET', '/workspaces')).body, before, 'GET after is identical');
  t.equal(api.enforcer.calls.length, calls, 'the enforcer was not called');
});

t.test('a kernel refusal of a PUT is kernel_refused and stores nothing', async (t) => {
  const api = testApi();
  api.enforcer.refuseNext('add chain ws_a_in', 12, 'Cannot allocate memory');
  const reply = await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  isRefusal(t, reply, 'kernel_refused', /add chain ws_a_in.*Cannot allocate memory/);
  t.same((await api.call('GET', '/workspaces')).body.workspaces, []);
});

t.test('DELETE with a bad id, and a kernel refusal of a DELETE', async (t) => {
  const api = testApi();
  isRefusal(t, await api.call('DELETE', '/workspace/ws.a'), 'invalid_workspace_id');
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  const before = (await api.call('GET', '/workspace/ws_a/network')).body;

  api.enforcer.refuseNext('delete chain ws_a_out', 16, 'Device or resource busy');
  isRefusal(t, await api.call('DELETE', '/workspace/ws_a'), 'kernel_refused', /busy/);
  t.same((await api.call('GET', '/workspace/ws_a/network')).body, before);
});

t.test('DELETE that says JSON but sends no body is a plain DELETE', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  const gone = await api.call('DELETE', '/workspace/ws_a', undefined, {
    'content-type': 'application/json',
  });
  t.equal(gone.status, 200);
  const empty = await api.call('PATCH', '/workspace/ws_a/network', undefined, {
    'content-type': 'application/json',
  });
  t.equal(empty.status, 400, 'a PATCH still needs its body');
});

t.test('placement: gateway in the network, no network or broadcast address', async (t) => {
  const api = testApi();
  const put = (ip: string, gateway: string) =>
    api.call('PUT', '/workspace/ws_p', { ip, gateway, interface: 'tap_p' });
  isRefusal(t, await put('10.0.0.2', '8.8.8.8'), 'invalid_ip');
  isRefusal(t, await put('10.0.0.0', '10.0.0.1'), 'invalid_ip');
  isRefusal(t, await put('10.255.255.255', '10.0.0.1'), 'invalid_ip');
  await api.call('PUT', '/workspace/ws_q', workspaceBody('10.0.1.2', 'tap_q'));
  isRefusal(t, await put('10.0.1.1', '10.0.1.2'), 'ip_in_use');
  t.equal(api.enforcer.calls.length, 1, 'only ws_q reached the kernel');
});
