import t from 'tap';
import {
  cidrContains,
  cidrRange,
  entryRange,
  formatIpv4,
  isIpv4,
  mergeEntries,
  mergeRanges,
  parseCidr,
  parseIpv4,
  prefixMask,
} from '../../src/net/ipv4';

t.test('parseIpv4 reads canonical dotted decimal', async (t) => {
  t.equal(parseIpv4('0.0.0.0'), 0);
  t.equal(parseIpv4('10.0.0.15'), 0x0a00000f);
  t.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  t.equal(parseIpv4('192.168.1.1'), 0xc0a80101);
});

t.test('parseIpv4 refuses every other form', async (t) => {
  const refused = [
    '', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n', '1.2.3', '1.2.3.4.5', '1..2.3', '256.0.0.1',
    '1.2.3.256', '01.2.3.4', '1.2.3.04', '00.0.0.0', '0x7f.0.0.1', '0177.0.0.1', '127.1',
    '2130706433', '1.2.3.-4', '+1.2.3.4', '1.2.3.4/32', '１.2.3.4', '1e2.0.0.1', '1.2.3.4.',
  ];
  for (const text of refused) t.equal(parseIpv4(text), null, JSON.stringify(text));
  t.notOk(isIpv4('1.2.3'));
  t.ok(isIpv4('1.2.3.4'));
});

t.test('formatIpv4 is the inverse of parseIpv4', async (t) => {
  for (const text of ['0.0.0.0', '10.0.0.15', '255.255.255.255', '203.0.113.50']) {
    t.equal(formatIpv4(parseIpv4(text)!), text);
  }
  t.throws(() => formatIpv4(-1), RangeError);
  t.throws(() => formatIpv4(2 ** 32), RangeError);
  t.throws(() => formatIpv4(1.5), RangeError);
});

t.test('prefixMask covers /0 and /32', async (t) => {
  t.equal(prefixMask(0), 0);
  t.equal(prefixMask(8), 0xff000000);
  t.equal(prefixMask(31), 0xfffffffe);
  t.equal(prefixMask(32), 0xffffffff);
});

t.test('parseCidr accepts a network and refuses host bits', async (t) => {
  t.same(parseCidr('10.0.0.0/8'), { ok: true, cidr: { base: 0x0a000000, prefix: 8 } });
  t.same(parseCidr('0.0.0.0/0'), { ok: true, cidr: { base: 0, prefix: 0 } });
  t.same(parseCidr('1.2.3.4/32'), { ok: true, cidr: { base: 0x01020304, prefix: 32 } });
  t.same(parseCidr('10.0.0.1/8'), { ok: false, reason: 'host_bits', network: '10.0.0.0/8' });
  t.same(parseCidr('1.2.3.4/0'), { ok: false, reason: 'host_bits', network: '0.0.0.0/0' });
});

t.test('parseCidr refuses malformed prefixes and addresses', async (t) => {
  for (const text of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', '10.0.0.0/08', '10.0.0.0/-1',
    '10.0.0.0/8/8', '10.0.0/8', '010.0.0.0/8', '10.0.0.0/ 8', '/8', '10.0.0.0/0x8']) {
    t.same(parseCidr(text), { ok: false, reason: 'syntax' }, text);
  }
});

t.test('cidrRange and cidrContains', async (t) => {
  const cidr = { base: 0x0a000000, prefix: 8 };
  t.same(cidrRange(cidr), [0x0a000000, 0x0affffff]);
  t.same(cidrRange({ base: 0, prefix: 0 }), [0, 0xffffffff]);
  t.ok(cidrContains(cidr, parseIpv4('10.255.0.1')!));
  t.notOk(cidrContains(cidr, parseIpv4('11.0.0.0')!));
  t.ok(cidrContains({ base: 0, prefix: 0 }, 0xffffffff));
});

t.test('entryRange takes an address or a CIDR and nothing else', async (t) => {
  t.same(entryRange('1.2.3.4'), [0x01020304, 0x01020304]);
  t.same(entryRange('1.2.3.0/24'), [0x01020300, 0x010203ff]);
  t.throws(() => entryRange('example.com'), RangeError);
  t.throws(() => entryRange('1.2.3.4/24'), RangeError);
});

t.test('mergeRanges joins overlapping and adjacent ranges, sorted', async (t) => {
  t.same(mergeRanges([]), []);
  t.same(mergeRanges([[5, 9], [1, 3]]), [[1, 3], [5, 9]], 'a gap keeps ranges apart');
  t.same(mergeRanges([[5, 9], [1, 4]]), [[1, 9]], 'adjacent ranges join');
  t.same(mergeRanges([[1, 10], [2, 3], [4, 12]]), [[1, 12]], 'contained and overlapping');
  t.same(mergeRanges([[7, 7], [7, 7]]), [[7, 7]], 'duplicates collapse');
  t.same(mergeRanges([[0, 0xffffffff], [5, 6]]), [[0, 0xffffffff]]);
});

t.test('mergeEntries gives the minimal disjoint list', async (t) => {
  const ranges = mergeEntries(['10.1.2.0/24', '10.1.0.0/16', '9.0.0.0/8', '10.2.0.0/16']);
  t.same(ranges.map(([a, b]) => [formatIpv4(a), formatIpv4(b)]), [
    ['9.0.0.0', '9.255.255.255'],
    ['10.1.0.0', '10.2.255.255'],
  ]);
  t.same(mergeEntries(['1.2.3.4', '1.2.3.5', '1.2.3.7']), [
    [0x01020304, 0x01020305],
    [0x01020307, 0x01020307],
  ]);
  t.same(mergeEntries(['255.255.255.255', '255.255.255.254/31']), [[0xfffffffe, 0xffffffff]]);
});
