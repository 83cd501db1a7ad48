/**
 * The dedicated outbound IP pool (seed: List available outbound IPs, Apply outbound IP):
 * the config's `zones`, what GET /zone/mine lists, and the checks a requested address
 * passes before any workspace state is read.
 */
import { ApiError } from '../api/errors';
import type { Zone } from '../config';
import type { Workspace } from '../model/types';

/** One row of GET /zone/mine. */
export interface ZoneView {
  ip: string;
  country_code: string;
}

/** A pool address that can be applied: its zone has a next hop. */
export type RoutableZone = Zone & { host: string };

/** The pool, as configured. */
export class ZonePool {
  /** @param zones the config's zones; their addresses are distinct (config checks it) */
  constructor(readonly zones: readonly Zone[] = []) {}

  /** Every address of the pool, with or without a host, in config order. */
  list(): ZoneView[] {
    return this.zones.map((z) => ({ ip: z.ip, country_code: z.country_code }));
  }

  /** The zone of `ip` when it is in the pool and has a host; null otherwise. */
  routable(ip: string | null): RoutableZone | null {
    const zone = this.zones.find((z) => z.ip === ip);
    return zone && zone.host !== null ? (zone as RoutableZone) : null;
  }

  /**
   * The zone a request may apply, or the seed's refusal. Order: an empty pool first
   * (no address could be right), then an address outside the pool, then a zone
   * without a next hop.
   */
  pick(ip: string): RoutableZone {
    if (this.zones.length === 0) {
      throw new ApiError('pool_empty', 'this host has no outbound IP pool (config zones)');
    }
    const zone = this.zones.find((z) => z.ip === ip);
    if (!zone) {
      const known = this.zones.map((z) => z.ip).join(', ');
      throw new ApiError('invalid_zone_ip', `${ip} is not in the pool (${known})`, {
        field: 'ip',
      });
    }
    if (zone.host === null) {
      const message = `zone ${ip} (${zone.country_code}) has no next hop configured; ask the ` +
        'operator to set its host, or pick another address';
      throw new ApiError('zone_missing_host', message, { field: 'ip' });
    }
    return zone as RoutableZone;
  }
}

/**
 * The zone whose address and next hop `ws`'s internet traffic takes, or null for the
 * uplink's address. Only a local workspace in managed mode has one: in custom mode its
 * traffic goes through the user's proxy, and the stored address waits for managed mode.
 * An address that left the pool (or lost its host) in a config change applies nothing.
 */
export function appliedZone(ws: Workspace | null, zones: readonly Zone[]): RoutableZone | null {
  if (ws === null || ws.interface === null || ws.network.outbound_mode !== 'managed') {
    return null;
  }
  return new ZonePool(zones).routable(ws.network.outbound_ip);
}
