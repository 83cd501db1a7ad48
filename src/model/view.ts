/**
 * The network object the API returns (seed: Get network, Response), built from a stored
 * workspace and the registry that resolves its private links (model/links, the same
 * resolution the kernel compiler uses). Key order is the seed's.
 */
import { resolveLinks } from './links';
import type { Workspace } from './types';

/** A linked workspace as GET /network shows it (seed: Viewing linked workspaces). */
export interface PrivateLinkView {
  id: string;
  ip: string;
  name: string | null;
  image_logo: string | null;
  image_color: string | null;
}

/** A custom proxy as the API shows it: the password never leaves the daemon. */
export interface OutboundProxyView {
  host: string;
  port: number;
  protocol: 'http' | 'https';
  has_credentials: boolean;
}

/** The GET /workspace/:id/network response. */
export interface NetworkView {
  success: true;
  ip: string;
  gateway: string;
  public_access: boolean;
  allow_internet: boolean;
  ingress: string[];
  ingress_ports: number[];
  egress: string[];
  egress_ports: number[];
  outbound_ip: string | null;
  outbound_mode: 'managed' | 'custom';
  outbound_proxy: OutboundProxyView | null;
  private_links: PrivateLinkView[];
}

/** The PATCH response: the network object, plus the resolved link ids when they were sent. */
export type PatchView = NetworkView & { private_link_ids?: string[] };

/** The keyword that stands for the host in `ingress` while public_access is true. */
export const HOST_KEYWORD = 'host';

/** The derived ingress list: "host" first when public, then the linked workspaces' ips. */
export function ingressOf(
  workspace: Workspace,
  registry: ReadonlyMap<string, Workspace>,
): string[] {
  const linked = resolveLinks(workspace, registry).map((w) => w.ip);
  return workspace.network.public_access ? [HOST_KEYWORD, ...linked] : linked;
}

/** The GET /workspace/:id/network response for `workspace`. */
export function networkView(
  workspace: Workspace,
  registry: ReadonlyMap<string, Workspace>,
): NetworkView {
  const network = workspace.network;
  const proxy = network.outbound_mode === 'custom' ? network.custom_proxy : null;

  return {
    success: true,
    ip: workspace.ip,
    gateway: workspace.gateway,
    public_access: network.public_access,
    allow_internet: network.allow_internet,
    ingress: ingressOf(workspace, registry),
    ingress_ports: [...network.ingress_ports],
    egress: [...network.egress],
    egress_ports: [...network.egress_ports],
    outbound_ip: network.outbound_ip,
    outbound_mode: network.outbound_mode,
    outbound_proxy: proxy && {
      host: proxy.host,
      port: proxy.port,
      protocol: proxy.protocol,
      has_credentials: proxy.has_credentials,
    },
    private_links: resolveLinks(workspace, registry).map(linkView),
  };
}

/** The PATCH /workspace/:id/network response; `sentLinks` is whether the body had them. */
export function patchView(
  workspace: Workspace,
  registry: ReadonlyMap<string, Workspace>,
  sentLinks: boolean,
): PatchView {
  const view: PatchView = networkView(workspace, registry);
  if (sentLinks) view.private_link_ids = view.private_links.map((link) => link.id);
  return view;
}

function linkView(linked: Workspace): PrivateLinkView {
  return {
    id: linked.id,
    ip: linked.ip,
    name: linked.name,
    image_logo: linked.image_logo,
    image_color: linked.image_color,
  };
}
