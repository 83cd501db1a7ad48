/** The shape of one benchmark run's results (bench/results.json), shared by its writers. */
import type { AnatomyRow } from './anatomy';
import type { ApiRow } from './api';
import type { ChangeRow, RegisterBand } from './change';
import type { ColdRow } from './cold-build';
import type { DurabilityRow } from './durability';
import type { Machine } from './machine';
import type { PacketRow } from './packets';
import type { RelayRow } from './relay';

/** A benchmark that did not run, and why. */
export interface Skipped {
  skipped: string;
}

/** Everything one `bench/run` measured. */
export interface Results {
  machine: Machine;
  runs: number;
  loadBefore: number[];
  loadAfter: number[];
  seconds: number;
  cold?: { rows: ColdRow[]; equivalent: string };
  change?: {
    rows: ChangeRow[];
    bands: RegisterBand[];
    /** one workspace, state_dir on the machine's disk: SQLite's fsync included */
    disk: { p50: number; p99: number; where: string };
    anatomy: AnatomyRow[];
  };
  api?: { rows: ApiRow[]; rssEmptyKiB: number; rssFleetKiB: number; workspaces: number;
    /** the largest daemon after the changes, the API load and its audits: now, and peak */
    rssLoadedKiB?: number; rssPeakKiB?: number;
    /** [workspaces, VmRSS KiB] of each daemon just started */
    rssBySize?: [number, number][] };
  packets?: PacketRow[];
  relay: Skipped | { rows: RelayRow[] };
  durability?: DurabilityRow[];
  /** benchmarks that failed, with the first line of their error */
  failed: string[];
  /** when each benchmark ran and the 1-minute load average before and after it */
  /** per section: when it ran, on which kernel (a --only run keeps the others' own) */
  loads?: Record<string, { date: string; kernel?: string; before: number; after: number }>;
}
