/**
 * Where a workspace may sit on this host: its address inside the workspace network and not
 * the network's own or broadcast address, its gateway there too, neither shared with
 * another workspace, and a tap that is not one of the host's own interfaces.
 */
import type { Workspace } from '../model/types';
import type { WorkspaceInput } from '../model/schema';
import { ApiError } from '../api/errors';
import { cidrContains, cidrRange, parseIpv4, type Cidr } from '../net/ipv4';

/** What placement is checked against. */
export interface PlacementRules {
  /** the workspace network (config workspace_network) */
  network: Cidr | null;
  networkText?: string;
  /** host interfaces that are never a workspace's tap: the uplink and loopback */
  hostInterfaces: readonly string[];
}

/** Throws the ApiError that explains why `input` cannot be placed; returns if it can. */
export function checkPlacement(
  id: string,
  input: WorkspaceInput,
  others: Iterable<Workspace>,
  rules: PlacementRules,
): void {
  inNetwork('ip', input.ip, rules);
  inNetwork('gateway', input.gateway, rules);
  if (input.interface !== null && rules.hostInterfaces.includes(input.interface)) {
    const message = `interface ${input.interface} is the host's own; give the workspace's tap`;
    throw new ApiError('invalid_interface', message, { field: 'interface' });
  }

  for (const other of others) {
    if (other.id === id) continue;
    if (other.ip === input.ip || other.gateway === input.ip) {
      const what = other.ip === input.ip ? 'already belongs to' : 'is the gateway of';
      throw new ApiError('ip_in_use', `ip ${input.ip} ${what} ${other.id}`, { field: 'ip' });
    }
    if (other.ip === input.gateway) {
      const message = `gateway ${input.gateway} is the ip of ${other.id}`;
      throw new ApiError('ip_in_use', message, { field: 'gateway' });
    }
    if (input.interface !== null && other.interface === input.interface) {
      const message = `interface ${input.interface} already belongs to ${other.id}`;
      throw new ApiError('interface_in_use', message, { field: 'interface' });
    }
  }
}

function inNetwork(field: 'ip' | 'gateway', addr: string, rules: PlacementRules): void {
  if (!rules.network) return;
  const n = parseIpv4(addr)!;
  const [first, last] = cidrRange(rules.network);
  if (!cidrContains(rules.network, n)) {
    const message = `${field} ${addr} is outside the workspace network ${rules.networkText}`;
    throw new ApiError('invalid_ip', message, { field });
  }
  if (rules.network.prefix < 31 && (n === first || n === last)) {
    const which = n === first ? 'network' : 'broadcast';
    const message = `${field} ${addr} is the ${which} address of ${rules.networkText}`;
    throw new ApiError('invalid_ip', message, { field });
  }
}
