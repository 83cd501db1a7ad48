/**
 * Where a change's time goes, kernel side: in a namespace holding the fleet's table, the
 * commit that adds one more workspace (its chains, its verdict map entries, its elements),
 * the commit that adds two elements to a plain set (what a port change sends), and the
 * conntrack listing the daemon makes after every change to end what a policy no longer
 * allows. Medians of `count` each, at each size, so the scaling shows beside the API's.
 */
import { NftSocket } from '../src/nft/addon';
import { compileWorkspace } from '../src/compile/workspace';
import { diffWorkspace } from '../src/compile/diff';
import { SETS } from '../src/compile/layout';
import { be16, concat, ifname, u8 } from '../src/nft/bytes';
import type { Op } from '../src/nft/types';
import { coldOps } from './cold-build';
import { fleet, OPTIONS, wsId } from './fleet';
import { scratch } from './scratch';
import { median, msSince } from './stats';

/** Medians in ms at one size. */
export interface AnatomyRow {
  workspaces: number;
  /** a commit that creates one workspace: two chains, two verdict map entries, elements */
  addWorkspaceMs: number;
  /** a commit that adds two elements to egress_port */
  addElementsMs: number;
  /** NftSocket.ctList() with no connection in the namespace */
  ctListMs: number;
}

/** Measures the three costs at each size, in a fresh namespace per size. */
export async function anatomy(sizes: number[], count: number,
  log: (line: string) => void): Promise<AnatomyRow[]> {
  const rows: AnatomyRow[] = [];
  for (const n of sizes) {
    const ns = await scratch('anatomy');
    const sock = NftSocket.open({ netns: ns.path });
    try {
      const ws = fleet(n + count);
      const base = new Map([...ws].slice(0, n));
      await must(sock, coldOps(base));
      const add: number[] = [];
      const els: number[] = [];
      const ct: number[] = [];
      for (let k = 0; k < count; k++) {
        const extra = ws.get(wsId(n + k))!;
        add.push(await timed(sock, diffWorkspace(OPTIONS.table, null,
          compileWorkspace(extra, ws, OPTIONS))));
        els.push(await timed(sock, [portElements(k)]));
        const start = process.hrtime.bigint();
        await sock.ctList();
        ct.push(msSince(start));
      }
      rows.push({ workspaces: n, addWorkspaceMs: median(add), addElementsMs: median(els),
        ctListMs: median(ct) });
      log(`anatomy: ${n} workspaces: add a workspace ${median(add).toFixed(2)} ms, add ` +
        `elements ${median(els).toFixed(2)} ms, ctList ${median(ct).toFixed(2)} ms`);
    } finally {
      sock.close();
      await ns.drop();
    }
  }
  return rows;
}

/** Two egress_port elements of a tap no workspace has, different for each k. */
function portElements(k: number): Op {
  const tap = ifname('tanatomy');
  return {
    op: 'create', kind: 'elements', family: 'inet', table: OPTIONS.table,
    set: SETS.egressPort,
    elements: [6, 17].map((proto) => ({ key: concat(tap, u8(proto), be16(20000 + k)) })),
  };
}

async function timed(sock: NftSocket, ops: Op[]): Promise<number> {
  const start = process.hrtime.bigint();
  await must(sock, ops);
  return msSince(start);
}

async function must(sock: NftSocket, ops: Op[]): Promise<void> {
  const result = await sock.commit(ops);
  if (!result.ok) throw new Error(`anatomy: refused: ${result.message}`);
}
