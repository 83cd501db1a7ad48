/**
 * Drift: notices when something other than the daemon changes its table, and has the
 * enforcer put it back. Two sources: nf_tables notifications (a change by another netlink
 * socket to the daemon's table, or lost notifications), acted on at once, and a periodic
 * audit as a backstop for whatever notifications cannot show. Other tables are ignored.
 */
import type { Logger } from 'pino';
import type { MonitorEvent } from '../nft/monitor';
import { touches } from '../nft/monitor';
import { FAMILY } from '../compile/layout';
import type { AuditResult, ReconcileHint } from './kernel';

/** What the drift monitor needs of the enforcer. */
export interface Reconciler {
  reconcile(reason: string, hint?: ReconcileHint): Promise<AuditResult>;
  suspect(): void;
  /** the daemon's policy routes: compared and repaired (src/outbound/router.ts) */
  auditRoutes?(): Promise<string[]>;
}

/** Where notifications come from: the addon's NftMonitor in the daemon. */
export type OpenMonitor = (onEvents: (events: MonitorEvent[]) => void) => { close(): void };

/** How the drift monitor is set up. */
export interface DriftOptions {
  /** the daemon's table (family inet) */
  table: string;
  /** the enforcer's commit socket (NftSocket.portId): its notifications are the daemon's */
  ownPortId: number;
  openMonitor: OpenMonitor;
  /** the backstop audit's period */
  auditIntervalMs?: number;
  /** the policy-route audit's period (rtnetlink sends no notification the monitor reads) */
  routeAuditIntervalMs?: number;
  log: Logger;
}

/** A burst of notifications (one `nft` command is one transaction) is read as one. */
const SETTLE_MS = 20;
/** A failed repair is retried at growing intervals, up to the cap. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;
/** The backstop audit reads the whole table: every 10 s costs little (see README). */
export const AUDIT_INTERVAL_MS = 10_000;
/**
 * A periodic audit also waits this many times the last one's duration, so that however
 * large the table grows, audits take at most 2% of the daemon's time: one at 5,000
 * workspaces takes about 4 s, 1.5 s of it on the main thread in slices of a few ms
 * (README: Performance).
 */
const AUDIT_COST_FACTOR = 50;
/**
 * The policy-route audit dumps every IPv4 rule and route of the namespace: about 1 ms on a
 * host with a few routes, plus about 20 ms per 1,000 routes in other tables (see README).
 */
export const ROUTE_AUDIT_INTERVAL_MS = 2_000;

/** Watches the daemon's table and repairs it; start() once the table is in place. */
export class DriftMonitor {
  private monitor: { close(): void } | null = null;
  private auditTimer: NodeJS.Timeout | null = null;
  private routeTimer: NodeJS.Timeout | null = null;
  private routeAudit: Promise<void> | null = null;
  private runTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rerun: string | null = null;
  /** a notification said the table was deleted: the next run rebuilds without reading */
  private missing = false;
  /** a notification named another program's change: the next run closes, then rebuilds */
  private foreign = false;
  private retryMs = RETRY_FIRST_MS;
  private closed = false;
  private auditDueAt = 0;

  constructor(
    private readonly enforcer: Reconciler,
    private readonly o: DriftOptions,
  ) {}

  /** Subscribes to notifications and starts the periodic audit. */
  start(): void {
    this.monitor = this.o.openMonitor((events) => this.onEvents(events));
    const every = this.o.auditIntervalMs ?? AUDIT_INTERVAL_MS;
    this.auditTimer = setInterval(() => {
      if (Date.now() >= this.auditDueAt) this.schedule('periodic audit', 0);
    }, every);
    this.auditTimer.unref();
    if (this.enforcer.auditRoutes) {
      const ms = this.o.routeAuditIntervalMs ?? ROUTE_AUDIT_INTERVAL_MS;
      this.routeTimer = setInterval(() => this.auditRoutes(), ms);
      this.routeTimer.unref();
    }
  }

  /** Stops watching; a repair in flight finishes. */
  close(): void {
    this.closed = true;
    this.monitor?.close();
    this.monitor = null;
    if (this.auditTimer) clearInterval(this.auditTimer);
    if (this.routeTimer) clearInterval(this.routeTimer);
    if (this.runTimer) clearTimeout(this.runTimer);
  }

  /** Resolves when no audit or repair is running or scheduled (for tests). */
  async idle(): Promise<void> {
    while (this.running || this.runTimer) await (this.running ?? sleep(SETTLE_MS));
  }

  /** One route audit at a time; the enforcer logs what it repaired. */
  private auditRoutes(): void {
    if (this.closed || this.routeAudit || !this.enforcer.auditRoutes) return;
    this.routeAudit = this.enforcer
      .auditRoutes()
      .then(() => undefined)
      .catch((err) => this.o.log.error({ err }, 'route repair failed'))
      .finally(() => (this.routeAudit = null));
  }

  private onEvents(events: MonitorEvent[]): void {
    const foreign = events.filter(
      (e) => touches(e, FAMILY, this.o.table) && 'portid' in e && e.portid !== this.o.ownPortId,
    );
    const overrun = events.some((e) => e.type === 'overrun');
    const broken = events.find((e) => e.type === 'error');

    if (broken) {
      // Without notifications only the periodic audit is left to notice drift.
      this.o.log.error({ event: broken }, 'nf_tables monitor failed; auditing periodically');
    }
    if (foreign.length > 0) {
      const kinds = [...new Set(foreign.map((e) => e.type))];
      const portid = 'portid' in foreign[0] ? foreign[0].portid : 0;
      this.o.log.warn({ table: this.o.table, changes: kinds, portid }, 'foreign table change');
      this.missing ||= kinds.includes('deltable');
      this.foreign = true;
      this.enforcer.suspect();
      this.schedule('foreign change', SETTLE_MS);
    } else if (overrun) {
      this.enforcer.suspect();
      this.schedule('notifications lost', SETTLE_MS);
    }
  }

  /** Runs reconcile after `delayMs`; a request during a run makes one more run follow. */
  private schedule(reason: string, delayMs: number): void {
    if (this.closed) return;
    if (this.running) {
      this.rerun ??= reason;
      return;
    }
    if (this.runTimer) return;
    this.runTimer = setTimeout(() => {
      this.runTimer = null;
      this.running = this.run(reason).finally(() => {
        this.running = null;
        const next = this.rerun;
        this.rerun = null;
        if (next !== null) this.schedule(next, 0);
      });
    }, delayMs);
  }

  private async run(reason: string): Promise<void> {
    const started = Date.now();
    const [missing, foreign] = [this.missing, this.foreign];
    this.missing = false;
    this.foreign = false;
    const hint = missing ? { missing } : foreign ? { foreign } : undefined;
    try {
      await this.enforcer.reconcile(reason, hint);
      this.retryMs = RETRY_FIRST_MS;
      this.auditDueAt = Date.now() + (Date.now() - started) * AUDIT_COST_FACTOR;
    } catch (err) {
      this.missing ||= missing;
      this.foreign ||= foreign;
      this.enforcer.suspect();
      this.o.log.error({ err, reason, retryMs: this.retryMs }, 'table repair failed');
      this.rerun ??= reason;
      await sleep(this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
