/**
 * Readiness for systemd (Type=notify): READY=1 is sent once the kernel matches the desired
 * state and the API listens, so `systemctl start` returns only for a healthy daemon, and
 * units ordered after it find the workspaces enforced. While systemd asks for a watchdog,
 * pings keep coming from the event loop: a daemon whose loop hangs is restarted.
 */
import type { Logger } from 'pino';
import { sdNotify, watchdogIntervalMs } from './notify';

/** How often readiness is checked while the kernel does not match yet. */
const POLL_MS = 100;

/** Tells systemd the daemon is ready once `healthy()` says so; pings its watchdog. */
export async function announceReady(
  healthy: () => Promise<boolean>,
  log: Logger,
  status: string,
): Promise<void> {
  // The watchdog measures the event loop, not health: an unhealthy daemon that still
  // runs keeps retrying its repair, and restarting it would not help.
  const interval = watchdogIntervalMs();
  if (interval !== null) setInterval(() => sdNotify({ WATCHDOG: 1 }), interval).unref();

  while (!(await healthy())) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  if (sdNotify({ READY: 1, STATUS: status })) log.info({ status }, 'systemd told ready');
}

/** Tells systemd the daemon is stopping (the rules stay: see README, Durability). */
export function announceStopping(): void {
  sdNotify({ STOPPING: 1, STATUS: 'stopping; rules stay in the kernel' });
}
