import t from 'tap';
import { RateLimiter } from '../../../src/ingest/ratelimit.js';

t.test('token bucket: burst, then the sustained rate', async (t) => {
  let now = 1_000_000;
  const limiter = new RateLimiter({ perSecond: 10, burst: 5, now: () => now });
  for (let i = 0; i < 5; i++) t.ok(limiter.take('192.0.2.1'), `burst ${i}`);
  t.notOk(limiter.take('192.0.2.1'), 'over the burst');
  t.ok(limiter.take('192.0.2.2'), 'other IPs have their own bucket');
  now += 100; // 10/s → one token per 100 ms
  t.ok(limiter.take('192.0.2.1'));
  t.notOk(limiter.take('192.0.2.1'));
  now += 60_000;
  for (let i = 0; i < 5; i++) t.ok(limiter.take('192.0.2.1'), 'refilled up to the burst, not beyond');
  t.notOk(limiter.take('192.0.2.1'));
  t.equal(limiter.limited, 3);
});

t.test('IPv4-mapped IPv6 is the IPv4 address; IPv6 grouped by /64', async (t) => {
  const limiter = new RateLimiter({ perSecond: 1, burst: 1, now: () => 0 });
  t.ok(limiter.take('::ffff:192.0.2.9'));
  t.notOk(limiter.take('192.0.2.9'));
  t.equal(limiter.keyOf('2001:db8:1:2:aaaa::1'), limiter.keyOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
  t.not(limiter.keyOf('2001:db8:1:2::1'), limiter.keyOf('2001:db8:1:3::1'));
  t.equal(limiter.keyOf('2001:db8::1'), '2001:db8:0:0:0:0:0:0/64');
  t.equal(limiter.keyOf('::1.2.3.4'), '0:0:0:0:0:0:0:0/64');
  t.ok(limiter.take('2001:db8:1:2::1'));
  t.notOk(limiter.take('2001:db8:1:2::2'), 'same /64');
  const per = new RateLimiter({ perSecond: 1, burst: 1, ipv6PrefixBits: 128, now: () => 0 });
  t.ok(per.take('2001:db8:1:2::1'));
  t.ok(per.take('2001:db8:1:2::2'), 'per address with ipv6PrefixBits 128');
});

t.test('memory is bounded: a flood of addresses cannot grow the map', async (t) => {
  let now = 0;
  const limiter = new RateLimiter({ perSecond: 1, burst: 2, maxTrackedIps: 1000, now: () => now });
  limiter.take('198.51.100.1');
  limiter.take('198.51.100.1');
  t.notOk(limiter.take('198.51.100.1'), 'the victim is limited');
  let max = 0;
  for (let i = 0; i < 200_000; i++) {
    limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    max = Math.max(max, limiter.size);
  }
  t.ok(max <= 1000, `never more than 1000 buckets (max ${max})`);
  now += 1;
  // Evicted or not, a limited IP is never limited harder than before.
  t.type(limiter.take('198.51.100.1'), 'boolean');
});

t.test('eviction prefers buckets that are full again', async (t) => {
  let now = 0;
  const limiter = new RateLimiter({ perSecond: 1, burst: 1, maxTrackedIps: 8, now: () => now });
  for (let i = 0; i < 7; i++) limiter.take(`192.0.2.${i}`); // all empty now
  now = 500;
  limiter.take('198.51.100.7'); // 8th, empty
  now = 1200; // the first 7 are full again, the 8th is not
  limiter.take('203.0.113.1'); // evicts
  t.notOk(limiter.take('198.51.100.7'), 'the busy bucket survived the eviction');
});

t.test('options are checked', async (t) => {
  t.throws(() => new RateLimiter({ perSecond: 0, burst: 1 }));
  t.throws(() => new RateLimiter({ perSecond: 1, burst: 0 }));
  t.throws(() => new RateLimiter({ perSecond: Number.NaN, burst: 1 }));
});
