/**
 * Golden rulesets: compiled policies printed the way `nft list table` prints them, so a
 * change to the compiler shows up as a readable diff. UPDATE_GOLDEN=1 rewrites the files.
 */
import t from 'tap';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { renderOps } from '../support/render';
import { skeleton } from '../../src/compile/layout';
import { closedTable } from '../../src/compile/closed';
import { compileWorkspace } from '../../src/compile/workspace';
import { diffWorkspace } from '../../src/compile/diff';
import { defaultPolicy, Workspace, NetworkPolicy } from '../../src/model/types';
import type { Op } from '../../src/nft/types';

const layout = {
  table: 'workspace_netd', uplink: 'eth0', workspaceNet: { net: '10.0.0.0', len: 8 },
};
const opts = { workspaceNet: layout.workspaceNet, runtimeApiPort: 9990 };

function ws(id: string, n: number, policy: Partial<NetworkPolicy>): Workspace {
  return {
    id, ip: `10.0.${n}.2`, gateway: `10.0.${n}.1`, interface: `tap${n}`, name: null,
    image_logo: null, image_color: null, plan: 'free', network: { ...defaultPolicy(), ...policy },
  };
}

function build(workspaces: Workspace[]): Op[] {
  const registry = new Map(workspaces.map((w) => [w.id, w]));
  const ops = skeleton(layout);
  for (const w of workspaces) {
    ops.push(...diffWorkspace(layout.table, null, compileWorkspace(w, registry, opts)));
  }
  return ops;
}

function golden(t: { equal: (a: string, b: string, m: string) => void }, name: string, text: string) {
  const file = join(__dirname, 'golden', `${name}.nft`);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text);
  t.equal(text, readFileSync(file, 'utf8'), `${name}.nft`);
}

t.test('an empty host: the skeleton alone', async (t) => {
  golden(t, 'empty', renderOps(build([])));
});

t.test('the seed\'s example policies side by side', async (t) => {
  golden(t, 'seed-examples', renderOps(build([
    ws('ws_default', 1, {}),
    ws('ws_web', 2, {
      allow_internet: true, ingress_ports: [80, 443, 3000], public_access: true,
      egress: ['192.0.2.0/24', '198.51.100.7', 'api.github.com'], egress_ports: [443],
    }),
    ws('ws_offline', 3, { allow_internet: false }),
    ws('ws_linked', 4, { private_link_ids: ['ws_web', 'ws_missing'], ingress_ports: [8080] }),
  ])));
});

t.test('custom proxies: allowed TCP to the relay, the rest of the internet refused', async (t) => {
  const proxy = { host: '93.184.216.34', port: 3128, protocol: 'http' as const,
    has_credentials: true };
  golden(t, 'custom-proxy', renderOps(build([
    ws('ws_proxied', 1, { outbound_mode: 'custom', custom_proxy: proxy }),
    ws('ws_narrow', 2, { outbound_mode: 'custom', custom_proxy: proxy,
      egress: ['192.0.2.0/24'], egress_ports: [443] }),
    ws('ws_offline', 3, { outbound_mode: 'custom', custom_proxy: proxy, allow_internet: false }),
  ])));
});

t.test('the closed table: a missing table\'s stand-in until the rebuild is in', async (t) => {
  golden(t, 'closed', renderOps(closedTable({ ...layout, tapPrefix: 'tap' }, ['tap1', 'tap2'])));
});
