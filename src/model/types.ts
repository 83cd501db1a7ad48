/**
 * The stored shapes of the daemon's desired state. Field names are the API's (snake_case),
 * so that what is stored, what is returned and what the seed documents read the same.
 */

/** The plans a workspace owner can be on. */
export type Plan = 'free' | 'hobby' | 'pro' | 'scale' | 'enterprise';

/**
 * A user's own outbound proxy, as stored with the policy. Its username and password live
 * apart, in the proxy secret store (src/proxy/secrets.ts), so that the desired state can
 * be logged, returned and written without them.
 */
export interface CustomProxy {
  host: string;
  port: number;
  protocol: 'http' | 'https';
  has_credentials: boolean;
}

/** Basic credentials for a proxy's Proxy-Authorization header. */
export interface ProxyCredentials {
  username: string;
  password: string;
}

/** A custom proxy as a request sends it: the stored fields and its credentials, if any. */
export interface ProxyRequest {
  host: string;
  port: number;
  protocol: 'http' | 'https';
  username: string | null;
  password: string | null;
}

/** A workspace's network policy as stored: what the user set, normalized. */
export interface NetworkPolicy {
  public_access: boolean;
  allow_internet: boolean;
  ingress_ports: number[];
  /** IPv4 addresses, CIDRs (no host bits) and DNS names, deduplicated, in request order */
  egress: string[];
  egress_ports: number[];
  /** linked workspace IDs that resolved when they were set, in request order (model/links) */
  private_link_ids: string[];
  outbound_mode: 'managed' | 'custom';
  outbound_ip: string | null;
  custom_proxy: CustomProxy | null;
}

/** A workspace known to this host's registry. */
export interface Workspace {
  id: string;
  ip: string;
  gateway: string;
  /** its tap device on this host, or null for a workspace on another host */
  interface: string | null;
  name: string | null;
  image_logo: string | null;
  image_color: string | null;
  plan: Plan;
  network: NetworkPolicy;
}

/** The seed's default network for a new workspace. */
export function defaultPolicy(): NetworkPolicy {
  return {
    public_access: false,
    allow_internet: true,
    ingress_ports: [],
    egress: [],
    egress_ports: [],
    private_link_ids: [],
    outbound_mode: 'managed',
    outbound_ip: null,
    custom_proxy: null,
  };
}
