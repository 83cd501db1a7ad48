/**
 * The config's dns key: its defaults, what it accepts, and a refusal naming the bad key for
 * each way it can be wrong; and reading the host's resolvers from resolv.conf.
 */
import t from 'tap';
import { DEFAULT_CONFIG, parseConfig } from '../../src/config';
import { parseUpstream, resolvConfServers, upstreamServers } from '../../src/dns/upstream';

t.test('defaults: resolv.conf, a grace of 60 s, 2 s per upstream', async (t) => {
  t.same(parseConfig({}).dns, { upstream: null, grace_s: 60, timeout_ms: 2000 });
  t.same(DEFAULT_CONFIG.dns, parseConfig({}).dns);
  const dns = parseConfig({ dns: { upstream: ['127.0.0.1', '10.1.1.1:5353'], grace_s: 0 } }).dns;
  t.same(dns, { upstream: ['127.0.0.1', '10.1.1.1:5353'], grace_s: 0, timeout_ms: 2000 });
});

t.test('each bad dns value is refused, naming the key', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ upstream: [] }, /^config: dns\.upstream must name at least one resolver/],
    [{ upstream: ['dns.google'] }, /^config: dns\.upstream\[0\] must be "IPv4" or "IPv4:port"/],
    [{ upstream: ['1.1.1.1:0'] }, /dns\.upstream\[0\]/],
    [{ upstream: ['1.1.1.1:65536'] }, /dns\.upstream\[0\]/],
    [{ upstream: ['[::1]:53'] }, /dns\.upstream\[0\]/],
    [{ upstream: '127.0.0.1' }, /dns\.upstream must be a list/],
    [{ upstream: Array(9).fill('127.0.0.1') }, /at most 8/],
    [{ grace_s: -1 }, /^config: dns\.grace_s must be an integer from 0 to 3600/],
    [{ grace_s: 1.5 }, /dns\.grace_s/],
    [{ timeout_ms: 50 }, /^config: dns\.timeout_ms must be an integer from 100 to 30000/],
    [{ port: 53 }, /^config: unknown key dns\.port/],
    ['8.8.8.8', /^config: dns must be an object/],
  ];
  for (const [dns, message] of bad) t.throws(() => parseConfig({ dns }), { message }, String(dns));
});

t.test('upstream entries and resolv.conf', async (t) => {
  t.same(parseUpstream('192.0.2.53'), { host: '192.0.2.53', port: 53 });
  t.same(parseUpstream('192.0.2.53:5353'), { host: '192.0.2.53', port: 5353 });
  t.equal(parseUpstream('192.0.2.53:053'), null);
  t.equal(parseUpstream('192.0.2.53:1:2'), null);

  const conf = [
    '# generated', 'search lab.test', 'nameserver 127.0.0.53 # stub', 'nameserver ::1',
    'nameserver 192.0.2.1', 'options edns0', ';nameserver 192.0.2.9',
  ].join('\n');
  t.same(resolvConfServers(conf), [{ host: '127.0.0.53', port: 53 },
    { host: '192.0.2.1', port: 53 }], 'IPv4 nameservers, in order, comments ignored');
  t.same(upstreamServers(['192.0.2.7:54']), [{ host: '192.0.2.7', port: 54 }], 'configured');
  t.ok(upstreamServers(null).length > 0, 'from this machine, or 127.0.0.1');
});
