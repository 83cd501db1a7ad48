/**
 * workspace-netd: loads the config, takes over the daemon's nftables table, and serves the
 * control plane's API on a Unix socket. SIGTERM stops the API and leaves every rule in the
 * kernel: stopping the daemon never opens a workspace.
 */
import { parseArgs } from 'node:util';
import { loadConfig, Config } from './config';
import { createLogger } from './log';
import { NftSocket } from './nft/addon';
import { KernelEnforcer } from './enforce/kernel';
import { WorkspaceRegistry } from './service/registry';
import { buildServer, listenOnSocket } from './api/server';
import { formatIpv4, parseCidr } from './net/ipv4';
import { createProxies } from './proxy/start';
import { RouteSocket } from './route/socket';
import { OutboundRouter } from './outbound/router';
import { createDns } from './dns/start';

function readConfig(): Config {
  const { values } = parseArgs({ options: { config: { type: 'string' } }, strict: true });
  return loadConfig(values.config);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = readConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.log_level);
  const net = parseCidr(config.workspace_network);
  if (!net.ok) throw new Error('config: workspace_network must be an IPv4 CIDR');

  const nl = NftSocket.open();
  const rt = RouteSocket.open();
  const workspaceNet = { net: formatIpv4(net.cidr.base), len: net.cidr.prefix };
  const enforcer = new KernelEnforcer(nl, {
    table: config.table,
    uplink: config.uplink,
    workspaceNet: { net: formatIpv4(net.cidr.base), len: net.cidr.prefix },
    runtimeApiPort: config.runtime_api_port,
    relayPort: config.relay_port,
    zones: config.zones,
  }, log, new OutboundRouter(rt, { zones: config.zones, workspaceNet }, log));
  // The DNS side follows every applied change (README: Egress by hostname).
  const dns = createDns(config, nl, log);
  enforcer.learned = dns.isLearned;
  const proxies = createProxies(config, nl, log);
  const registry = new WorkspaceRegistry({
    enforcer: dns.watch(enforcer),
    customProxyPlans: config.custom_proxy_plans,
    zones: config.zones,
    workspaceNetwork: config.workspace_network,
    logger: log,
    proxies: proxies.service,
  });

  // TODO(#7): load the desired state from state_dir; until then a start begins empty.
  await enforcer.start(new Map());
  log.info({ table: config.table, uplink: config.uplink }, 'table in place');
  await proxies.start(registry.snapshot().values());
  await dns.start(registry.snapshot());

  const app = buildServer({ registry, enforcer, logger: log });
  await listenOnSocket(app, config.socket);
  log.info({ socket: config.socket }, 'api listening');

  const stop = (signal: string) => {
    log.info({ signal }, 'stopping; rules stay in the kernel');
    Promise.all([app.close(), proxies.close()]).finally(() => {
      dns.close();
      nl.close();
      rt.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`workspace-netd: ${(err as Error).message}\n`);
  process.exit(1);
});
