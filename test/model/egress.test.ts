import t from 'tap';
import {
  classifyEgress,
  egressRanges,
  hasEgressNames,
  normalizeEgress,
} from '../../src/model/egress';

function kindOf(raw: string): string {
  const result = classifyEgress(raw);
  return result.ok ? result.entry.kind : 'refused';
}

t.test('addresses and CIDRs are stored as given', async (t) => {
  t.equal(kindOf('1.2.3.4'), 'address');
  t.equal(kindOf('203.0.113.0/24'), 'cidr');
  t.equal(kindOf('0.0.0.0/0'), 'cidr');
  t.equal(normalizeEgress('10.0.0.0/8'), '10.0.0.0/8');
});

t.test('a CIDR with host bits is refused and the network is suggested', async (t) => {
  const result = classifyEgress('10.0.0.1/8');
  t.same(result, { ok: false, problem: 'has host bits set; the network is 10.0.0.0/8' });
});

t.test('names are case-folded and lose one trailing dot', async (t) => {
  t.equal(normalizeEgress('API.GitHub.com'), 'api.github.com');
  t.equal(normalizeEgress('registry.npmjs.org.'), 'registry.npmjs.org');
  t.equal(normalizeEgress('xn--bcher-kva.example'), 'xn--bcher-kva.example', 'punycode');
  t.equal(normalizeEgress('localhost'), 'localhost', 'one label');
  t.equal(normalizeEgress('a-b.c0'), 'a-b.c0');
  t.equal(normalizeEgress(`${'a'.repeat(63)}.com`), `${'a'.repeat(63)}.com`);
});

t.test('a name of exactly 253 characters passes, 254 does not', async (t) => {
  const long = 'a'.repeat(63);
  const name253 = [long, long, long, 'b'.repeat(61)].join('.');
  t.equal(name253.length, 253);
  t.equal(kindOf(name253), 'name');
  t.equal(kindOf(`${name253}.`), 'name', 'the trailing dot does not count');
  t.equal(kindOf(`${name253}a`), 'refused');
});

t.test('everything else is refused with a reason', async (t) => {
  const refused = [
    '', ' ', 'exa mple.com', '*.example.com', 'https://example.com', 'example.com/path',
    'example.com:443', '1.2.3.4:80', 'bücher.example', '-a.com', 'a-.com', 'a..com', '.a.com',
    'a.com..', 'a_b.com', `${'a'.repeat(64)}.com`, '1.2.3', '01.2.3.4', '1.2.3.256',
    '1.2.3.4.5', 'example.123', '10.0.0.0/33', 'user@example.com', 'a\tb', '\u0000',
  ];
  for (const raw of refused) {
    const result = classifyEgress(raw);
    t.equal(result.ok, false, JSON.stringify(raw));
    if (!result.ok) t.match(result.problem, /\w/, 'the reason is a sentence');
  }
});

t.test('refusal reasons point at the mistake', async (t) => {
  const problem = (raw: string) => {
    const result = classifyEgress(raw);
    return result.ok ? '' : result.problem;
  };
  t.match(problem('*.example.com'), /wildcard/);
  t.match(problem('example.com:443'), /without scheme or port/);
  t.match(problem('https://example.com'), /is a URL; write the host name alone/);
  t.match(problem('example.com/path'), /URLs and paths are not accepted/);
  t.match(problem('bücher.example'), /xn--/);
  t.match(problem('1.2.3.256'), /not a valid IPv4 address/);
});

t.test('normalizeEgress throws on a refused entry', async (t) => {
  t.throws(() => normalizeEgress('*.x'), RangeError);
});

t.test('egressRanges merges addresses and CIDRs and leaves names out', async (t) => {
  t.same(egressRanges(['example.com', '1.2.3.4', '1.2.3.5', '1.2.0.0/16']), [
    [0x01020000, 0x0102ffff],
  ]);
  t.same(egressRanges(['example.com']), []);
  t.throws(() => egressRanges(['nope nope']), RangeError);
});

t.test('hasEgressNames', async (t) => {
  t.ok(hasEgressNames(['1.2.3.4', 'example.com']));
  t.notOk(hasEgressNames(['1.2.3.4', '10.0.0.0/8']));
  t.notOk(hasEgressNames([]));
});
