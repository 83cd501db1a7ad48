/**
 * A custom-mode workspace's redirect to the host relay (src/proxy/relay.ts). Its
 * `<id>_relay` chain runs from the `redirect` chain (nat, prerouting, dstnat), before
 * routing: a new TCP connection to the internet that the workspace's egress allows is
 * DNATed to its gateway's relay port. Egress is judged there, on the original destination,
 * because a DNATed packet goes to the input hook and never meets `<id>_out` in forward.
 * What is not redirected reaches `<id>_out`, which refuses all internet traffic of a
 * custom-mode workspace: nothing leaves it except through its proxy.
 */
import type { Expr } from '../nft/types';
import type { Workspace } from '../model/types';
import { be16, ipv4, u8 } from '../nft/bytes';
import { inCidr, ipDaddr, isIpv4, match, meta, ret, IPPROTO_TCP, REG_1 } from './expr';
import { egressChecks, type CompileOptions } from './workspace';

/** The relay's port when the config names none (config relay_port). */
export const DEFAULT_RELAY_PORT = 15001;

/** NFT_REG_2: the DNAT port's register, as nft itself uses it. */
const REG_2 = 2;

/** The chain that redirects a custom-mode workspace's connections to the relay. */
export const relayChain = (id: string): string => `${id}_relay`;

/** True when the workspace's internet traffic goes through its own proxy. */
export function isProxied(ws: Workspace): boolean {
  const p = ws.network;
  return p.allow_internet && p.outbound_mode === 'custom' && p.custom_proxy !== null;
}

/** The relay port the compiler DNATs to. */
export function relayPort(o: CompileOptions): number {
  return o.relayPort ?? DEFAULT_RELAY_PORT;
}

/** The rules of `<id>_relay`: what stays local returns, allowed TCP goes to the relay. */
export function relayRules(ws: Workspace, o: CompileOptions): Expr[][] {
  const { net, len } = o.workspaceNet;
  const toGateway = match(ipDaddr, 'eq', ipv4(ws.gateway));
  return [
    [...isIpv4(), ...inCidr(ipDaddr, net, len), ret()],
    [...isIpv4(), ...toGateway, ret()],
    // Not allowed: not redirected, so <id>_out refuses it with a reset in forward.
    ...egressChecks(ws, ret()),
    [
      ...isIpv4(),
      ...match(meta('l4proto'), 'eq', u8(IPPROTO_TCP)),
      { type: 'immediate', dreg: REG_1, data: ipv4(ws.gateway) },
      { type: 'immediate', dreg: REG_2, data: be16(relayPort(o)) },
      { type: 'nat', nat: 'dnat', family: 'ip', addrReg: REG_1, protoReg: REG_2 },
    ],
  ];
}
