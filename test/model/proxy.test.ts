/**
 * The custom proxy's structural validation, case by case: the strict host syntax, the 16
 * reserved ranges at both of their edges, and the credential rules (seed: Custom outbound
 * proxy, Parameters, Errors and Security notes).
 */
import t, { type Test } from 'tap';
import { ApiError, type ErrorCode } from '../../src/api/errors';
import { parseNetworkPatch } from '../../src/model/schema';
import { RESERVED_PROXY_RANGES, reservedRangeOf } from '../../src/model/proxy';
import { cidrRange, formatIpv4, parseCidr } from '../../src/net/ipv4';

const proxy = { host: '93.184.216.34', port: 3128 };

function send(custom: unknown): () => unknown {
  return () => parseNetworkPatch({ outbound_mode: 'custom', custom_proxy: custom });
}

function refuses(t: Test, fn: () => unknown, code: ErrorCode, what: string): ApiError | null {
  try {
    fn();
    t.fail(`${what}: expected ${code}`);
    return null;
  } catch (err) {
    t.equal((err as ApiError).code, code, what);
    return err as ApiError;
  }
}

t.test('the host is strict dotted-decimal IPv4; every other spelling is invalid', async (t) => {
  const cases: [string, unknown][] = [
    ['a host name', 'proxy.example.com'],
    ['localhost', 'localhost'],
    ['IPv6', '2001:db8::1'],
    ['IPv4-mapped IPv6', '::ffff:93.184.216.34'],
    ['bracketed IPv6', '[2001:db8::1]'],
    ['octal octet', '0135.184.216.34'],
    ['leading zero', '93.184.216.034'],
    ['zero-padded zero', '93.184.00.34'],
    ['hex octet', '0x5d.184.216.34'],
    ['hex integer', '0x5db8d822'],
    ['decimal integer', '1572395042'],
    ['short form a.b.c', '93.184.55330'],
    ['short form a.b', '93.12113954'],
    ['five octets', '93.184.216.34.1'],
    ['octet over 255', '93.184.216.256'],
    ['negative octet', '93.-184.216.34'],
    ['leading space', ' 93.184.216.34'],
    ['trailing space', '93.184.216.34 '],
    ['trailing newline', '93.184.216.34\n'],
    ['tab inside', '93.184.\t216.34'],
    ['trailing dot', '93.184.216.34.'],
    ['leading dot', '.93.184.216.34'],
    ['double dot', '93.184..216.34'],
    ['Arabic-Indic digits', '٩٣.١٨٤.٢١٦.٣٤'],
    ['fullwidth digits', '９３.１８４.２１６.３４'],
    ['a port inside', '93.184.216.34:3128'],
    ['a CIDR', '93.184.216.0/24'],
    ['a URL', 'http://93.184.216.34'],
    ['empty string', ''],
    ['a number', 1572395042],
    ['null', null],
    ['an array', ['93.184.216.34']],
  ];
  for (const [what, host] of cases) {
    const err = refuses(t, send({ ...proxy, host }), 'invalid_proxy_host', what);
    if (err) t.equal(err.status, 400);
  }
  refuses(t, send({ port: 3128 }), 'invalid_proxy_host', 'a missing host');
});

t.test('each of the 16 reserved ranges is refused at both edges, naming it', async (t) => {
  t.equal(RESERVED_PROXY_RANGES.length, 16);
  for (const range of RESERVED_PROXY_RANGES) {
    const parsed = parseCidr(range);
    if (!parsed.ok) throw new Error(range);
    const [first, last] = cidrRange(parsed.cidr);
    for (const n of new Set([first, last, Math.floor((first + last) / 2)])) {
      const host = formatIpv4(n);
      // 255.255.255.255 ends 240/4 too; the message names the most specific range.
      const named = host === '255.255.255.255' ? '255.255.255.255/32' : range;
      const err = refuses(t, send({ ...proxy, host }), 'reserved_proxy_host', host);
      t.match(err?.message ?? '', named, `${host} names ${named}`);
      t.equal(reservedRangeOf(n), named);
    }
  }
});

t.test('the addresses just outside the reserved ranges are public', async (t) => {
  const edges = ['1.0.0.0', '9.255.255.255', '11.0.0.0', '100.63.255.255', '100.128.0.0',
    '126.255.255.255', '128.0.0.0', '169.253.255.255', '169.255.0.0', '172.15.255.255',
    '172.32.0.0', '191.255.255.255', '192.0.1.0', '192.0.3.0', '192.88.98.255',
    '192.88.100.0', '192.167.255.255', '192.169.0.0', '198.17.255.255', '198.20.0.0',
    '198.51.99.255', '198.51.101.0', '203.0.112.255', '203.0.114.0', '223.255.255.255'];
  for (const host of edges) {
    const parsed = send({ ...proxy, host })() as { custom_proxy: { host: string } };
    t.equal(parsed.custom_proxy.host, host, `${host} is public`);
  }
});

t.test('port and protocol', async (t) => {
  for (const port of [0, 65536, -1, 3128.5, '3128', null, true, 1e10]) {
    refuses(t, send({ ...proxy, port }), 'invalid_proxy_port', JSON.stringify(port));
  }
  refuses(t, send({ host: proxy.host }), 'invalid_proxy_port', 'a missing port');
  for (const port of [1, 65535]) t.ok(send({ ...proxy, port })(), `port ${port}`);

  for (const protocol of ['socks5', 'HTTP', 'https ', '', null, 1]) {
    refuses(t, send({ ...proxy, protocol }), 'invalid_proxy_protocol', JSON.stringify(protocol));
  }
  const parsed = send(proxy)() as { custom_proxy: { protocol: string } };
  t.equal(parsed.custom_proxy.protocol, 'http', 'http by default');
});

t.test('credentials: printable ASCII without : @ / ? or whitespace, both or neither', async (t) => {
  const bad = ['a:b', 'a@b', 'a/b', 'a?b', 'a b', 'a\tb', 'a\nb', '\u007f', 'é', '',
    'x'.repeat(256)];
  for (const value of bad) {
    const label = JSON.stringify(value);
    refuses(t, send({ ...proxy, username: value, password: 'p' }),
      'invalid_proxy_credentials', `username ${label}`);
    refuses(t, send({ ...proxy, username: 'u', password: value }),
      'invalid_proxy_credentials', `password ${label}`);
  }

  const lone = [{ username: 'u' }, { password: 'p' }, { username: 'u', password: null },
    { username: null, password: 'p' }, { username: '', password: 'p' },
    { username: 'u', password: '' }];
  for (const extra of lone) {
    refuses(t, send({ ...proxy, ...extra }), 'invalid_proxy_credentials', JSON.stringify(extra));
  }

  const ok = send({ ...proxy, username: 'A-z_0.9~!$%&', password: 'p=+*#[]{}' })() as {
    custom_proxy: { username: string; password: string };
  };
  t.equal(ok.custom_proxy.username, 'A-z_0.9~!$%&');
  t.equal(ok.custom_proxy.password, 'p=+*#[]{}');
});

t.test('a refused password or username is never echoed in the message', async (t) => {
  for (const extra of [{ username: 'u', password: 'hunter2 x' },
    { username: 'hunter2:x', password: 'p' }, { username: 'hunter2' }]) {
    const err = refuses(t, send({ ...proxy, ...extra }), 'invalid_proxy_credentials', 'echo');
    t.notMatch(err?.message ?? '', /hunter2/);
  }
});

t.test('outbound_mode and a missing custom_proxy', async (t) => {
  for (const mode of ['proxy', 'CUSTOM', '', null, 1]) {
    refuses(t, () => parseNetworkPatch({ outbound_mode: mode }), 'invalid_outbound_mode',
      JSON.stringify(mode));
  }
  refuses(t, () => parseNetworkPatch({ outbound_mode: 'custom' }), 'missing_custom_proxy',
    'custom alone');
  for (const custom of [null, '93.184.216.34:3128', [], 3128]) {
    refuses(t, send(custom), 'missing_custom_proxy', JSON.stringify(custom));
  }
  t.same(parseNetworkPatch({ outbound_mode: 'managed' }), { outbound_mode: 'managed' });
});
