/**
 * The dedicated outbound IP endpoints through the real server and registry over a
 * recording enforcer: GET /zone/mine, POST and DELETE /workspace/:id/network/ip, every
 * refusal with its status and the order of the checks, and that a refusal changes nothing.
 */
import pino from 'pino';
import t from 'tap';
import type { Zone } from '../../src/config';
import { buildServer } from '../../src/api/server';
import { WorkspaceRegistry } from '../../src/service/registry';
import { RecordingEnforcer } from '../support/recording-enforcer';
import { isRefusal, workspaceBody } from '../support/api';
import { ZONES } from '../outbound/fixtures/zones';

/** A server over a registry with `zones`, and ws_a and ws_b registered. */
async function api(zones: Zone[] = ZONES) {
  const enforcer = new RecordingEnforcer();
  const logger = pino({ level: 'silent' });
  const registry = new WorkspaceRegistry({
    enforcer, customProxyPlans: ['scale'], workspaceNetwork: '10.0.0.0/8', zones, logger,
  });
  const app = buildServer({ registry, enforcer, logger });
  const call = async (method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH', url: string,
    body?: unknown) => {
    const raw = typeof body === 'string' || body === undefined;
    const res = await app.inject({
      method, url, payload: raw ? (body as string | undefined) : JSON.stringify(body),
      headers: raw ? {} : { 'content-type': 'application/json' },
    });
    return { status: res.statusCode, body: res.json(), headers: res.headers };
  };
  await call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  await call('PUT', '/workspace/ws_b', workspaceBody('10.0.0.3', 'tap_b', { plan: 'scale' }));
  return { call, enforcer, registry };
}

t.test('GET /zone/mine lists the pool as the seed shows it', async (t) => {
  const { call } = await api();
  const res = await call('GET', '/zone/mine');
  t.equal(res.status, 200);
  t.same(res.body, { success: true, proxies: ZONES.map(({ ip, country_code }) =>
    ({ ip, country_code })) });
  t.same((await (await api([])).call('GET', '/zone/mine')).body, { success: true, proxies: [] });
});

t.test('POST applies a pool address; GET network shows it; DELETE releases it', async (t) => {
  const { call, enforcer } = await api();
  const res = await call('POST', '/workspace/ws_a/network/ip', { ip: '198.18.0.51' });
  t.equal(res.status, 200);
  t.same(res.body, { success: true, ip: '198.18.0.51', country_code: 'DE' });
  t.equal((await call('GET', '/workspace/ws_a/network')).body.outbound_ip, '198.18.0.51');
  const change = enforcer.calls.at(-1)!.changes[0];
  t.equal(change.prev!.network.outbound_ip, null);
  t.equal(change.next!.network.outbound_ip, '198.18.0.51');

  const calls = enforcer.calls.length;
  t.equal((await call('POST', '/workspace/ws_a/network/ip', { ip: '198.18.0.51' })).status, 200);
  t.equal(enforcer.calls.length, calls, 'the same address again changes nothing');

  const released = await call('DELETE', '/workspace/ws_a/network/ip');
  t.same(released.body, { success: true, released: '198.18.0.51' });
  t.equal((await call('GET', '/workspace/ws_a/network')).body.outbound_ip, null);
  const again = await call('DELETE', '/workspace/ws_a/network/ip');
  t.same(again.body, { success: true, released: null }, 'releasing nothing is no error');
  t.equal(enforcer.calls.length, calls + 1);
});

t.test('several workspaces may share one pool address', async (t) => {
  const { call } = await api();
  for (const id of ['ws_a', 'ws_b']) {
    const res = await call('POST', `/workspace/${id}/network/ip`, { ip: '198.18.0.50' });
    t.equal(res.status, 200);
  }
  t.equal((await call('GET', '/workspace/ws_b/network')).body.outbound_ip, '198.18.0.50');
});

t.test('in custom mode the address is stored for when managed mode returns', async (t) => {
  const { call, registry } = await api();
  await call('POST', '/workspace/ws_b/network/ip', { ip: '198.18.0.50' });
  registry.get('ws_b').network.outbound_mode = 'custom';
  const res = await call('POST', '/workspace/ws_b/network/ip', { ip: '198.18.0.51' });
  t.equal(res.status, 200);
  t.equal(registry.get('ws_b').network.outbound_ip, '198.18.0.51');
});

t.test('every refusal has its code and status and changes nothing', async (t) => {
  const { call, enforcer, registry } = await api();
  await call('POST', '/workspace/ws_a/network/ip', { ip: '198.18.0.50' });
  const calls = enforcer.calls.length;
  const url = '/workspace/ws_a/network/ip';

  isRefusal(t, await call('POST', url), 'ip_required', /ip/);
  isRefusal(t, await call('POST', url, {}), 'ip_required', /GET \/zone\/mine/);
  isRefusal(t, await call('POST', url, { ip: null }), 'ip_required');
  isRefusal(t, await call('POST', url, { ip: 7 }), 'invalid_body', /ip must be a string/);
  isRefusal(t, await call('POST', url, ['198.18.0.50']), 'invalid_body');
  isRefusal(t, await call('POST', url, { ip: '198.18.0.50', zone: 'US' }), 'unknown_field',
    /"zone"/);
  isRefusal(t, await call('POST', url, { ip: '203.0.113.50' }), 'invalid_zone_ip',
    /not in the pool/);
  isRefusal(t, await call('POST', url, { ip: '198.18.0.52' }), 'zone_missing_host', /FR/);
  isRefusal(t, await call('POST', '/workspace/ws_zz/network/ip', { ip: '198.18.0.50' }),
    'workspace_not_found');
  isRefusal(t, await call('DELETE', '/workspace/ws_zz/network/ip'), 'workspace_not_found');
  isRefusal(t, await call('POST', '/workspace/nope/network/ip', { ip: '198.18.0.50' }),
    'invalid_workspace_id');

  const empty = await api([]);
  isRefusal(t, await empty.call('POST', url, { ip: '198.18.0.50' }), 'pool_empty');
  t.equal(empty.enforcer.calls.length, 2, 'only the two registrations');

  t.equal(enforcer.calls.length, calls, 'no refusal reached the enforcer');
  t.equal(registry.get('ws_a').network.outbound_ip, '198.18.0.50', 'nor the stored state');
});

t.test('the order of checks: body, then pool, then workspace', async (t) => {
  const { call } = await api();
  const missing = '/workspace/ws_zz/network/ip';
  isRefusal(t, await call('POST', missing, {}), 'ip_required', undefined);
  isRefusal(t, await call('POST', missing, { ip: '203.0.113.50' }), 'invalid_zone_ip');
  isRefusal(t, await call('POST', missing, { ip: '198.18.0.52' }), 'zone_missing_host');
  isRefusal(t, await (await api([])).call('POST', missing, {}), 'ip_required', undefined);
  isRefusal(t, await (await api([])).call('POST', missing, { ip: 'x' }), 'pool_empty');
});

t.test('a kernel refusal stores nothing', async (t) => {
  const { call, enforcer, registry } = await api();
  enforcer.refuseNext('add route default via 198.18.0.1 table 30500', 101, 'unreachable');
  const res = await call('POST', '/workspace/ws_a/network/ip', { ip: '198.18.0.50' });
  isRefusal(t, res, 'kernel_refused', /add route default via 198\.18\.0\.1/);
  t.equal(registry.get('ws_a').network.outbound_ip, null);
});
