/**
 * The name policy: which mode a workspace's DNS is in, which names it may ask for (listed
 * names and the aliases their answers led to), CNAME chains, rebinding answers, and when
 * the daemon asks again.
 */
import t from 'tap';
import type { Answer } from 'dns-packet';
import { AliasBook, dnsWorkspace, egressNames, followChain } from '../../src/dns/policy';
import { rebindingReason } from '../../src/dns/rebinding';
import { refreshDelay, MIN_REFRESH_MS, RETRY_MS } from '../../src/dns/refresh';
import { defaultPolicy, type NetworkPolicy, type Workspace } from '../../src/model/types';

function ws(policy: Partial<NetworkPolicy>, iface: string | null = 'tap_a'): Workspace {
  return { id: 'ws_a', ip: '10.0.0.15', gateway: '10.0.0.1', interface: iface, name: null,
    image_logo: null, image_color: null, plan: 'free', network: { ...defaultPolicy(), ...policy } };
}

t.test('the mode follows allow_internet and the egress list', async (t) => {
  t.equal(dnsWorkspace(ws({}))?.mode, 'open', 'empty list: every name');
  t.equal(dnsWorkspace(ws({ allow_internet: false }))?.mode, 'off');
  const listed = dnsWorkspace(ws({ egress: ['api.github.com', '1.2.3.4', '10.0.0.0/8'] }))!;
  t.equal(listed.mode, 'allowlist');
  t.same([...listed.names], ['api.github.com'], 'only names');
  t.same([...dnsWorkspace(ws({ egress: ['1.2.3.4'] }))!.names], [], 'CIDRs only: no name');
  t.equal(dnsWorkspace(ws({}, null)), null, 'a workspace on another host');
  t.same([...egressNames(['A.example', 'bad name', 'b.example'])], ['a.example', 'b.example']);
});

t.test('listed names and their aliases are admitted, nothing else', async (t) => {
  const book = new AliasBook();
  const view = dnsWorkspace(ws({ egress: ['api.github.com'] }))!;
  t.equal(book.admit(view, 'api.github.com'), 'api.github.com');
  t.equal(book.admit(view, 'evil.example'), null);
  t.equal(book.admit(view, 'github.com'), null, 'not a parent');
  t.equal(book.admit(view, 'x.api.github.com'), null, 'not a child');

  book.note('ws_a', 'api.github.com', new Map([['lb.github.net', 60]]), 0);
  t.equal(book.admit(view, 'lb.github.net'), 'api.github.com', 'an alias, by its origin');
  const other = { ...view, id: 'ws_b' };
  t.equal(book.admit(other, 'lb.github.net'), null, 'aliases are per workspace');

  const unlisted = dnsWorkspace(ws({ egress: ['npmjs.org'] }))!;
  t.equal(book.admit(unlisted, 'lb.github.net'), null, 'an alias dies with its origin');
  book.retain(new Map([['ws_a', unlisted]]));
  t.equal(book.admit(view, 'lb.github.net'), null, 'and is forgotten');

  book.note('ws_a', 'api.github.com', new Map([['short.example', 0]]), 0);
  await new Promise((r) => setTimeout(r, 5));
  t.equal(book.admit(view, 'short.example'), null, 'an alias outlives its TTL by the grace only');

  t.equal(book.admit(dnsWorkspace(ws({}))!, 'anything.example'), 'anything.example', 'open');
  t.equal(book.admit(dnsWorkspace(ws({ allow_internet: false }))!, 'api.github.com'), null);
});

const a = (name: string, data: string, ttl = 60): Answer => ({ type: 'A', name, ttl, data });
const cname = (name: string, data: string, ttl = 300): Answer =>
  ({ type: 'CNAME', name, ttl, data });

t.test('a CNAME chain is followed, in any order, and strangers are left out', async (t) => {
  const answers = [
    a('edge.cdn.example', '93.184.216.34', 20),
    cname('www.example.com', 'lb.example.net', 300),
    cname('LB.example.net.', 'edge.cdn.example', 120),
    a('unrelated.example', '6.6.6.6'),
    cname('unrelated.example', 'www.example.com'),
  ];
  const chain = followChain('WWW.example.com', answers);
  t.same([...chain.aliases], [['lb.example.net', 300], ['edge.cdn.example', 120]]);
  t.same(chain.addresses, [{ addr: '93.184.216.34', ttl: 20 }]);
  t.equal(chain.records.length, 3, 'the stranger and its records are dropped');
});

t.test('a CNAME loop ends', async (t) => {
  const chain = followChain('a.example', [cname('a.example', 'b.example'),
    cname('b.example', 'a.example')]);
  t.same([...chain.aliases.keys()], ['b.example']);
});

t.test('rebinding: reserved ranges, the workspace network and the host open nothing', async (t) => {
  const ctx = { workspaceNet: [0x0a000000, 0x0affffff] as const,
    hostAddresses: () => new Set(['93.184.216.99']) };
  t.equal(rebindingReason('93.184.216.34', ctx), null);
  t.match(rebindingReason('127.0.0.1', ctx), /127\.0\.0\.0\/8/);
  t.match(rebindingReason('169.254.169.254', ctx), /169\.254\.0\.0\/16/);
  t.match(rebindingReason('192.168.1.1', ctx), /reserved/);
  t.match(rebindingReason('0.0.0.0', ctx), /0\.0\.0\.0\/8/);
  t.match(rebindingReason('255.255.255.255', ctx), /reserved/);
  t.match(rebindingReason('224.0.0.1', ctx), /224\.0\.0\.0\/4/);
  t.match(rebindingReason('93.184.216.99', ctx), /host's own/);
  const otherNet = { ...ctx, workspaceNet: [0x5db8d800, 0x5db8d8ff] as const };
  t.match(rebindingReason('93.184.216.34', otherNet), /workspace network/);
});

t.test('the daemon asks again three quarters into the shortest TTL', async (t) => {
  const chain = followChain('a.example', [cname('a.example', 'b.example', 100),
    a('b.example', '93.184.216.34', 40)]);
  t.equal(refreshDelay(chain), 30_000);
  t.equal(refreshDelay(followChain('a', [a('a', '93.184.216.34', 0)])), MIN_REFRESH_MS, 'TTL 0');
  t.equal(refreshDelay(followChain('a', [a('a', '93.184.216.34', 1)])), 750, 'TTL 1 s');
  t.equal(refreshDelay(followChain('a', [])), RETRY_MS, 'no address: retry');
});
