/**
 * A synthetic fleet of workspaces shaped like a busy host: each with 10 private links,
 * 20 egress CIDRs, 5 egress ports and 5 public ingress ports. The same fleet feeds the
 * compiler directly (cold build) and the daemon's API (registration), so both paths build
 * the same table.
 */
import { defaultPolicy, type Workspace } from '../src/model/types';
import type { CompileOptions } from '../src/compile/workspace';
import type { LayoutOptions } from '../src/compile/layout';

/** Private links per workspace (fewer when the fleet is smaller). */
export const LINKS = 10;
/** Egress CIDRs per workspace. */
export const EGRESS_CIDRS = 20;
/** Egress ports: the last is the benchmark servers' port, so traffic tests may pass. */
export const EGRESS_PORTS = [80, 443, 8080, 9000, 5201];
/** Ingress ports opened to the host. */
export const INGRESS_PORTS = [22, 80, 443, 3000, 8080];
/** RFC 2544's benchmarking range: the traffic tests' "internet" lives here. */
export const BENCH_NET = '198.18.0.0/15';

/** The table's layout and compile options, as a daemon on the benchmark host has them. */
export const OPTIONS: LayoutOptions & CompileOptions = {
  table: 'workspace_netd',
  uplink: 'up0',
  workspaceNet: { net: '10.0.0.0', len: 8 },
  runtimeApiPort: 9990,
};

/** Workspace i's id. */
export const wsId = (i: number): string => `ws_b${i}`;
/** Workspace i's tap (at most 15 characters). */
export const wsTap = (i: number): string => `tb${i}`;

/** Workspace i's address and gateway: 250 workspaces per /24 of 10.1.0.0/16 and up. */
export function wsAddr(i: number): { ip: string; gateway: string } {
  const net = Math.floor(i / 250);
  const prefix = `10.${1 + (net >> 8)}.${net & 255}`;
  return { ip: `${prefix}.${(i % 250) + 2}`, gateway: `${prefix}.1` };
}

/** Workspace i's egress list: 19 distinct /24s, then the benchmark range (always last). */
export function wsEgress(i: number): string[] {
  const cidrs: string[] = [];
  for (let k = 0; k < EGRESS_CIDRS - 1; k++) {
    cidrs.push(`${20 + k}.${(i >> 8) & 255}.${i & 255}.0/24`);
  }
  return [...cidrs, BENCH_NET];
}

/** Workspace i's links: the next 10 workspaces of a fleet of n, wrapping around. */
export function wsLinks(i: number, n: number): string[] {
  const count = Math.min(LINKS, n - 1);
  return Array.from({ length: count }, (_, k) => wsId((i + 1 + k) % n));
}

/** The PUT /workspace/:id body of workspace i. */
export function registration(i: number): Record<string, unknown> {
  return { ...wsAddr(i), interface: wsTap(i), plan: 'pro' };
}

/** The PATCH /workspace/:id/network body that gives workspace i its policy. */
export function policyPatch(i: number, n: number): Record<string, unknown> {
  return {
    public_access: true,
    ingress_ports: INGRESS_PORTS,
    egress: wsEgress(i),
    egress_ports: EGRESS_PORTS,
    private_link_ids: wsLinks(i, n),
  };
}

/** The whole fleet of n workspaces as the registry would hold it, by id. */
export function fleet(n: number): Map<string, Workspace> {
  const out = new Map<string, Workspace>();
  for (let i = 0; i < n; i++) {
    out.set(wsId(i), {
      id: wsId(i),
      ...wsAddr(i),
      interface: wsTap(i),
      name: null,
      image_logo: null,
      image_color: null,
      plan: 'pro',
      network: {
        ...defaultPolicy(),
        public_access: true,
        ingress_ports: INGRESS_PORTS,
        egress: wsEgress(i),
        egress_ports: EGRESS_PORTS,
        private_link_ids: wsLinks(i, n),
      },
    });
  }
  return out;
}
