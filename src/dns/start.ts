/**
 * The DNS service as the daemon's config describes it: upstream resolvers, grace period,
 * the workspace network for the rebinding check.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import { cidrRange, parseCidr } from '../net/ipv4';
import type { LearnedNetlink } from './learned';
import { DnsService } from './service';
import { Upstream, upstreamServers } from './upstream';

/** Builds the daemon's DNS service; dns.start(registry) makes it listen. */
export function createDns(config: Config, nl: LearnedNetlink, log: Logger): DnsService {
  const net = parseCidr(config.workspace_network);
  if (!net.ok) throw new Error('config: workspace_network must be an IPv4 CIDR');

  const servers = upstreamServers(config.dns.upstream);
  log.info({ upstream: servers.map((s) => `${s.host}:${s.port}`) }, 'dns upstream');
  return new DnsService({
    nl,
    table: config.table,
    upstream: new Upstream(servers, config.dns.timeout_ms),
    graceMs: config.dns.grace_s * 1000,
    workspaceNet: cidrRange(net.cidr),
    log,
  });
}
