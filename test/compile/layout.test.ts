import t from 'tap';
import { EGRESS_SHARDS, egressNetSet, skeleton } from '../../src/compile/layout';
import { compileWorkspace } from '../../src/compile/workspace';
import { defaultPolicy, Workspace } from '../../src/model/types';
import type { Expr } from '../../src/nft/types';

const layout = { table: 't', uplink: 'eth0', workspaceNet: { net: '10.0.0.0', len: 8 } };

t.test('the skeleton creates every egress shard as a concatenated interval set', async (t) => {
  const sets = skeleton(layout)
    .flatMap((op) => (op.kind === 'set' && op.op !== 'delete' ? [op.set] : []));
  const shards = sets.filter((s) => s.name.startsWith('egress_net_'));
  t.equal(shards.length, EGRESS_SHARDS);
  for (const s of shards) t.match(s, { interval: true, fields: [16, 4], keyLen: 20 });
});

t.test('a workspace keeps its egress shard: the set follows from its id alone', async (t) => {
  t.equal(egressNetSet('ws_a'), egressNetSet('ws_a'));
  // Pinned: a different hash would move every workspace at the next start, which is fine
  // for the kernel (it is rebuilt whole) but would make the golden files lie.
  t.equal(egressNetSet('ws_a'), 'egress_net_51');
});

t.test('5,000 workspaces spread over the shards within a factor of two of even', async (t) => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const set = egressNetSet(`ws_${i.toString(36)}`);
    counts.set(set, (counts.get(set) ?? 0) + 1);
  }
  const even = 5000 / EGRESS_SHARDS;
  t.equal(counts.size, EGRESS_SHARDS);
  t.ok(Math.max(...counts.values()) < 2 * even, `largest shard ${Math.max(...counts.values())}`);
  t.ok(Math.min(...counts.values()) > even / 2, `smallest shard ${Math.min(...counts.values())}`);
});

t.test("a workspace's chain looks up the shard that holds its ranges", async (t) => {
  const ws: Workspace = {
    id: 'ws_shard', ip: '10.0.1.2', gateway: '10.0.1.1', interface: 't-shard', name: null,
    image_logo: null, image_color: null, plan: 'free',
    network: { ...defaultPolicy(), egress: ['192.0.2.0/24'] },
  };
  const opts = { workspaceNet: { net: '10.0.0.0', len: 8 }, runtimeApiPort: 9990 };
  const c = compileWorkspace(ws, new Map([[ws.id, ws]]), opts);
  const looked = c.chains.get('ws_shard_out')!.flat()
    .filter((e): e is Extract<Expr, { type: 'lookup' }> => e.type === 'lookup')
    .map((e) => e.set).filter((s) => s.startsWith('egress_net_'));
  t.same(looked, [egressNetSet('ws_shard')]);
  t.same([...c.elements.keys()].filter((s) => s.startsWith('egress_net_')), looked);
});
