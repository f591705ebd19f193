/**
 * listen.max_inflight_bytes: a global budget of request-body bytes in flight. hyper-express
 * allocates a body's buffer from its Content-Length, so 1,000 slow 4 MiB uploads would hold 4 GB;
 * with the budget, a body is read only if its declared size fits, and is reserved at header time
 * (before a byte is read) until its answer is sent. Above the budget: 503 INFLIGHT_LIMIT.
 *
 * Large bodies (over SMALL_BODY_BYTES) may hold at most LARGE_BODY_SHARE of the budget, so that
 * slow large uploads — which is what an attacker sends — can never starve ordinary callbacks, which
 * are a few KB. One body is always admitted when nothing else is in flight, so a budget smaller
 * than listen.body_limit_bytes slows large callbacks down instead of refusing them forever.
 */
export const SMALL_BODY_BYTES = 64 * 1024;
export const LARGE_BODY_SHARE = 0.75;
export const DEFAULT_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;

export class InflightBudget {
  private used = 0;
  private usedLarge = 0;

  constructor(readonly limit: number) {}

  /** Bytes reserved right now. */
  get bytes(): number {
    return this.used;
  }

  /** Reserves `bytes` for one body; false when that would go over the budget. */
  reserve(bytes: number): boolean {
    if (bytes <= 0) return true;
    const large = bytes > SMALL_BODY_BYTES;
    if (this.used > 0) {
      if (this.used + bytes > this.limit) return false;
      if (large && this.usedLarge + bytes > this.limit * LARGE_BODY_SHARE) return false;
    }
    this.used += bytes;
    if (large) this.usedLarge += bytes;
    return true;
  }

  /** Gives back what reserve(bytes) took (exactly once per successful reserve). */
  release(bytes: number): void {
    if (bytes <= 0) return;
    this.used = Math.max(0, this.used - bytes);
    if (bytes > SMALL_BODY_BYTES) this.usedLarge = Math.max(0, this.usedLarge - bytes);
  }
}
