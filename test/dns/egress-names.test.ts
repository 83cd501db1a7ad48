/**
 * Egress names through the API: every kind of refused name is a 400 invalid_egress that
 * names the entry and changes nothing; accepted names are stored (and returned by GET)
 * lower case, without a trailing dot.
 */
import t from 'tap';
import { isRefusal, testApi, workspaceBody } from '../support/api';

const refusals: [string, RegExp][] = [
  ['*.github.com', /wildcard/],
  ['https://api.github.com/', /is a URL/],
  ['api.github.com/v3', /URLs and paths are not accepted/],
  ['api.github.com:443', /without scheme or port/],
  ['bücher.example', /punycode/],
  ['例え.jp', /punycode/],
  ['api github.com', /printable ASCII without spaces/],
  ['-api.github.com', /labels of 1-63 letters, digits and inner hyphens/],
  ['api-.github.com', /labels of 1-63/],
  ['api..github.com', /labels of 1-63/],
  ['api_v2.github.com', /labels of 1-63/],
  [`${'a'.repeat(64)}.com`, /labels of 1-63/],
  [`${'a.'.repeat(127)}com`, /longer than 253 characters/],
  ['github.com..', /labels of 1-63/],
  ['1.2.3.4.5', /not a valid IPv4 address/],
  ['example.123', /neither a valid IPv4 address nor a host name/],
];

t.test('each refused name is invalid_egress, names the entry, and changes nothing', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.15', 'tap_a'));
  await api.call('PATCH', '/workspace/ws_a/network', { egress: ['kept.example'] });
  const applied = api.enforcer.calls.length;

  for (const [name, reason] of refusals) {
    const reply = await api.call('PATCH', '/workspace/ws_a/network', { egress: ['ok.example',
      name] });
    isRefusal(t, reply, 'invalid_egress', /egress\[1\]/);
    t.match(reply.body.message, reason, JSON.stringify(name));
  }
  const stored = await api.call('GET', '/workspace/ws_a/network');
  t.same(stored.body.egress, ['kept.example'], 'the stored list is unchanged');
  t.equal(api.enforcer.calls.length, applied, 'the kernel was never asked');
});

t.test('names are stored case-folded without one trailing dot, punycode accepted', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.15', 'tap_a'));
  const sent = ['API.GitHub.com.', 'xn--bcher-kva.example', 'Registry.NPMJS.org', '8.8.8.8'];
  const reply = await api.call('PATCH', '/workspace/ws_a/network', { egress: sent });
  const stored = ['api.github.com', 'xn--bcher-kva.example', 'registry.npmjs.org', '8.8.8.8'];
  t.equal(reply.status, 200);
  t.same(reply.body.egress, stored);
  t.same((await api.call('GET', '/workspace/ws_a/network')).body.egress, stored, 'GET');
});
