/**
 * The typed face of the addon's CtMonitor: conntrack events (the NFNLGRP_CONNTRACK_NEW
 * and _DESTROY multicast groups, what `conntrack -E -e NEW,DESTROY` shows) of one network
 * namespace, read on Node's event loop. IPv4 entries only, as ctList.
 */
import { readFileSync } from 'node:fs';

import type { CtTuple } from './types';
import { load } from './addon';

/** An entry the kernel confirmed (new) or removed (destroy), by original tuple. */
export interface CtEvent {
  type: 'new' | 'destroy';
  /** with replyDst: where the source was translated to (a new entry's NAT is decided) */
  tuple: CtTuple;
}

/** What one read of the socket found. */
export interface CtBatch {
  /** in the order the kernel sent them */
  events: CtEvent[];
  /** the kernel dropped events (ENOBUFS): entries may have come and gone unseen */
  overrun: boolean;
  /** set when the socket failed and was closed: no event will follow */
  error?: { errno: number };
}

/** The receive buffer asked for: 26,214 events queued in it before one was lost. */
export const CT_MONITOR_RCVBUF = 16 * 1024 * 1024;

/** The size of a record the addon packs (native/ct_tuple.h: PackTuple). */
const RECORD = 24;

interface NativeCtMonitor {
  drain(): void;
  close(): void;
}

type NativeCtMonitorClass = new (
  netns: string | undefined,
  rcvbuf: number,
  onEvents: (records: Uint8Array, overrun: boolean, errno: number) => void,
) => NativeCtMonitor;

/** A subscription to conntrack events in one network namespace. */
export class CtMonitor {
  private constructor(private readonly native: NativeCtMonitor) {}

  /**
   * Starts listening, inside the namespace at `netns` if given. `onBatch` is called on
   * the main thread as events arrive, and from drain(). Keep the monitor referenced and
   * close() it: it holds the event loop open.
   */
  static open(
    onBatch: (batch: CtBatch) => void,
    opts: { netns?: string; rcvbuf?: number } = {},
  ): CtMonitor {
    const mod = load() as unknown as { CtMonitor: NativeCtMonitorClass };
    const deliver = (records: Uint8Array, overrun: boolean, errno: number) =>
      onBatch({ events: unpack(records), overrun, ...(errno !== 0 ? { error: { errno } } : {}) });
    return new CtMonitor(new mod.CtMonitor(opts.netns, opts.rcvbuf ?? CT_MONITOR_RCVBUF, deliver));
  }

  /** Reads every event queued now and hands it to onBatch before returning. */
  drain(): void {
    this.native.drain();
  }

  /** Stops listening and closes the socket. */
  close(): void {
    this.native.close();
  }
}

/** The events of a packed batch (layout in native/ct_tuple.h, fields in network order). */
export function unpack(records: Uint8Array): CtEvent[] {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const events: CtEvent[] = [];
  for (let at = 0; at + RECORD <= records.length; at += RECORD) {
    const proto = records[at + 1];
    const tuple: CtTuple = {
      proto,
      src: quad(records, at + 4),
      dst: quad(records, at + 8),
      sport: view.getUint16(at + 16),
      dport: view.getUint16(at + 18),
      replyDst: quad(records, at + 12),
    };
    if (proto === IPPROTO_ICMP) {
      const icmp = { id: view.getUint16(at + 20), type: records[at + 2], code: records[at + 3] };
      tuple.icmp = icmp;
    }
    events.push({ type: records[at] === 1 ? 'new' : 'destroy', tuple });
  }
  return events;
}

const IPPROTO_ICMP = 1;

function quad(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/**
 * False while the kernel sends no conntrack events in the caller's namespace: sysctl
 * net.netfilter.nf_conntrack_events is 0 (1 sends them always, 2 while a listener exists),
 * or conntrack is not loaded at all.
 */
export function conntrackEvents(
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): boolean {
  try {
    return read('/proc/sys/net/netfilter/nf_conntrack_events').trim() !== '0';
  } catch {
    return false;
  }
}
