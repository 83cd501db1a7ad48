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
import { cidrRange, formatIpv4, parseCidr, parseIpv4 } from './net/ipv4';
import { StateStore } from './state/store';
import { DurableState } from './state/durable';
import { StoredSecrets } from './state/secrets';
import { DriftMonitor } from './enforce/drift';
import { NftMonitor } from './nft/monitor';
import { CtMonitor, conntrackEvents } from './nft/ct-monitor';
import { ConnectionsTable } from './enforce/connections-table';
import { announceReady, announceStopping } from './systemd/ready';
import { errorLine } from './systemd/journal';
import { createProxies } from './proxy/start';
import { RouteSocket } from './route/socket';
import { OutboundRouter } from './outbound/router';
import { createDns } from './dns/start';
import { closing } from './compile/closed';
import type { LayoutOptions } from './compile/layout';
import type { TableFlags } from './nft/types';

function readArgs(): { config: Config; check: boolean } {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, 'check-config': { type: 'boolean' } },
    strict: true,
  });
  return { config: loadConfig(values.config), check: values['check-config'] ?? false };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    const args = readArgs();
    config = args.config;
    // `--check-config`: validate a config before rolling it out (README: Configuration).
    if (args.check) {
      process.stdout.write('config: ok\n');
      process.exit(0);
    }
  } catch (err) {
    // The kernel is left as it is: a config that cannot be read names no table to close.
    process.stderr.write(errorLine((err as Error).message));
    process.exit(2);
  }
  const log = createLogger(config.log_level);
  const net = parseCidr(config.workspace_network);
  if (!net.ok) throw new Error('config: workspace_network must be an IPv4 CIDR');

  const nl = NftSocket.open();
  const workspaceNet = { net: formatIpv4(net.cidr.base), len: net.cidr.prefix };
  const tableFlags = config.table_owner ? { owner: true, persist: true } : undefined;
  const layout = { table: config.table, uplink: config.uplink, tapPrefix: config.tap_prefix,
    workspaceNet };
  onFailedStart = () => closeMissingTable(nl, layout, tableFlags);

  // The database is the truth: the kernel is rebuilt from it (README: Durability).
  const store = StateStore.open(config.state_dir);
  const desired = store.load();
  log.info({ workspaces: desired.size, file: store.file }, 'desired state loaded');

  const rt = RouteSocket.open();
  // The DNS side follows every applied change (README: Egress by hostname).
  const dns = createDns(config, nl, log);
  const enforcer = new KernelEnforcer(nl, {
    ...layout,
    runtimeApiPort: config.runtime_api_port,
    tableFlags,
    relayPort: config.relay_port,
    zones: config.zones,
    // An element of egress_learned the DNS side did not write is drift (README: Durability).
    timeoutKeys: (set, since) => dns.writtenKeys(set, since),
  }, log, new OutboundRouter(rt, { zones: config.zones, workspaceNet }, log));
  const proxies = createProxies(config, nl, log, new StoredSecrets(store));
  enforcer.learned = dns.isLearned;
  enforcer.rebuilt = () => dns.reinstate();
  const registry = new WorkspaceRegistry({
    enforcer: dns.watch(enforcer),
    customProxyPlans: config.custom_proxy_plans,
    zones: config.zones,
    workspaceNetwork: config.workspace_network,
    hostInterfaces: [config.uplink],
    logger: log,
    initial: desired.values(),
    durable: new DurableState(store, dns.watch(enforcer), log, (err) => {
      log.fatal({ err }, 'the kernel holds a change the state lost; restarting from the state');
      process.exit(1);
    }),
    proxies: proxies.service,
  });

  // Subscribed between the start's commit and its read-back (see KernelEnforcer.start):
  // late enough that the rebuild's own notifications are never built, early enough that
  // no foreign change after it goes unseen.
  const drift = new DriftMonitor(enforcer, {
    table: config.table,
    ownPortId: nl.portId(),
    openMonitor: (onEvents) => NftMonitor.open(onEvents),
    log,
  });
  await enforcer.start(registry.snapshot(), () => drift.start());
  // Narrowing changes look their connections up here instead of listing conntrack.
  const [first, last] = cidrRange(net.cidr);
  const connections = await ConnectionsTable.open({
    list: () => nl.ctList(),
    subscribe: (onBatch) => CtMonitor.open(onBatch),
    covers: (addr) => {
      const n = parseIpv4(addr);
      return n !== null && n >= first && n <= last;
    },
    eventsEnabled: () => conntrackEvents(),
    log,
  }).catch((err: unknown) => {
    log.error({ err }, 'conntrack events unavailable; narrowing changes list conntrack');
    return null;
  });
  enforcer.connections = connections;
  const owned = config.table_owner;
  log.info({ table: config.table, uplink: config.uplink, owned }, 'table in place');
  await proxies.start(registry.snapshot().values());
  await dns.start(registry.snapshot());

  const app = buildServer({ registry, enforcer, logger: log });
  await listenOnSocket(app, config.socket);
  log.info({ socket: config.socket }, 'api listening');
  void announceReady(() => enforcer.healthy(), log, `enforcing ${desired.size} workspaces`);

  const stop = (signal: string) => {
    log.info({ signal }, 'stopping; rules stay in the kernel');
    announceStopping();
    drift.close();
    connections?.close();
    Promise.all([app.close(), proxies.close()]).finally(() => {
      dns.close();
      store.close();
      nl.close();
      rt.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  onFailedStart = null;
}

/** Set while a start can fail after the netlink socket opened: closes a missing table. */
let onFailedStart: (() => Promise<void>) | null = null;

/**
 * A start that fails (a state it cannot read, a kernel refusal) leaves a table that exists
 * as it is: it enforces the last good state, or the closed table. A missing one (a reboot,
 * a table deleted while the daemon was down) is replaced by the closed table, by tap prefix
 * and by address since the taps are not known, so that no workspace is open while systemd
 * retries (README: Durability).
 */
async function closeMissingTable(nl: NftSocket, layout: LayoutOptions, flags: TableFlags |
  undefined): Promise<void> {
  const result = await nl.commit(closing(layout, [], flags, 'missing'));
  // On stderr, not the logger: its lines are written off the main thread, and the process
  // exits next.
  if (result.ok) {
    process.stderr.write(errorLine('workspace-netd: the start failed and the table was ' +
      'missing: the closed table cuts every workspace off until a start succeeds'));
  }
}

main().catch(async (err) => {
  process.stderr.write(errorLine(`workspace-netd: ${(err as Error).message}`));
  await onFailedStart?.().catch(() => undefined);
  process.exit(1);
});
