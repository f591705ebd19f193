/**
 * webhook sink driven directly (no daemon) against real node:http / node:https receivers started
 * here: encodings, signatures, per-subject order, status mapping, bounded reads, redirects,
 * timeouts, TLS with a private CA and client certificates.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { pino } from 'pino';
import t from 'tap';
import { Webhook } from 'standardwebhooks';
import plugin from '../../../plugins/webhook/index.js';
import { PartialBatchError, RetriableError, type CanonicalEvent, type Sink } from '../../../src/sink/api.js';
import { rememberEventJson } from '../../../src/sink/event-json.js';
import { waitFor } from '../../helpers/daemon.js';

const SECRET_A = 'whsec_' + Buffer.from('webhook-test-secret-number-one!!').toString('base64');
const SECRET_B = 'whsec_' + Buffer.from('webhook-test-secret-number-two!!').toString('base64');

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

type Handler = (req: Received, res: http.ServerResponse) => void;

interface Receiver {
  url: string;
  received: Received[];
  handler: Handler;
  close(): Promise<void>;
}

async function startReceiver(handler: Handler = (_r, res) => res.writeHead(204).end(), server: http.Server = http.createServer()): Promise<Receiver> {
  const receiver: Receiver = { url: '', received: [], handler, close: async () => undefined };
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      receiver.received.push(r);
      receiver.handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = server instanceof https.Server ? 'https' : 'http';
  receiver.url = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

const ajv = new Ajv({ useDefaults: true, strict: false, allErrors: true });
const validate = ajv.compile(plugin.configSchema);

async function makeSink(t: { teardown(fn: () => unknown): void }, raw: Record<string, unknown>, configDir = process.cwd()): Promise<{ sink: Sink; counts: Map<string, number> }> {
  const config = structuredClone(raw);
  if (!validate(config)) throw new Error(`invalid test config: ${ajv.errorsText(validate.errors)}`);
  const counts = new Map<string, number>();
  const sink = await plugin.create(config as never, {
    name: 'hook',
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    configDir,
    count: (metric, value = 1) => counts.set(metric, (counts.get(metric) ?? 0) + value),
  });
  await sink.connect(new AbortController().signal);
  t.teardown(() => sink.close());
  return { sink, counts };
}

function event(subject: string, n: number, extra: Partial<CanonicalEvent> = {}): CanonicalEvent {
  const e: CanonicalEvent = {
    specversion: '1.0',
    id: `${subject}#${n}`,
    type: 'com.tencent.im.Group.CallbackAfterSendMsg',
    source: '/tencent-im/1400000000',
    subject,
    time: new Date(1767225600000 + n * 1000).toISOString(),
    datacontenttype: 'application/json',
    imsdkappid: '1400000000',
    imcommand: 'Group.CallbackAfterSendMsg',
    data: { family: 'group', conversation: { kind: 'group', groupId: subject.split('/')[1] ?? subject }, seq: n, text: `héllo ${n}`, receivedAtMs: 1 },
    ...extra,
  };
  rememberEventJson(e, JSON.stringify(e));
  return e;
}

const signal = () => new AbortController().signal;

t.test('structured: one signed request per event, stored JSON as body, verifiable with every rotated secret', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const { sink } = await makeSink(t, { url: `${rx.url}/hook`, headers: { Authorization: 'Bearer abc' }, signing: { secrets: [SECRET_A, SECRET_B] } });
  const events = [event('group/a', 1), event('group/b', 1), event('group/a', 2)];
  await sink.writeBatch(events, signal());
  t.equal(rx.received.length, 3);
  for (const r of rx.received) {
    const original = events.find((e) => e.id === r.headers['webhook-id'])!;
    t.ok(original, 'webhook-id is the event id');
    t.equal(r.method, 'POST');
    t.equal(r.url, '/hook');
    t.equal(r.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
    t.equal(r.headers.authorization, 'Bearer abc');
    t.equal(r.body, JSON.stringify(original), 'body is the stored event JSON');
    t.equal((r.headers['webhook-signature'] as string).split(' ').length, 2, 'one signature per secret');
    for (const secret of [SECRET_A, SECRET_B]) {
      t.same(new Webhook(secret).verify(r.body, r.headers as Record<string, string>), original, 'verifies with the standardwebhooks library');
    }
  }
  const a = rx.received.filter((r) => (r.headers['webhook-id'] as string).startsWith('group/a'));
  t.same(a.map((r) => r.headers['webhook-id']), ['group/a#1', 'group/a#2'], 'same subject in order');
});

t.test('binary: ce-* headers (percent-encoded), datacontenttype, data as the body', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const { sink } = await makeSink(t, { url: rx.url, method: 'PUT', encoding: 'binary', signing: { secrets: [SECRET_A] } });
  const e = event('group/组 1', 7, { implatform: 'Android' });
  await sink.writeBatch([e], signal());
  const r = rx.received[0]!;
  t.equal(r.method, 'PUT');
  t.equal(r.headers['ce-specversion'], '1.0');
  t.equal(r.headers['ce-id'], 'group/%E7%BB%84%201#7');
  t.equal(r.headers['webhook-id'], 'group/%E7%BB%84%201#7', 'a non-ASCII id is percent-encoded in webhook-id too');
  t.equal(decodeURIComponent(r.headers['ce-subject'] as string), 'group/组 1');
  t.equal(r.headers['ce-type'], e.type);
  t.equal(r.headers['ce-source'], e.source);
  t.equal(r.headers['ce-time'], e.time);
  t.equal(r.headers['ce-imcommand'], 'Group.CallbackAfterSendMsg');
  t.equal(r.headers['ce-implatform'], 'Android');
  t.notOk(r.headers['ce-data'], 'data is not a header');
  t.equal(r.headers['content-type'], 'application/json');
  t.same(JSON.parse(r.body), e.data);
  t.same(new Webhook(SECRET_A).verify(r.body, r.headers as Record<string, string>), e.data);
});

t.test('batch: one request per batch, a JSON array, webhook-id a stable hash of the ids', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const { sink } = await makeSink(t, { url: rx.url, encoding: 'batch', signing: { secrets: [SECRET_A] } });
  const events = [event('group/a', 1), event('group/b', 1), event('group/a', 2)];
  await sink.writeBatch(events, signal());
  await sink.writeBatch(events, signal());
  t.equal(rx.received.length, 2);
  const [first, second] = rx.received;
  t.equal(first!.headers['content-type'], 'application/cloudevents-batch+json; charset=utf-8');
  t.same(JSON.parse(first!.body), events);
  t.match(first!.headers['webhook-id'], /^batch_[A-Za-z0-9_-]{43}$/);
  t.equal(first!.headers['webhook-id'], second!.headers['webhook-id'], 'same events, same id');
  t.same(new Webhook(SECRET_A).verify(first!.body, first!.headers as Record<string, string>), events);
  await sink.writeBatch([events[1]!, events[0]!, events[2]!], signal());
  t.not(rx.received[2]!.headers['webhook-id'], first!.headers['webhook-id'], 'other order, other id');
});

t.test('a retriable failure holds back the later events of its subject; a fatal one does not; other subjects are delivered', async (t) => {
  const rx = await startReceiver((r, res) => {
    if (r.headers['webhook-id'] === 'group/a#2') res.writeHead(503, { 'retry-after': '3' }).end('busy');
    else if (r.headers['webhook-id'] === 'group/c#1') res.writeHead(410).end('gone for good');
    else res.writeHead(200).end('ok');
  });
  t.teardown(() => rx.close());
  const { sink } = await makeSink(t, { url: rx.url });
  const events = [event('group/a', 1), event('group/b', 1), event('group/a', 2), event('group/c', 1), event('group/a', 3), event('group/c', 2), event('group/b', 2)];
  const error = await sink.writeBatch(events, signal()).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(error, PartialBatchError);
  const failures = (error as PartialBatchError).failures;
  t.same(
    failures.map((f) => [f.index, f.retriable, f.code, f.retryAfterMs]),
    [
      [2, true, 'WEBHOOK_HTTP_503', 3000],
      [3, false, 'WEBHOOK_HTTP_410', undefined],
      [4, true, 'WEBHOOK_ORDER_HELD', 3000],
    ],
  );
  t.match(failures[1]!.message, /HTTP 410 .*gone for good/);
  t.same(
    failures.map((f) => f.notAttempted === true),
    [false, false, true],
    'held events are marked not attempted (the host does not count them)',
  );
  const ids = rx.received.map((r) => r.headers['webhook-id']);
  t.notOk(ids.includes('group/a#3'), 'held event not sent');
  t.ok(ids.includes('group/c#2'), 'the event after a fatal (dead-lettered) one is sent: nothing to wait for');
  t.ok(ids.includes('group/b#2'), 'other subject delivered');
});

t.test('status mapping: 408/429/5xx retriable with Retry-After; other 4xx fatal with an excerpt; network errors retriable', async (t) => {
  let answer: (res: http.ServerResponse) => void = (res) => res.writeHead(200).end();
  const rx = await startReceiver((_r, res) => answer(res));
  t.teardown(() => rx.close());
  const { sink, counts } = await makeSink(t, { url: rx.url });
  const outcome = async (fn: (res: http.ServerResponse) => void) => {
    answer = fn;
    return sink.writeBatch([event('group/x', 1), event('group/y', 1)], signal()).then(
      () => 'ok' as const,
      (e: RetriableError | PartialBatchError) => e,
    );
  };
  t.equal(await outcome((res) => res.writeHead(202).end()), 'ok');

  for (const status of [408, 429, 500, 502, 503, 504]) {
    const e = await outcome((res) => res.writeHead(status).end());
    t.type(e, RetriableError, `${status} retriable`);
    t.equal((e as RetriableError).code, `WEBHOOK_HTTP_${status}`);
  }
  const seconds = (await outcome((res) => res.writeHead(429, { 'retry-after': '2' }).end())) as RetriableError;
  t.equal(seconds.retryAfterMs, 2000, 'Retry-After seconds');
  // An HTTP date has whole seconds: the sink parses it at some moment between `before` and `after`,
  // so the delay is exactly the date minus that moment (no assumption on how long the round trip took).
  let retryAt = 0;
  const before = Date.now();
  const date = (await outcome((res) => {
    const header = new Date(Date.now() + 10_000).toUTCString();
    retryAt = Date.parse(header);
    res.writeHead(503, { 'retry-after': header }).end();
  })) as RetriableError;
  const after = Date.now();
  t.ok(date.retryAfterMs! >= retryAt - after && date.retryAfterMs! <= retryAt - before, `Retry-After HTTP date (${date.retryAfterMs} ms, date ${retryAt - before} ms after the request)`);

  for (const status of [400, 401, 403, 404, 409, 410, 413, 422]) {
    const e = (await outcome((res) => res.writeHead(status).end(`{"error":"nope ${status}"}`))) as PartialBatchError;
    t.type(e, PartialBatchError, `${status} fatal`);
    t.same(
      e.failures.map((f) => [f.retriable, f.code]),
      [
        [false, `WEBHOOK_HTTP_${status}`],
        [false, `WEBHOOK_HTTP_${status}`],
      ],
    );
    t.match(e.failures[0]!.message, `{"error":"nope ${status}"}`);
  }
  t.ok((counts.get('http_4xx') ?? 0) >= 16 && (counts.get('http_5xx') ?? 0) >= 10, 'responses counted by class');

  await rx.close();
  // The first write may meet a pooled keep-alive socket the receiver just closed (UND_ERR_SOCKET).
  const closed = await outcome((res) => res.end());
  t.type(closed, RetriableError);
  t.equal((closed as RetriableError).code, 'WEBHOOK_NETWORK_ERROR');
  const refused = await outcome((res) => res.end());
  t.equal((refused as RetriableError).code, 'WEBHOOK_NETWORK_ERROR');
  t.match((refused as RetriableError).message, /ECONNREFUSED/);
});

t.test('response bodies are read up to 4 KiB, then the connection is dropped', async (t) => {
  let bytesWritten = 0;
  const rx = await startReceiver((_r, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 'y');
    const pump = () => {
      while (!res.destroyed && bytesWritten < 64 * 1024 * 1024) {
        bytesWritten += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => undefined);
    pump();
  });
  t.teardown(() => rx.close());
  const { sink } = await makeSink(t, { url: rx.url, timeout_ms: 20_000 });
  const error = (await sink.writeBatch([event('group/big', 1)], signal()).catch((e: unknown) => e)) as PartialBatchError;
  t.equal(error.failures[0]!.code, 'WEBHOOK_HTTP_404');
  t.ok(error.failures[0]!.message.length < 1024, `excerpt is bounded (${error.failures[0]!.message.length} chars)`);
  t.match(error.failures[0]!.message, /^HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/: y{100}/);
  t.ok(bytesWritten < 64 * 1024 * 1024, `the receiver was cut off after ${bytesWritten} bytes of 64 MiB`);
});

t.test('redirects: not followed by default; followed with the same method, body and signature when configured', async (t) => {
  const target = await startReceiver();
  t.teardown(() => target.close());
  const rx = await startReceiver((r, res) => {
    if (r.url === '/old') res.writeHead(301, { location: '/moved' }).end();
    else if (r.url === '/moved') res.writeHead(307, { location: `${target.url}/final` }).end();
    else if (r.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else res.writeHead(204).end();
  });
  t.teardown(() => rx.close());

  const plain = await makeSink(t, { url: `${rx.url}/old` });
  const e = (await plain.sink.writeBatch([event('group/r', 1)], signal()).catch((x: unknown) => x)) as PartialBatchError;
  t.same([e.failures[0]!.retriable, e.failures[0]!.code], [false, 'WEBHOOK_HTTP_301']);
  t.match(e.failures[0]!.message, /follow_redirects: false/);
  t.equal(target.received.length, 0);

  const following = await makeSink(t, { url: `${rx.url}/old`, follow_redirects: true, headers: { authorization: 'Bearer secret' }, signing: { secrets: [SECRET_A] } });
  const ev = event('group/r', 2);
  await following.sink.writeBatch([ev], signal());
  const final = target.received[0]!;
  t.equal(final.method, 'POST', 'a 301 does not turn the POST into a GET');
  t.equal(final.url, '/final');
  t.equal(final.body, JSON.stringify(ev));
  t.same(new Webhook(SECRET_A).verify(final.body, final.headers as Record<string, string>), ev);
  t.notOk(final.headers.authorization, 'credentials are not sent to another origin');
  t.equal(rx.received.find((r) => r.url === '/moved')!.headers.authorization, 'Bearer secret', 'kept on the same origin');

  const looping = await makeSink(t, { url: `${rx.url}/loop`, follow_redirects: true, max_redirects: 3 });
  const loop = (await looping.sink.writeBatch([event('group/r', 3)], signal()).catch((x: unknown) => x)) as PartialBatchError;
  t.equal(loop.failures[0]!.code, 'WEBHOOK_TOO_MANY_REDIRECTS');
});

t.test('a receiver that never answers: WEBHOOK_TIMEOUT within timeout_ms, sockets closed', async (t) => {
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const rx = await startReceiver(() => undefined, server);
  t.teardown(() => rx.close());
  const { sink, counts } = await makeSink(t, { url: rx.url, timeout_ms: 300, max_connections: 4 });
  const events = Array.from({ length: 20 }, (_, i) => event(`group/t${i}`, 1));
  const started = Date.now();
  const e = (await sink.writeBatch(events, signal()).catch((x: unknown) => x)) as RetriableError;
  const took = Date.now() - started;
  t.type(e, RetriableError);
  t.equal(e.code, 'WEBHOOK_TIMEOUT');
  // At least 5 waves of 300 ms (timers never fire early); at most: well below the 5 × 10 s the
  // waves would take if timeout_ms were ignored (the 10 s default), however busy the machine.
  t.ok(took >= 300 * 5 - 50 && took < 40_000, `20 requests over 4 connections time out in waves (${took} ms)`);
  t.equal(counts.get('timeouts'), 20);
  t.ok(rx.received.length <= 20, 'no duplicate sends');
  // The receiver sees the closes of the timed-out sockets some loop turns later: wait for them
  // (a leaked socket stays open, since the receiver never answers).
  const open = await waitFor(() => sockets.size, (n) => n <= 4, 60_000, 20);
  t.ok(open <= 4, `open sockets on the receiver: ${open} (≤ max_connections)`);
});

t.test('the host abort signal stops a batch: retriable WEBHOOK_ABORTED, nothing more sent', async (t) => {
  // The host aborts once the first request has reached the receiver (which never answers it), not
  // after a fixed 200 ms that a busy machine could spend before that request was even sent.
  const controller = new AbortController();
  const rx = await startReceiver(() => controller.abort(new Error('write timeout')));
  t.teardown(() => rx.close());
  const { sink } = await makeSink(t, { url: rx.url, timeout_ms: 60_000, max_connections: 1 });
  const e = (await sink.writeBatch([event('group/z', 1), event('group/z', 2), event('group/w', 1)], controller.signal).catch((x: unknown) => x)) as RetriableError;
  t.type(e, RetriableError);
  t.equal(e.code, 'WEBHOOK_ABORTED');
  t.equal(rx.received.length, 1, 'only the request that had a connection was sent');
});

t.test('URL templates: values URL-encoded; a missing field dead-letters that event only', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const { sink } = await makeSink(t, { url: `${rx.url}/apps/{{imsdkappid}}/groups/{{ data.conversation.groupId }}?kind={{data.conversation.kind}}` });
  const good = event('group/a b/c', 1, { data: { family: 'group', conversation: { kind: 'group', groupId: 'a b/c' }, receivedAtMs: 1 } });
  const bad = event('c2c/u1/u2', 1, { data: { family: 'c2c', conversation: { kind: 'c2c', accounts: ['u1', 'u2'] }, receivedAtMs: 1 } });
  const e = (await sink.writeBatch([good, bad], signal()).catch((x: unknown) => x)) as PartialBatchError;
  t.same(e.failures.map((f) => [f.index, f.retriable, f.code]), [[1, false, 'WEBHOOK_URL_TEMPLATE']]);
  t.equal(rx.received[0]!.url, '/apps/1400000000/groups/a%20b%2Fc?kind=group');
});

t.test('a lone surrogate in a templated field (URIError in encodeURIComponent) fails that event alone, fatally; the rest are sent once', async (t) => {
  for (const encoding of ['structured', 'binary', 'batch'] as const) {
    const rx = await startReceiver();
    t.teardown(() => rx.close());
    const { sink } = await makeSink(t, { url: `${rx.url}/g/{{data.conversation.groupId}}?from={{data.sender}}`, encoding });
    const withSender = (e: CanonicalEvent, sender: string) => ({ ...e, data: { ...e.data, sender } });
    const events = [
      withSender(event('group/a', 1), 'alice'),
      withSender(event('group/@TGS#\ud800x', 1), 'bob'), // finding 7: the group id
      withSender(event('group/a', 2), 'mallory\udbff'), // the sender, in a conversation with good events
      withSender(event('group/a', 3), 'alice'),
      withSender(event('group/b', 1), 'carol'),
    ];
    const e = (await sink.writeBatch(events, signal()).catch((x: unknown) => x)) as PartialBatchError;
    t.type(e, PartialBatchError, encoding);
    t.same(e.failures.map((f) => [f.index, f.retriable, f.code]), [[1, false, 'WEBHOOK_URL_TEMPLATE'], [2, false, 'WEBHOOK_URL_TEMPLATE']], `${encoding}: only the two poisons`);
    t.match(e.failures[0]!.message, /data\.conversation\.groupId holds a lone UTF-16 surrogate/);
    t.match(e.failures[1]!.message, /data\.sender holds a lone UTF-16 surrogate/);
    const ids = rx.received.flatMap((r) => (encoding === 'batch' ? (JSON.parse(r.body) as CanonicalEvent[]).map((x) => x.id) : [r.headers['webhook-id']]));
    t.same([...ids].sort(), ['group/a#1', 'group/a#3', 'group/b#1'], `${encoding}: the three good events, once each, the one after the poison in its conversation included`);
  }
});

t.test('configuration errors are refused at create', async (t) => {
  const bad = async (raw: Record<string, unknown>) => {
    const config = structuredClone(raw);
    t.ok(validate(config), 'schema-valid');
    await t.rejects(Promise.resolve().then(() => plugin.create(config as never, { name: 'x', logger: pino({ level: 'silent' }), signal: signal(), configDir: '.', count: () => undefined })), { code: 'WEBHOOK_CONFIG' });
  };
  await bad({ url: 'ftp://example.com/x' });
  await bad({ url: 'https://example.com/{{bad path}}' });
  await bad({ url: 'https://example.com/{{a' });
  await bad({ url: 'http://example.com', headers: { 'Content-Type': 'text/plain' } });
  await bad({ url: 'http://example.com', headers: { 'webhook-id': 'x' } });
  await bad({ url: 'http://example.com', tls: { cert_file: 'x.pem' } });
  await bad({ url: 'http://example.com', tls: { ca_file: '/nonexistent/ca.pem' } });
});

t.test('validate: the cross-field rules, pure, each at its key (the same configs create refuses)', async (t) => {
  const problems = (raw: Record<string, unknown>) => {
    const config = structuredClone(raw);
    t.ok(validate(config), 'schema-valid');
    return plugin.validate!(config as never).map((p) => [p.path, p.code]);
  };
  t.same(problems({ url: 'http://example.com/{{subject}}' }), [], 'a good config has no problem');
  t.same(problems({ url: 'http://example.com/{{' }), [['url', 'WEBHOOK_CONFIG']], 'an unclosed placeholder');
  t.same(problems({ url: 'ftp://example.com/x' }), [['url', 'WEBHOOK_CONFIG']], 'not http(s)');
  t.same(problems({ url: 'https://example.com/{{bad path}}' }), [['url', 'WEBHOOK_CONFIG']]);
  t.same(problems({ url: 'http://example.com', headers: { 'Content-Type': 'text/plain' } }), [['headers.Content-Type', 'WEBHOOK_CONFIG']], 'a reserved header, at its key');
  t.same(problems({ url: 'http://example.com', tls: { cert_file: 'x.pem' } }), [['tls.cert_file', 'WEBHOOK_CONFIG']]);
  t.same(problems({ url: 'http://example.com', signing: { secrets: ['whsec_AAA'] } }), [['signing.secrets', 'WEBHOOK_CONFIG']], 'a secret that is not base64');
  t.same(problems({ url: 'http://example.com', tls: { ca_file: '/nonexistent/ca.pem' } }), [], 'a missing file is for create() (I/O), not validate');
});

t.test('TLS: private CA, client certificate (mTLS), reject_unauthorized, healthcheck probe', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhook-tls-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'san.ext');
  }
  const read = (f: string) => fs.readFileSync(path.join(dir, f));
  const server = https.createServer({ key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true });
  const rx = await startReceiver((r, res) => res.writeHead(200).end(), server);
  t.teardown(() => rx.close());

  const mtls = await makeSink(t, { url: `${rx.url}/secure`, tls: { ca_file: 'ca.pem', cert_file: 'client.pem', key_file: 'client.key' } }, dir);
  await mtls.sink.healthcheck!(signal());
  await mtls.sink.writeBatch([event('group/tls', 1)], signal());
  t.equal(rx.received.length, 1, 'delivered over mutual TLS');

  const untrusted = await makeSink(t, { url: `${rx.url}/secure`, timeout_ms: 30_000 }, dir);
  const e = (await untrusted.sink.writeBatch([event('group/tls', 2)], signal()).catch((x: unknown) => x)) as RetriableError;
  t.equal(e.code, 'WEBHOOK_NETWORK_ERROR', 'unknown CA refused');
  await t.rejects(untrusted.sink.healthcheck!(signal()), 'healthcheck fails on an untrusted receiver');

  const noClientCert = await makeSink(t, { url: `${rx.url}/secure`, timeout_ms: 30_000, tls: { reject_unauthorized: false } }, dir);
  const e2 = (await noClientCert.sink.writeBatch([event('group/tls', 3)], signal()).catch((x: unknown) => x)) as RetriableError;
  t.type(e2, RetriableError, 'server refuses a client without a certificate');
  t.equal(rx.received.length, 1);
});
