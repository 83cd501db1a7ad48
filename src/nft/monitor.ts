/**
 * The typed face of the addon's NftMonitor: nf_tables change notifications (the
 * NFNLGRP_NFTABLES multicast group, what `nft monitor` shows), read on Node's event loop.
 */
import type { Family } from './types';
import { load } from './addon';

/** One change to an object of a table, as the kernel announced it. */
export interface ObjectEvent {
  /** as `nft monitor` names it: 'newtable', 'deltable', 'newchain', 'delrule', ... */
  type: string;
  family: Family | string;
  /** absent only for a message the kernel sent without a table name */
  table?: string;
  /** the netlink port of the socket whose commit made the change (0: the kernel) */
  portid: number;
}

/** The end of one committed transaction. */
export interface GenEvent {
  type: 'newgen';
  genId: number;
  /** the committing task (a thread id when a worker thread committed) */
  pid: number;
  comm: string;
  portid: number;
}

/** The kernel dropped notifications (the socket's buffer overran): anything may have changed. */
export interface OverrunEvent {
  type: 'overrun';
}

/** The monitor socket failed and was closed. */
export interface ErrorEvent {
  type: 'error';
  errno: number;
  message: string;
}

/** What the monitor reports. */
export type MonitorEvent = ObjectEvent | GenEvent | OverrunEvent | ErrorEvent;

interface NativeMonitor {
  close(): void;
}

type NativeMonitorClass = new (
  netns: string | undefined,
  onEvents: (events: MonitorEvent[]) => void,
) => NativeMonitor;

/** A subscription to nf_tables notifications in one network namespace. */
export class NftMonitor {
  private constructor(private readonly native: NativeMonitor) {}

  /**
   * Starts listening, inside the namespace at `netns` if given. `onEvents` is called on
   * the main thread with the notifications read together, in the order the kernel sent
   * them. Keep the monitor referenced and close() it: it holds the event loop open.
   */
  static open(onEvents: (events: MonitorEvent[]) => void, opts: { netns?: string } = {}) {
    // The addon's module type names only NftSocket; the monitor is exported beside it.
    const mod = load() as unknown as { NftMonitor: NativeMonitorClass };
    return new NftMonitor(new mod.NftMonitor(opts.netns, onEvents));
  }

  /** Stops listening and closes the socket. */
  close(): void {
    this.native.close();
  }
}

/** True for a notification about an object of `family` `table`. */
export function touches(event: MonitorEvent, family: Family, table: string): boolean {
  return 'table' in event && event.family === family && event.table === table;
}
