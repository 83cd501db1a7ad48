/**
 * One workspace's share of the table: its two chains and its elements in the shared sets.
 * Pure: the same workspace and registry always compile to the same result.
 */
import type { Element, Expr } from '../nft/types';
import type { Workspace } from '../model/types';
import { concat, ifname, ipv4, ipv4Of, be16, le32, u8 } from '../nft/bytes';
import { egressRanges, hasEgressNames } from '../model/egress';
import {
  accept, drop, goTo, inCidr, ipDaddr, isIpv4, lookup, match, meta, ret, thDport,
  IPPROTO_TCP, IPPROTO_UDP,
} from './expr';
import { CHAINS, KEYS, SETS, egressNetSet, inChain, outChain } from './layout';
import { resolveLinks } from '../model/links';
import type { Zone } from '../config';
import { appliedZone } from '../outbound/pool';
import { zoneMark } from '../outbound/routes';
import { isProxied, relayChain, relayPort, relayRules } from './relay';
import { sharedRules } from './shared-rules';

/** What the compiler needs of the host's configuration. */
export interface CompileOptions {
  workspaceNet: { net: string; len: number };
  runtimeApiPort: number;
  /** the outbound IP pool (config zones); none: every workspace masquerades */
  zones?: readonly Zone[];
  /** the host relay's port for custom-proxy workspaces (config relay_port) */
  relayPort?: number;
}

/** A workspace's chains (name to rules) and elements (set name to elements). */
export interface CompiledWorkspace {
  id: string;
  chains: Map<string, Expr[][]>;
  elements: Map<string, Element[]>;
}

const PROTOS = [IPPROTO_TCP, IPPROTO_UDP];

/** Compiles one workspace; one without a local interface has nothing in the kernel. */
export function compileWorkspace(
  ws: Workspace,
  registry: ReadonlyMap<string, Workspace>,
  o: CompileOptions,
): CompiledWorkspace {
  const out: CompiledWorkspace = { id: ws.id, chains: new Map(), elements: new Map() };
  const add = (set: string, ...els: Element[]) => {
    const list = out.elements.get(set);
    if (list) list.push(...els);
    else out.elements.set(set, els);
  };
  if (ws.interface === null) {
    add(SETS.remoteIp, { key: ipv4(ws.ip) });
    return out;
  }
  const tap = ifname(ws.interface);
  const p = ws.network;

  add(SETS.ifaces, { key: tap });
  add(SETS.src, { key: concat(tap, ipv4(ws.ip)) });
  add(SETS.wsIp, { key: ipv4(ws.ip) });
  add(SETS.out, { key: tap, verdict: { kind: 'jump', chain: outChain(ws.id) } });
  add(SETS.in, { key: tap, verdict: { kind: 'jump', chain: inChain(ws.id) } });

  if (p.allow_internet) {
    const egressNet = egressNetSet(ws.id);
    for (const [first, last] of egressRanges(p.egress)) {
      add(egressNet, { key: concat(tap, ipv4Of(first)), keyEnd: concat(tap, ipv4Of(last)) });
    }
    for (const port of p.egress_ports) {
      add(SETS.egressPort, ...PROTOS.map((pr) => ({ key: concat(tap, u8(pr), be16(port)) })));
    }
    for (const pr of PROTOS) {
      add(SETS.hostSvc, { key: concat(tap, ipv4(ws.gateway), u8(pr), be16(53)) });
    }
  }
  for (const port of p.ingress_ports) {
    add(SETS.inPort, ...PROTOS.map((pr) => ({ key: concat(tap, u8(pr), be16(port)) })));
  }
  for (const link of resolveLinks(ws, registry)) {
    add(SETS.linkSrc, { key: concat(tap, ipv4(link.ip)) });
  }
  const zone = appliedZone(ws, o.zones ?? []);
  if (zone) {
    add(SETS.outboundIp, { key: ipv4(ws.ip), data: ipv4(zone.ip) });
    // meta mark is host byte order, as the FIB rule's fwmark reads it
    add(SETS.outboundMark, { key: ipv4(ws.ip), data: le32(zoneMark(zone, o.zones ?? [])) });
  }
  if (isProxied(ws)) {
    const relay = concat(tap, ipv4(ws.gateway), u8(IPPROTO_TCP), be16(relayPort(o)));
    add(SETS.hostSvc, { key: relay });
    add(SETS.proxied, { key: tap, verdict: { kind: 'jump', chain: relayChain(ws.id) } });
    out.chains.set(relayChain(ws.id), relayRules(ws, o));
  }

  out.chains.set(outChain(ws.id), sharedRules(outKey(ws, o), () => outRules(ws, o)));
  out.chains.set(inChain(ws.id), sharedRules(inKey(ws, o), () => inRules(ws, o)));
  return out;
}

/** Everything outRules reads, as the key its shared list is held under. */
function outKey(ws: Workspace, o: CompileOptions): string {
  const p = ws.network;
  const { net, len } = o.workspaceNet;
  const on = (x: boolean) => (x ? 1 : 0);
  return `out ${net}/${len} ${on(p.allow_internet)} ${egressNetSet(ws.id)} ` +
    `${on(p.egress.length > 0)} ${on(hasEgressNames(p.egress))} ` +
    `${on(p.egress_ports.length > 0)} ${on(isProxied(ws))}`;
}

/** Everything inRules reads, as the key its shared list is held under. */
function inKey(ws: Workspace, o: CompileOptions): string {
  return `in ${ws.network.public_access ? 1 : 0} ${o.runtimeApiPort}`;
}

/** What a workspace may send: the workspace network is the target's to decide. */
function outRules(ws: Workspace, o: CompileOptions): Expr[][] {
  const p = ws.network;
  const { net, len } = o.workspaceNet;
  const rules: Expr[][] = [[...isIpv4(), ...inCidr(ipDaddr, net, len), ret()]];
  if (!p.allow_internet) return [...rules, [goTo(CHAINS.refuse)]];

  rules.push(...egressChecks(ws, goTo(CHAINS.refuse)));
  // A custom-proxy workspace's allowed TCP was DNATed to the relay and never gets here.
  rules.push([isProxied(ws) ? goTo(CHAINS.refuse) : accept()]);
  return rules;
}

/** The rules that send what the workspace's egress does not allow to `otherwise`. */
export function egressChecks(ws: Workspace, otherwise: Expr): Expr[][] {
  const p = ws.network;
  const rules: Expr[][] = [];
  // Refused unless a listed address or CIDR admits it, or, with names on the list, an
  // address the daemon's DNS learned for them (egress_learned: tap . ip, timed out).
  if (p.egress.length > 0) {
    const toEgress = lookup(KEYS.ifaceDst, egressNetSet(ws.id), true);
    const learned = hasEgressNames(p.egress)
      ? lookup(KEYS.ifaceDst, SETS.egressLearned, true) : [];
    rules.push([...isIpv4(), ...toEgress, ...learned, otherwise]);
  }
  if (p.egress_ports.length > 0) {
    rules.push([...lookup(KEYS.egressPort, SETS.egressPort, true), otherwise]);
  }
  return rules;
}

/** What may reach a workspace: the host on its ingress ports, and its linked workspaces. */
function inRules(ws: Workspace, o: CompileOptions): Expr[][] {
  const rules: Expr[][] = [];
  if (ws.network.public_access) {
    // From the host itself: output hook packets have no input interface.
    rules.push([
      ...match(meta('iifname'), 'eq', new Uint8Array(16)),
      ...lookup(KEYS.inPort, SETS.inPort),
      accept(),
    ]);
  }
  const fromLink = lookup(KEYS.linkSrc, SETS.linkSrc);
  rules.push([
    ...isIpv4(),
    ...fromLink,
    ...match(meta('l4proto'), 'eq', u8(IPPROTO_TCP)),
    ...match(thDport, 'eq', be16(o.runtimeApiPort)),
    accept(),
  ]);
  rules.push([...isIpv4(), ...fromLink, ...lookup(KEYS.inPort, SETS.inPort), accept()]);
  rules.push([drop()]);
  return rules;
}
