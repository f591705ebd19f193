// IngestServer transport defences, without the daemon: per-IP rate limit (429), body deadline
// (408, slowloris), conflicting Content-Length headers (crashed hyper-express), nesting depth.
import net from 'node:net';
import t from 'tap';
import pino from 'pino';
import { IngestServer } from '../../../src/ingest/server.js';
import { RateLimiter } from '../../../src/ingest/ratelimit.js';
import { nestedDeeperThan } from '../../../src/ingest/handler.js';
import type { CallbackHandler } from '../../../src/ingest/handler.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import { waitFor } from '../../helpers/daemon.js';

const metrics = new Metrics({ processMetrics: false });
const OK = '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}';

async function server(t: { teardown(fn: () => unknown): void }, extra: { rateLimiter?: RateLimiter; bodyTimeoutMs?: number } = {}) {
  const seen: Buffer[] = [];
  const handler = { handle: async (r: { body: Buffer }) => (seen.push(r.body), { status: 200, body: OK }) } as unknown as CallbackHandler;
  const s = new IngestServer({
    listen: { host: '127.0.0.1', port: 0, path: '/cb', body_limit_bytes: 1024, body_timeout_ms: 8000 },
    handler,
    metrics,
    logger: pino({ level: 'silent' }),
    readiness: async () => ({ ready: true }),
    ...extra,
  });
  await s.start();
  t.teardown(() => s.stop(Date.now()));
  return { port: s.port, seen, server: s };
}

function raw(port: number, text: string | (() => void), timeoutMs = 8000): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (d) => (out += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const end = out.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0), body: end >= 0 ? out.slice(end + 4) : '', ms: Date.now() - started });
    });
    if (typeof text === 'string') socket.write(text);
  });
}

const post = (body: string, extraHeaders = '') => `POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extraHeaders}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

t.test('per-IP rate limit answers 429 RATE_LIMITED before reading the body', async (t) => {
  const { port, seen } = await server(t, { rateLimiter: new RateLimiter({ perSecond: 0.001, burst: 2 }) });
  t.equal((await raw(port, post('{}'))).status, 200);
  t.equal((await raw(port, post('{}'))).status, 200);
  const limited = await raw(port, post('{}'));
  t.equal(limited.status, 429);
  t.match(limited.body, /"ErrorCode":42900,"ErrorInfo":"RATE_LIMITED: /);
  t.equal(seen.length, 2, 'the limited request never reached the handler');
});

t.test('slowloris: a trickling body gets 408 REQUEST_TIMEOUT at the deadline', async (t) => {
  const { port, seen, server: s } = await server(t, { bodyTimeoutMs: 600 });
  const socket = net.connect(port, '127.0.0.1');
  let out = '';
  socket.on('data', (d) => (out += d.toString()));
  const started = Date.now();
  socket.write('POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n');
  let dripped = 0;
  const drip = setInterval(() => {
    if (!socket.writable) return;
    socket.write(' ');
    dripped++;
  }, 50);
  await new Promise((r) => socket.on('close', r));
  clearInterval(drip);
  const elapsed = Date.now() - started;
  t.match(out, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  t.match(out, /"ErrorCode":40800,"ErrorInfo":"REQUEST_TIMEOUT: /);
  // Not before the deadline (timers never fire early), and at it: counted in drips, not in ms. The
  // drip shares this event loop with the server, so a busy machine slows both alike; 60 drips
  // (3 s idle) is 5 × the deadline, and a deadline that each byte pushed back would never answer
  // before the 100th byte completed the body.
  t.ok(elapsed >= 550, `not answered before the deadline (${elapsed} ms)`);
  t.ok(dripped < 60, `answered at the deadline (after ${dripped} bytes of 100, ${elapsed} ms)`);
  t.equal(seen.length, 0);
  t.equal(s.readingBodies, 0, 'nothing left in flight');
  t.equal(s.pending, 0);
  t.equal((await raw(port, post('{}'))).status, 200, 'still serving');
});

t.test('a client that disconnects mid-body does not leak an in-flight request', async (t) => {
  // A body deadline far beyond the wait below: only the disconnect can free the request (before, a
  // 400 ms deadline freed it too, so the test could not tell the two apart).
  const { port, server: s } = await server(t, { bodyTimeoutMs: 120_000 });
  const socket = net.connect(port, '127.0.0.1');
  socket.write('POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
  await waitFor(() => s.readingBodies, (n) => n === 1, 60_000, 10); // the body is being read
  t.equal(s.pending, 1, 'the request is in flight');
  socket.destroy();
  await waitFor(() => s.pending + s.readingBodies, (n) => n === 0, 60_000, 20);
  t.equal(s.pending, 0);
  t.equal(s.readingBodies, 0);
});

t.test('an oversized body still trickling gets its 413 at the deadline', async (t) => {
  const { port } = await server(t, { bodyTimeoutMs: 500 });
  const answer = await raw(port, 'POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n{');
  t.equal(answer.status, 413);
  t.match(answer.body, /PAYLOAD_TOO_LARGE/);
});

t.test('a stalled body is answered, whole, before uWS drops the idle connection (8–12 s), whatever body_timeout_ms says', async (t) => {
  // uWS closes a connection silent for its 10 s idle timeout (4 s ticks). With a 120 s body
  // deadline, only the stall rule can answer in time; before it, the 413 case got its status line
  // (hyper-express wrote it early) and then a close, and the 408 case a close.
  const { port, server: s } = await server(t, { bodyTimeoutMs: 120_000 });
  const [tooLarge, stalled] = await Promise.all([
    raw(port, 'POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n', 30_000),
    raw(port, 'POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":', 30_000),
  ]);
  t.equal(tooLarge.status, 413, `declared too large, nothing sent: 413 (${tooLarge.ms} ms)`);
  t.match(tooLarge.body, /^\{"ActionStatus":"FAIL","ErrorCode":41300,"ErrorInfo":"PAYLOAD_TOO_LARGE: /, 'with its body');
  t.equal(stalled.status, 408, `a body that stops arriving: 408 (${stalled.ms} ms)`);
  t.match(stalled.body, /"ErrorInfo":"REQUEST_TIMEOUT: /);
  t.ok(tooLarge.ms >= 5_000 && stalled.ms >= 5_000, 'not before the stall limit');
  t.equal(s.readingBodies, 0, 'nothing left in flight');
});

t.test('conflicting Content-Length headers are refused (used to crash hyper-express)', async (t) => {
  const { port, seen } = await server(t);
  for (const [a, b, body] of [['30', '2', '{}' + ' '.repeat(28)], ['2', '30', '{}']] as const) {
    const answer = await raw(port, `POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${a}\r\nContent-Length: ${b}\r\n\r\n${body}`);
    t.equal(answer.status, 400, `${a} then ${b}`);
    t.match(answer.body, /"ErrorCode":40007,"ErrorInfo":"CONTENT_LENGTH_INVALID: /);
  }
  t.equal((await raw(port, post('{}'))).status, 200, 'still up');
  t.equal(seen.length, 1);
});

t.test('Content-Length: a repeated equal value is one length; any non-decimal value among several is refused', async (t) => {
  const { port, seen } = await server(t);
  const same = await raw(port, 'POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n{"a":1}');
  t.equal(same.status, 200, 'the same length twice');
  t.same(seen.map(String), ['{"a":1}'], 'the body, whole');
  const bad = await raw(port, 'POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 7\r\nContent-Length: 7x\r\n\r\n{"a":1}');
  t.equal(bad.status, 400, 'a second, non-decimal length');
  t.match(bad.body, /CONTENT_LENGTH_INVALID: Content-Length is not a decimal number/);
  t.equal(seen.length, 1, 'the refused body never reached the handler');
});

t.test('a body sent in many small chunks arrives whole, in order, and a client gone mid-body frees its budget', async (t) => {
  const { port, seen, server: s } = await server(t);
  const body = JSON.stringify({ text: 'x'.repeat(900), emoji: '\u{1F600}'.repeat(10) });
  const bytes = Buffer.from(body);
  const whole = await new Promise<string>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (d) => (out += d.toString()));
    socket.on('close', () => resolve(out));
    socket.write(`POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${bytes.length}\r\n\r\n`);
    let at = 0;
    const next = () => {
      if (at >= bytes.length) return;
      socket.write(bytes.subarray(at, at + 97));
      at += 97;
      setTimeout(next, 2);
    };
    next();
  });
  t.match(whole, /^HTTP\/1\.1 200/);
  t.equal(seen.at(-1)?.toString(), body, 'byte for byte');
  const gone = net.connect(port, '127.0.0.1');
  gone.write('POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"half":');
  await waitFor(() => s.inflightBytes, (bytes) => bytes === 500, 5000);
  t.pass('the body is reserved while it arrives');
  gone.destroy();
  // Freed by the body sweep (hyper-express never settles the body of a client that went away).
  await waitFor(() => s.inflightBytes + s.pending + s.readingBodies, (left) => left === 0, 10_000, 5);
  t.pass('freed once the client went away');
  t.equal(seen.length, 1, 'the half body never reached the handler');
});

t.test('nesting depth scan', async (t) => {
  const b = (s: string) => Buffer.from(s);
  t.notOk(nestedDeeperThan(b('{"a":[{"b":[]}]}'), 4));
  t.ok(nestedDeeperThan(b('{"a":[{"b":[]}]}'), 3));
  t.notOk(nestedDeeperThan(b(`{"a":"${'['.repeat(1000)}"}`), 2), 'brackets in strings do not count');
  t.notOk(nestedDeeperThan(b(`{"a":"\\"${'{'.repeat(10)}"}`), 2), 'escaped quotes do not end the string');
  t.ok(nestedDeeperThan(b('['.repeat(100_000)), 256));
  t.notOk(nestedDeeperThan(b(`{"t":"${'日本'.repeat(100)}"}`), 1), 'multi-byte UTF-8');
  t.ok(nestedDeeperThan(b('{"a":"x\\\\","b":[[[]]]}'), 3), 'an even run of backslashes does not escape the quote');
  t.notOk(nestedDeeperThan(b('{"a":"x\\\\\\"[[[[","b":1}'), 3), 'an odd run does');
  t.notOk(nestedDeeperThan(b('{"a":"unterminated [[[['), 1), 'an unterminated string ends the scan (JSON.parse rejects it)');
  // Against a plain per-byte reference, on random JSON (strings with quotes, backslashes, brackets).
  const reference = (bytes: Uint8Array, limit: number) => {
    let depth = 0;
    let inString = false;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (inString) {
        if (c === 0x5c) i++;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x5b || c === 0x7b) {
        if (++depth > limit) return true;
      } else if (c === 0x5d || c === 0x7d) depth--;
    }
    return false;
  };
  const fc = (await import('fast-check')).default;
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 6 }), (value, limit) => {
      const bytes = b(JSON.stringify(value) ?? 'null');
      return nestedDeeperThan(bytes, limit) === reference(bytes, limit);
    }),
    { numRuns: 3000 },
  );
});
