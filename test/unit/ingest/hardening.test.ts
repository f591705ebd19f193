// Issue 19 building blocks: rejection-log aggregation, the in-flight body budget, trusted proxies
// (X-Forwarded-For), address lists, and generic auth reasons with the detail kept for the log.
import t from 'tap';
import pino from 'pino';
import { Writable } from 'node:stream';
import { AddressList, normalizeIp } from '../../../src/ingest/address-list.js';
import { Authenticator, signature } from '../../../src/ingest/auth.js';
import { TrustedProxies, UNKNOWN_CLIENT } from '../../../src/ingest/client-address.js';
import { InflightBudget, LARGE_BODY_SHARE, SMALL_BODY_BYTES } from '../../../src/ingest/inflight.js';
import { RejectLog } from '../../../src/ingest/reject-log.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

t.test('RejectLog: first of a code per interval in full, then one "… and N more" line; codes apart', async (t) => {
  const { logger, lines } = capture();
  let now = 0;
  const log = new RejectLog(logger, 1000, () => now);
  for (let i = 0; i < 500; i++) log.warn('APP_UNKNOWN', { code: 'APP_UNKNOWN', n: i }, 'callback rejected: APP_UNKNOWN');
  log.warn('SIGN_INVALID', { code: 'SIGN_INVALID' }, 'callback rejected: SIGN_INVALID');
  now = 999;
  log.warn('APP_UNKNOWN', { code: 'APP_UNKNOWN', n: 500 }, 'callback rejected: APP_UNKNOWN');
  t.same(
    lines.map((l) => [l.code, l.n ?? l.suppressed]),
    [
      ['APP_UNKNOWN', 0],
      ['SIGN_INVALID', undefined],
    ],
    'two full lines so far',
  );
  now = 1000; // the interval is over: the next one sums the last up, then is logged in full
  log.warn('APP_UNKNOWN', { code: 'APP_UNKNOWN', n: 501 }, 'callback rejected: APP_UNKNOWN');
  t.same(lines[2], { ...lines[2], code: 'APP_UNKNOWN', suppressed: 500, intervalMs: 1000, msg: 'callback rejected: APP_UNKNOWN … and 500 more in the last second' });
  t.equal(lines[3]!.n, 501);
  for (let i = 0; i < 9; i++) log.warn('APP_UNKNOWN', { code: 'APP_UNKNOWN' }, 'callback rejected: APP_UNKNOWN');
  log.flush();
  t.equal(lines[4]!.suppressed, 9, 'flush (at shutdown) writes the open interval');
  t.equal(lines.length, 5);
  t.equal(1 + 500 + 1 + 9 + 1, 1 + Number(lines[2]!.suppressed) + 1 + Number(lines[4]!.suppressed) + 1, 'every rejection is a line or in a count');
});

t.test('RejectLog: the summary comes by itself when the interval is over', async (t) => {
  const { logger, lines } = capture();
  const log = new RejectLog(logger, 50);
  log.warn('RATE_LIMITED', { code: 'RATE_LIMITED' }, 'request rejected: RATE_LIMITED');
  log.warn('RATE_LIMITED', { code: 'RATE_LIMITED' }, 'request rejected: RATE_LIMITED');
  const deadline = Date.now() + 10_000;
  while (lines.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(lines[1]?.suppressed, 1);
  t.equal(lines[1]?.msg, 'request rejected: RATE_LIMITED … and 1 more in the last 50 ms');
});

t.test('InflightBudget: reserve by declared size; large bodies capped at their share; one always fits', async (t) => {
  const budget = new InflightBudget(64 * 1024 * 1024);
  const big = 4 * 1024 * 1024;
  let admitted = 0;
  while (budget.reserve(big)) admitted++;
  t.equal(admitted, Math.floor((64 * LARGE_BODY_SHARE) / 4), '4 MiB bodies: 3/4 of 64 MiB');
  t.ok(budget.reserve(SMALL_BODY_BYTES), 'a small body still fits');
  t.equal(budget.bytes, admitted * big + SMALL_BODY_BYTES);
  for (let i = 0; i < admitted; i++) budget.release(big);
  budget.release(SMALL_BODY_BYTES);
  t.equal(budget.bytes, 0, 'all given back');
  let small = 0;
  while (budget.reserve(SMALL_BODY_BYTES)) small++;
  t.equal(small, 1024, 'small bodies may use the whole budget');
  t.notOk(budget.reserve(1), 'then nothing fits');

  const tiny = new InflightBudget(1024 * 1024);
  t.ok(tiny.reserve(big), 'a body larger than the budget is admitted when nothing else is in flight');
  t.notOk(tiny.reserve(100), 'and then it is full');
  tiny.release(big);
  t.ok(tiny.reserve(0) && tiny.bytes === 0, 'an empty body costs nothing');
});

t.test('TrustedProxies: X-Forwarded-For only from a trusted peer, rightmost untrusted hop', async (t) => {
  const proxies = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', '2001:db8::/32']);
  t.equal(proxies.clientOf('192.0.2.1', ['203.0.113.5']), '192.0.2.1', 'untrusted peer: its own address');
  t.equal(proxies.clientOf('127.0.0.1', undefined), '127.0.0.1', 'no header: the peer');
  t.equal(proxies.clientOf('127.0.0.1', ['203.0.113.5']), '203.0.113.5');
  t.equal(proxies.clientOf('127.0.0.1', ['1.1.1.1, 203.0.113.5']), '203.0.113.5', 'what the client claims on the left is ignored');
  t.equal(proxies.clientOf('127.0.0.1', ['1.1.1.1, 203.0.113.5, 10.0.0.2']), '203.0.113.5', 'trusted hops on the right are skipped');
  t.equal(proxies.clientOf('127.0.0.1', ['1.1.1.1', '203.0.113.5']), '203.0.113.5', 'several header lines, in order');
  t.equal(proxies.clientOf('127.0.0.1', ['10.0.0.3, 10.0.0.2']), '10.0.0.3', 'all hops trusted: the leftmost');
  t.equal(proxies.clientOf('127.0.0.1', ['203.0.113.5:4711']), '203.0.113.5', 'IPv4 with a port');
  t.equal(proxies.clientOf('127.0.0.1', ['[2001:db9::1]:443']), '2001:db9::1', 'bracketed IPv6 with a port');
  t.equal(proxies.clientOf('127.0.0.1', [' 203.0.113.5 ,, ']), '203.0.113.5', 'blanks and empty hops');
  t.equal(proxies.clientOf('127.0.0.1', ['x, nonsense']), UNKNOWN_CLIENT, 'a hop that is not an address');
  t.equal(proxies.clientOf('0000:0000:0000:0000:0000:ffff:7f00:0001', ['203.0.113.5']), '203.0.113.5', 'uWS-style v4-mapped peer');
  t.equal(proxies.clientOf('::ffff:10.1.1.1', ['::ffff:203.0.113.5']), '203.0.113.5', 'v4-mapped both ways');
  t.throws(() => new TrustedProxies(['10.0.0.0/40']), /listen\.trusted_proxies: "10\.0\.0\.0\/40" is not an IP address or CIDR/);
  t.throws(() => new TrustedProxies(['proxy.local']), /is not an IP address or CIDR/);
});

t.test('AddressList and normalizeIp', async (t) => {
  const list = new AddressList(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32'], 'allow_ips');
  t.ok(list.has('10.9.8.7'));
  t.ok(list.has('::ffff:10.9.8.7'));
  t.ok(list.has('0000:0000:0000:0000:0000:ffff:0a09:0807'), 'expanded v4-mapped (as uWS prints it)');
  t.ok(list.has('2001:db8::5'));
  t.ok(list.has('2001:0db8:0000:0000:0000:0000:0000:0005'), 'expanded IPv6');
  t.notOk(list.has('192.0.2.8'));
  t.notOk(list.has('unknown'));
  t.equal(normalizeIp('0000:0000:0000:0000:0000:ffff:c000:0207'), '192.0.2.7');
  t.equal(normalizeIp('2001:db8::1'), '2001:db8::1');
  t.throws(() => new AddressList(['1.2.3.4/8/9'], 'allow_ips'), /allow_ips: "1\.2\.3\.4\/8\/9"/);
});

t.test('auth: the answer is generic before auth passes, the log detail is not', async (t) => {
  const nowS = 1767225600;
  const auth = new Authenticator([{ sdk_app_id: '1400000000', token: 'tok', allow_ips: ['10.0.0.0/8'] } as never], 60_000, () => nowS * 1000);
  const unknown = auth.check('1400000999', undefined, undefined, '10.0.0.1')!;
  t.equal(unknown.code, 'APP_UNKNOWN');
  t.notMatch(unknown.reason, /1400000999/, 'the answer does not echo the SdkAppid');
  t.match(unknown.detail, /SdkAppid 1400000999 is not configured here/);
  const rt = String(nowS + 61);
  const skew = auth.check('1400000000', signature('tok', rt), rt, '10.0.0.1')!;
  t.equal(skew.code, 'REQUEST_TIME_OUT_OF_WINDOW');
  t.notMatch(skew.reason, /\d/, 'the answer has no clock figures');
  t.equal(skew.detail, 'RequestTime is 61 s from now (window 60 s)');
  const ip = auth.check('1400000000', undefined, undefined, '192.0.2.1')!;
  t.equal(ip.code, 'IP_NOT_ALLOWED');
  t.notMatch(ip.reason, /192\.0\.2\.1/);
  t.match(ip.detail, /client address 192\.0\.2\.1 is not in apps\[\]\.allow_ips/);
  t.equal(auth.check('1400000000', signature('tok', String(nowS)), String(nowS), '10.0.0.1'), undefined, 'a good request passes');
});
