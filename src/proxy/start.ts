/**
 * The custom-proxy side of the daemon, built from the config: the service the registry
 * calls and the relay it feeds. The relay listens before the API does, so that no
 * workspace is ever redirected to a port nobody serves.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Workspace } from '../model/types';
import { Relay } from './relay';
import { MemorySecrets, type ProxySecrets } from './secrets';
import { ProxyService, type Conntrack } from './service';
import { loadTrust } from './trust';

/** The custom-proxy parts main wires in. */
export interface Proxies {
  service: ProxyService;
  relay: Relay;
  /** Routes the custom-mode workspaces of the loaded state, then starts the relay. */
  start(workspaces?: Iterable<Workspace>): Promise<void>;
  /** Stops accepting relay connections. */
  close(): Promise<void>;
}

/** Builds the service and the relay; `secrets` defaults to memory only. */
export function createProxies(
  config: Config,
  conntrack: Conntrack,
  log: Logger,
  secrets: ProxySecrets = new MemorySecrets(),
): Proxies {
  const ca = loadTrust(config.proxy_ca_file);
  const timeoutMs = config.preflight.timeout_ms;
  const service = new ProxyService({
    preflight: { target: config.preflight.target, timeoutMs, ca },
    secrets,
    workspaceNetwork: config.workspace_network,
    runtimeApiPort: config.runtime_api_port,
    conntrack,
    log,
  });
  const relay = new Relay({
    port: config.relay_port,
    route: (source) => service.route(source),
    timeoutMs,
    idleTimeoutMs: config.relay_idle_timeout_s * 1000,
    maxConnections: config.relay_max_connections,
    ca,
    log: log.child({ component: 'relay' }),
  });
  service.attach(relay);

  return {
    service,
    relay,
    async start(workspaces = []) {
      service.restore(workspaces);
      await relay.start();
      log.info({ port: config.relay_port }, 'proxy relay listening');
    },
    close: () => relay.close(),
  };
}
