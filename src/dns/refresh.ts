/**
 * The daemon resolves every listed name itself and again before its TTL runs out, so that
 * a workspace that resolved elsewhere, or caches longer than the TTL, still reaches the
 * name's current addresses: each answer is learned like one a workspace asked for.
 */
import type { Logger } from 'pino';
import { followChain, type Chain } from './policy';
import type { Upstream } from './upstream';
import { rcodeOf } from './message';

/** Earliest re-resolution, whatever the TTL (a TTL of 0 would otherwise spin). */
export const MIN_REFRESH_MS = 500;
/** Latest re-resolution: a long TTL still gets looked at hourly. */
export const MAX_REFRESH_MS = 3_600_000;
/** After a failure, or an answer without addresses. */
export const RETRY_MS = 5000;

/** When to ask again after `chain`: three quarters into its shortest TTL. */
export function refreshDelay(chain: Chain): number {
  const ttls = [...chain.aliases.values(), ...chain.addresses.map((a) => a.ttl)];
  if (chain.addresses.length === 0) return RETRY_MS;
  const ms = Math.min(...ttls) * 750;
  return Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, ms));
}

/** What the refresher does with an answer. */
export type ChainHandler = (name: string, chain: Chain) => Promise<void>;

/** Keeps every listed name resolved. */
export class NameRefresher {
  // One turn per name; a name dropped and listed again gets a new one, so loops never double.
  private readonly turns = new Map<string, { timer: NodeJS.Timeout | null }>();
  private stopped = false;

  constructor(
    private readonly upstream: Upstream,
    private readonly onChain: ChainHandler,
    private readonly log: Logger,
  ) {}

  /** Resolves names new to `names` at once, and stops resolving those not in it. */
  follow(names: ReadonlySet<string>): void {
    for (const [name, turn] of this.turns) {
      if (names.has(name)) continue;
      if (turn.timer) clearTimeout(turn.timer);
      this.turns.delete(name);
    }
    for (const name of names) {
      if (this.stopped || this.turns.has(name)) continue;
      const turn = { timer: null };
      this.turns.set(name, turn);
      void this.resolve(name, turn);
    }
  }

  /** Stops every timer. */
  stop(): void {
    this.stopped = true;
    for (const turn of this.turns.values()) if (turn.timer) clearTimeout(turn.timer);
    this.turns.clear();
  }

  private async resolve(name: string, turn: { timer: NodeJS.Timeout | null }): Promise<void> {
    const current = () => !this.stopped && this.turns.get(name) === turn;
    let delay = RETRY_MS;
    try {
      const res = await this.upstream.query({ name, type: 'A', class: 'IN' });
      const chain = followChain(name, rcodeOf(res) === 'NOERROR' ? res.answers ?? [] : []);
      if (current()) await this.onChain(name, chain);
      delay = refreshDelay(chain);
    } catch (err) {
      this.log.warn({ err, name }, 'resolving an egress name failed');
    }

    // Only a name still followed gets its next turn.
    if (!current()) return;
    turn.timer = setTimeout(() => void this.resolve(name, turn), delay);
    turn.timer.unref();
  }
}
