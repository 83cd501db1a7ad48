/**
 * Which names a workspace may resolve. Without the internet, none; with an empty egress
 * list, all; with a list, the names on it and the CNAME chains their answers lead to, and
 * nothing else: a refused name is answered REFUSED and never leaves the host, so a
 * workspace cannot carry data out in the names it asks for.
 */
import type { Answer } from 'dns-packet';
import type { Workspace } from '../model/types';
import { classifyEgress } from '../model/egress';

/** How the daemon answers a workspace: no DNS, every name, or the listed names only. */
export type DnsMode = 'off' | 'open' | 'allowlist';

/** What the DNS service needs of one local workspace. */
export interface DnsWorkspace {
  id: string;
  ip: string;
  gateway: string;
  tap: string;
  mode: DnsMode;
  /** the names on its egress list, normalized; empty unless mode is allowlist */
  names: ReadonlySet<string>;
}

/** Longest CNAME chain followed; resolvers stop near here too (BIND follows 16). */
export const MAX_CHAIN = 16;

/** The DNS view of a workspace, or null for one with no tap on this host. */
export function dnsWorkspace(ws: Workspace): DnsWorkspace | null {
  if (ws.interface === null) return null;
  const p = ws.network;
  const mode: DnsMode = !p.allow_internet ? 'off' : p.egress.length === 0 ? 'open' : 'allowlist';
  const names = mode === 'allowlist' ? egressNames(p.egress) : new Set<string>();
  return { id: ws.id, ip: ws.ip, gateway: ws.gateway, tap: ws.interface, mode, names };
}

/** The DNS names of a stored egress list. */
export function egressNames(egress: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const raw of egress) {
    const result = classifyEgress(raw);
    if (result.ok && result.entry.kind === 'name') names.add(result.entry.value);
  }
  return names;
}

/** A name as compared: lower case, without the trailing dot. */
export function canonicalName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

/** An address an answer gave, with the TTL of its record in seconds. */
export interface AnsweredAddress {
  addr: string;
  ttl: number;
}

/** What an answer says about a name: its CNAME chain and the records that belong to it. */
export interface Chain {
  /** names the chain passed through after the asked one, with their CNAME record's TTL */
  aliases: Map<string, number>;
  /** A records owned by the asked name or an alias */
  addresses: AnsweredAddress[];
  /** every answer record owned by the asked name or an alias, in answer order */
  records: Answer[];
}

/**
 * Follows the CNAME chain from `name` through `answers`. Records owned by other names
 * (which an upstream has no reason to send) are left out of the chain.
 */
export function followChain(name: string, answers: readonly Answer[]): Chain {
  const owners = new Set([canonicalName(name)]);
  const aliases = new Map<string, number>();

  for (let grew = true; grew && owners.size <= MAX_CHAIN; ) {
    grew = false;
    for (const a of answers) {
      if (a.type !== 'CNAME' || !owners.has(canonicalName(a.name))) continue;
      const target = canonicalName(a.data);
      if (owners.has(target)) continue;
      owners.add(target);
      aliases.set(target, a.ttl ?? 0);
      grew = true;
    }
  }

  const records = answers.filter((a) => a.type !== 'OPT' && owners.has(canonicalName(a.name)));
  const addresses = records.flatMap((a) =>
    a.type === 'A' ? [{ addr: a.data, ttl: a.ttl ?? 0 }] : [],
  );
  return { aliases, records, addresses };
}

/**
 * The aliases a workspace's allowed names led to, each with the listed name it came from
 * and when it stops being allowed. A stub resolver may ask for an alias by itself.
 */
export class AliasBook {
  private readonly byWorkspace = new Map<string, Map<string, { origin: string; until: number }>>();

  /** Records `aliases` (name to TTL in s) reached from the listed name `origin`. */
  note(wsId: string, origin: string, aliases: ReadonlyMap<string, number>, graceMs: number) {
    if (aliases.size === 0) return;
    const book = this.byWorkspace.get(wsId) ?? new Map();
    this.byWorkspace.set(wsId, book);
    const now = Date.now();
    for (const [alias, ttl] of aliases) {
      book.set(alias, { origin, until: now + ttl * 1000 + graceMs });
    }
  }

  /** The listed name that admits `name` for `ws`, or null when nothing does. */
  admit(ws: DnsWorkspace, name: string): string | null {
    if (ws.mode === 'open') return name;
    if (ws.mode === 'off') return null;
    if (ws.names.has(name)) return name;

    const entry = this.byWorkspace.get(ws.id)?.get(name);
    if (!entry || entry.until < Date.now() || !ws.names.has(entry.origin)) return null;
    return entry.origin;
  }

  /** Forgets what no longer belongs to a workspace in `workspaces` with its origin listed. */
  retain(workspaces: ReadonlyMap<string, DnsWorkspace>): void {
    const now = Date.now();
    for (const [id, book] of this.byWorkspace) {
      const ws = workspaces.get(id);
      for (const [alias, entry] of book) {
        if (!ws || !ws.names.has(entry.origin) || entry.until < now) book.delete(alias);
      }
      if (book.size === 0) this.byWorkspace.delete(id);
    }
  }
}
