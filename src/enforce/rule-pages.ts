/**
 * A read-back's rules for the audit: the addon keeps the parsed rules and decodes them into
 * objects only when asked, so that no step of a comparison of 100,000 rules holds the event
 * loop for all of them.
 */
import type { ChainState, TableReadBack } from '../nft/types';

/** How many rules one call into the addon decodes: a few ms on the main thread. */
const RULE_PAGE = 128;

/** A read-back's rules, decoded by the addon a page at a time as they are reached. */
export class RulePages {
  private page: ChainState['rules'] = [];
  private first = 0;
  private readonly total: number;

  constructor(private readonly read: TableReadBack) {
    this.total = read.chains.reduce((n, c) => n + c.ruleCount, 0);
  }

  /** Rule `i` of the chains' rules back to back. */
  at(i: number): ChainState['rules'][number] {
    if (i < this.first || i >= this.first + this.page.length) {
      this.first = i;
      this.page = this.read.rules(i, Math.min(i + RULE_PAGE, this.total));
    }
    return this.page[i - this.first];
  }
}
