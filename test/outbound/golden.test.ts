/**
 * Golden text of what dedicated outbound IPs add to the table: the outbound_ip and
 * outbound_mark maps' elements, the zone_mark chain that marks packets for the zone's
 * routing rule, and the postrouting chain, in the notation `nft list` prints. Only those
 * blocks are kept, so the rest of the table's changes do not touch this file.
 * UPDATE_GOLDEN=1 rewrites it.
 */
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderOps } from '../support/render';
import { skeleton } from '../../src/compile/layout';
import { compileWorkspace } from '../../src/compile/workspace';
import { diffWorkspace } from '../../src/compile/diff';
import { ws, ZONES } from './fixtures/zones';

const layout = {
  table: 'workspace_netd', uplink: 'eth0', workspaceNet: { net: '10.0.0.0', len: 8 },
};
const opts = { workspaceNet: layout.workspaceNet, runtimeApiPort: 9990, zones: ZONES };

/** The outbound maps and the `zone_mark` and `postrouting` chains of a rendered table. */
function blocks(text: string): string {
  const pick = (head: string) => {
    const start = text.indexOf(`\t${head} {`);
    return text.slice(start, text.indexOf('\n\t}\n', start) + 3);
  };
  return ['map outbound_ip', 'map outbound_mark', 'chain zone_mark', 'chain postrouting']
    .map(pick).join('\n');
}

t.test('managed workspaces with a routable address fill the map; nobody else', async (t) => {
  const workspaces = [
    ws('ws_us', 1, { outbound_ip: '198.18.0.50' }),
    ws('ws_us2', 2, { outbound_ip: '198.18.0.50' }),
    ws('ws_de', 3, { outbound_ip: '198.18.0.51' }),
    ws('ws_custom', 4, { outbound_ip: '198.18.0.51', outbound_mode: 'custom' }),
    ws('ws_hostless', 5, { outbound_ip: '198.18.0.52' }),
    ws('ws_plain', 6),
  ];
  const registry = new Map(workspaces.map((w) => [w.id, w]));
  const ops = skeleton(layout);
  for (const w of workspaces) {
    ops.push(...diffWorkspace(layout.table, null, compileWorkspace(w, registry, opts)));
  }

  const text = blocks(renderOps(ops));
  const file = join(__dirname, 'golden', 'outbound-ip.nft');
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text);
  t.equal(text, readFileSync(file, 'utf8'), 'outbound-ip.nft');
});
