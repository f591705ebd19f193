/**
 * Per-client-IP token bucket. Each IP (IPv4 address, or IPv6 /64 by default, since one host
 * usually owns a whole /64) gets `burst` tokens, refilled at `perSecond`; a request takes one.
 *
 * Memory is bounded: at most `maxTrackedIps` buckets are kept. When the map is full, buckets that
 * have refilled completely are dropped first (they are equivalent to a fresh bucket), then the
 * oldest-inserted ones. Evicting a busy IP only makes the limit more lenient for it, never stricter,
 * so a flood from many addresses cannot get a legitimate sender limited.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface RateLimiterOptions {
  /** Sustained requests per second per IP (> 0). */
  perSecond: number;
  /** Bucket size: requests an idle IP may send at once (>= 1). */
  burst: number;
  /** Upper bound on tracked IPs (default 10 000, about 1 MB). */
  maxTrackedIps?: number;
  /** IPv6 addresses are grouped by this prefix length (default 64; 128 = per address). */
  ipv6PrefixBits?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly burst: number;
  private readonly max: number;
  private readonly v6Bits: number;
  private readonly now: () => number;
  /** Requests refused since the start (for metrics/logs). */
  limited = 0;

  constructor(options: RateLimiterOptions) {
    if (!(options.perSecond > 0) || !Number.isFinite(options.perSecond)) throw new RangeError('rate limit: perSecond must be a positive number');
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) throw new RangeError('rate limit: burst must be at least 1');
    this.perMs = options.perSecond / 1000;
    this.burst = options.burst;
    this.max = Math.max(1, Math.floor(options.maxTrackedIps ?? 10_000));
    this.v6Bits = Math.min(128, Math.max(0, Math.floor(options.ipv6PrefixBits ?? 64)));
    this.now = options.now ?? Date.now;
  }

  /** Takes one token for `ip`; false when the IP is over its rate (answer 429 RATE_LIMITED). */
  take(ip: string): boolean {
    const key = this.keyOf(ip);
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.max) this.evict(now);
      bucket = { tokens: this.burst, updatedMs: now };
      this.buckets.set(key, bucket);
    } else {
      const elapsed = now - bucket.updatedMs;
      if (elapsed > 0) {
        bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed * this.perMs);
        bucket.updatedMs = now;
      }
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    this.limited++;
    return false;
  }

  /** Number of IPs currently tracked (never above maxTrackedIps). */
  get size(): number {
    return this.buckets.size;
  }

  /** The bucket key: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 truncated to the prefix. */
  keyOf(ip: string): string {
    if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) return ip.slice(7);
    if (this.v6Bits >= 128 || !isIPv6(ip)) return ip;
    return ipv6Prefix(ip, this.v6Bits);
  }

  private evict(now: number): void {
    // Drop up to 1/8 of the map per eviction so that the cost is amortized.
    const target = this.max - Math.max(1, this.max >> 3);
    const fullAfterMs = this.burst / this.perMs;
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size <= target) return;
      if (now - bucket.updatedMs >= fullAfterMs) this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) return;
      this.buckets.delete(key);
    }
  }
}

function ipv6Prefix(ip: string, bits: number): string {
  const zone = ip.indexOf('%');
  const address = zone >= 0 ? ip.slice(0, zone) : ip;
  const [head = '', tail] = address.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  let groups = parse(head);
  if (tail !== undefined) {
    let rest = parse(tail);
    // An embedded IPv4 tail ("::1.2.3.4") counts as two groups.
    const last = rest[rest.length - 1];
    if (last !== undefined && last.includes('.')) rest = [...rest.slice(0, -1), '0', '0'];
    groups = [...groups, ...new Array<string>(Math.max(0, 8 - groups.length - rest.length)).fill('0'), ...rest];
  }
  const words = groups.slice(0, 8).map((g) => parseInt(g, 16) || 0);
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    out.push(((words[i] ?? 0) & (keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff)).toString(16));
  }
  return `${out.join(':')}/${bits}`;
}
