/**
 * Which conntrack entries a committed policy ends: the judgement, apart from the listing
 * and deletion the enforcer does around it (src/enforce/kernel.ts, README: Ending
 * connections).
 */
import type { CtTuple } from '../nft/types';
import type { Workspace } from '../model/types';
import type { Zone } from '../config';
import { stillAllowed, type ConnectionContext } from '../policy/connections';
import { translatedAway } from '../outbound/connections';
import { cidrRange, parseIpv4 } from '../net/ipv4';

/** IPPROTO_* whose conntrack entries ctDelete can name: TCP, UDP, UDP-Lite, SCTP, DCCP, ICMP. */
const DELETABLE = new Set([6, 17, 136, 132, 33, 1]);

/** One changed workspace as a sweep judges it: before, its latest state, and the host. */
export interface Judged {
  prev: Workspace | null;
  next: Workspace | null;
  ctx: ConnectionContext;
}

/** What stillAllowed needs to know of the host, for `registry`. */
export function connectionContext(o: { workspaceNet: { net: string; len: number };
  runtimeApiPort: number }, registry: ReadonlyMap<string, Workspace>,
learned: ConnectionContext['learned']): ConnectionContext {
  const { net, len } = o.workspaceNet;
  return {
    workspaceNet: cidrRange({ base: parseIpv4(net)!, prefix: len }),
    runtimeApiPort: o.runtimeApiPort,
    registry,
    learned,
  };
}

/** The addresses whose entries a sweep of `judged` must look at: old and new, once each. */
export function judgedAddresses(judged: readonly Judged[]): string[] {
  const ips = judged.flatMap(({ prev, next }) => [prev?.ip, next?.ip]);
  return [...new Set(ips.filter((ip): ip is string => ip !== undefined))];
}

/**
 * The entries a change ends: translated to an address the workspace no longer leaves
 * with, at an address it no longer holds, or no longer allowed by its latest policy.
 * Only those conntrack can delete by tuple (ports, or ICMP's id); other protocols age out.
 */
export function endedByChanges(tuples: readonly CtTuple[], judged: readonly Judged[],
  zones: readonly Zone[]): CtTuple[] {
  return tuples.filter((t) => DELETABLE.has(t.proto) &&
    judged.some(({ prev, next, ctx }) => {
      if (translatedAway({ prev, next }, t, zones)) return true;
      if (prev && (t.src === prev.ip || t.dst === prev.ip) && (!next || next.ip !== prev.ip)) {
        return true;
      }
      return next !== null && next.interface !== null && !stillAllowed(next, t, ctx);
    }));
}

/** The entries no workspace at either end admits, each end found by its address. */
export function refusedByPolicy(tuples: readonly CtTuple[], ctx: ConnectionContext): CtTuple[] {
  const byIp = new Map([...ctx.registry.values()].map((ws) => [ws.ip, ws]));
  return tuples.filter((t) => DELETABLE.has(t.proto) && [t.src, t.dst].some((ip) => {
    const ws = byIp.get(ip);
    return ws !== undefined && ws.interface !== null && !stillAllowed(ws, t, ctx);
  }));
}
