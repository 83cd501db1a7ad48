/**
 * sd_notify(3) for a Type=notify service: READY=1 once the kernel matches the desired
 * state, STOPPING=1 on the way out, STATUS= lines for `systemctl status`. Without
 * $NOTIFY_SOCKET (not run by systemd) every call is a no-op that returns false.
 */
import { load } from '../nft/addon';

type Notify = (state: string) => boolean;

/** Sends `fields` (e.g. { READY: 1, STATUS: 'ready' }); true when systemd was told. */
export function sdNotify(fields: Record<string, string | number>): boolean {
  if (!process.env.NOTIFY_SOCKET) return false;
  const text = Object.entries(fields)
    .map(([key, value]) => `${key}=${String(value).replace(/\n/g, ' ')}`)
    .join('\n');
  // The addon sends the datagram: Node's dgram module has no AF_UNIX sockets.
  const mod = load() as unknown as { sdNotify: Notify };
  return mod.sdNotify(text);
}

/**
 * The watchdog interval systemd asks for (WatchdogSec=), halved as sd_watchdog_enabled(3)
 * advises; null when no watchdog is set or it is meant for another process.
 */
export function watchdogIntervalMs(): number | null {
  const usec = Number(process.env.WATCHDOG_USEC);
  const pid = process.env.WATCHDOG_PID;
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (pid !== undefined && Number(pid) !== process.pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}
