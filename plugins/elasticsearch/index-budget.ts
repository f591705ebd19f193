/**
 * How many distinct indices the elasticsearch sink may write to.
 *
 * Elasticsearch creates a missing index on the first `_bulk` item for it, so an index template over
 * sender-controlled values (`imcommand`, `data.family`, group ids, accounts, and the event time, which
 * comes from the callback's MsgTime/EventTime) would let forged callbacks create any number of
 * indices, until the cluster runs out of shards. The budget admits a name when it is already known, or
 * when it matches `index_pattern` and fewer than `max_indices` names are known; anything else fails
 * alone, fatally (ES_INDEX_LIMIT).
 *
 * Known names = the cluster's indices, aliases and data streams matching the template's wildcard
 * (learnt at connect with one `_resolve/index` request, and again at most once a minute while the cap
 * refuses names, so indices deleted by retention free their slots) plus the names this instance
 * admitted and the cluster does not show yet (for a minute: their `_bulk` may still be on its way).
 * When the cluster cannot be asked (privileges), only this instance's names count.
 */

export interface IndexRefusal {
  reason: 'pattern' | 'limit';
  message: string;
}

export interface IndexBudgetOptions {
  maxIndices: number;
  /** Source of an anchored regular expression a new name must match; none: any name. */
  pattern?: string;
  /** Lists the names on the cluster that count (they match the template's wildcard). */
  list: () => Promise<readonly string[]>;
  /** Least time between two listings made because the cap refused a name. */
  relistMs?: number;
  now?: () => number;
}

export class IndexBudget {
  readonly maxIndices: number;
  readonly patternText: string | undefined;
  private readonly pattern: RegExp | undefined;
  /** Names on the cluster at the last listing. */
  private listed = new Set<string>();
  /** Names admitted by this instance that were not in the last listing, with when they were admitted. */
  private readonly admitted = new Map<string, number>();
  private lastListing = -Infinity;
  private listing: Promise<void> | undefined;
  private readonly relistMs: number;
  private readonly now: () => number;

  /** Throws a SyntaxError for a pattern that is not a regular expression. */
  constructor(private readonly options: IndexBudgetOptions) {
    this.maxIndices = options.maxIndices;
    this.patternText = options.pattern;
    this.pattern = options.pattern === undefined ? undefined : new RegExp(`^(?:${options.pattern})$`);
    this.relistMs = options.relistMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Known names (listed on the cluster or admitted here). */
  get size(): number {
    return this.listed.size + this.admitted.size;
  }

  /**
   * Re-reads the names on the cluster. An admitted name not on the cluster keeps counting while its
   * write may still be under way (relistMs); older ones were deleted or never created and stop counting.
   * Rejects when the cluster cannot be asked; the known names are then unchanged.
   */
  refresh(): Promise<void> {
    this.listing ??= (async () => {
      const started = (this.lastListing = this.now());
      const listed = new Set(await this.options.list());
      this.listed = listed;
      for (const [name, at] of this.admitted) if (listed.has(name) || at < started - this.relistMs) this.admitted.delete(name);
    })().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  /** Admits names for writing; returns the refused ones. Lists the cluster again when the cap is hit and a minute has passed. */
  async admit(names: Iterable<string>): Promise<Map<string, IndexRefusal>> {
    const refused = this.admitNow(names);
    const capped = [...refused].filter(([, r]) => r.reason === 'limit').map(([name]) => name);
    if (capped.length > 0 && this.now() - this.lastListing >= this.relistMs) {
      try {
        await this.refresh();
      } catch {
        return refused; // keep the refusals: without a listing nothing proves there is room
      }
      const again = this.admitNow(capped);
      for (const name of capped) {
        const refusal = again.get(name);
        if (refusal) refused.set(name, refusal);
        else refused.delete(name);
      }
    }
    return refused;
  }

  private admitNow(names: Iterable<string>): Map<string, IndexRefusal> {
    const refused = new Map<string, IndexRefusal>();
    for (const name of names) {
      if (this.listed.has(name) || this.admitted.has(name) || refused.has(name)) continue;
      if (this.pattern && !this.pattern.test(name)) {
        refused.set(name, { reason: 'pattern', message: `index ${name} is new and does not match index_pattern ${this.patternText}; not written` });
      } else if (this.size >= this.maxIndices) {
        refused.set(name, { reason: 'limit', message: `index ${name} is new and ${this.size} index name(s) already count against max_indices (${this.maxIndices}); not written` });
      } else {
        this.admitted.set(name, this.now());
      }
    }
    return refused;
  }
}
