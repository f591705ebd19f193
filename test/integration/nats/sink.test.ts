/**
 * The nats sink plugin against the real NATS JetStream of the test services (no mocks): publishing,
 * dedup by Nats-Msg-Id, order and failure propagation per conversation, stream binding/creation,
 * error mapping, subject edge cases, core mode, auth against a private nats-server; poison events
 * (a subject over the caps, a message over max_payload) failing alone before any publish, with the
 * connection kept; the conformance kit with a poison and with its default hostile event.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import pino from 'pino';
import { AckPolicy, connect, DiscardPolicy, nkeys, StorageType, type JsMsg, type NatsConnection } from 'nats';
import plugin from '../../../plugins/nats/index.js';
import { unescapeToken } from '../../../plugins/nats/subject.js';
import { FatalError, PartialBatchError, RetriableError, type CanonicalEvent, type Sink } from '../../../src/sink/api.js';
import { formatConformanceReport, runSinkConformance } from '../../../src/sink/conformance.js';
import { natsUrl, requireService, uniqueName } from '../../helpers/services.js';
import { freePort } from '../../helpers/daemon.js';

type Config = Parameters<typeof plugin.create>[0];
const counters = new Map<string, number>();

function ctx(name = 'it') {
  return {
    name,
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    configDir: tmpdir(),
    count(metric: string, value = 1) {
      counters.set(metric, (counters.get(metric) ?? 0) + value);
    },
  };
}

function config(extra: Partial<Config>): Config {
  return {
    servers: natsUrl(),
    subject: 'im.{{imcommand|tokens}}',
    mode: 'jetstream',
    content_mode: 'binary',
    ordering: 'pipelined',
    ack_timeout_ms: 5000,
    reconnect_wait_ms: 200,
    max_subject_bytes: 1024,
    max_subject_tokens: 32,
    ...extra,
  } as Config;
}

function createStream(extra: Record<string, unknown> = {}) {
  return { storage: 'memory', retention: 'limits', duplicate_window_ms: 120_000, replicas: 1, max_age_ms: 0, max_bytes: -1, max_msgs: -1, ...extra } as NonNullable<Config['create_stream']>;
}

let serial = 0;
function ev(groupId: string, seq: number, extra: Record<string, unknown> = {}): CanonicalEvent {
  return {
    specversion: '1.0',
    id: `${groupId}-${seq}-${serial}`,
    type: 'com.tencent.im.Group.CallbackAfterSendMsg',
    source: '/tencent-im/1400000000',
    subject: `group/${groupId}`,
    time: new Date(1767225600000 + seq).toISOString(),
    datacontenttype: 'application/json',
    imsdkappid: '1400000000',
    imcommand: 'Group.CallbackAfterSendMsg',
    data: { family: 'group', conversation: { kind: 'group', groupId }, seq, receivedAtMs: Date.now(), text: `m${seq}`, ...extra },
  };
}

/** A sink whose log lines are kept, to check what it logged (e.g. that it never lost its connection). */
async function openLogged(t: { teardown(fn: () => unknown): void }, cfg: Config): Promise<{ sink: Sink; logs: Array<Record<string, unknown>> }> {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const sink = await plugin.create(cfg, { ...ctx(), logger });
  t.teardown(() => sink.close());
  await sink.connect(new AbortController().signal);
  return { sink, logs };
}

async function open(t: { teardown(fn: () => unknown): void }, cfg: Config): Promise<Sink> {
  const sink = await plugin.create(cfg, ctx());
  t.teardown(() => sink.close());
  await sink.connect(new AbortController().signal);
  return sink;
}

/** All messages of a stream, in stream order. */
async function readStream(nc: NatsConnection, stream: string): Promise<JsMsg[]> {
  const jsm = await nc.jetstreamManager();
  const total = (await jsm.streams.info(stream)).state.messages;
  const out: JsMsg[] = [];
  if (total === 0) return out;
  const consumer = await nc.jetstream().consumers.get(stream);
  while (out.length < total) {
    const batch = await consumer.fetch({ max_messages: Math.min(1000, total - out.length), expires: 5000 });
    for await (const m of batch) out.push(m);
  }
  return out;
}

const signal = () => new AbortController().signal;

t.test('nats sink (real JetStream)', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  const nc = await connect({ servers: natsUrl() });
  t.teardown(() => nc.close());
  const jsm = await nc.jetstreamManager();
  const streams: string[] = [];
  t.teardown(async () => {
    for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
  });
  const newStream = (prefix: string) => {
    const name = uniqueName(prefix).replace(/-/g, '_').toUpperCase();
    streams.push(name);
    return name;
  };

  t.test('publishes with headers, dedups redeliveries, keeps per-conversation order', async (t) => {
    const stream = newStream('ns-basic');
    const prefix = uniqueName('nb');
    const sink = await open(t, config({ stream, subject: `${prefix}.{{data.family}}.{{data.conversation.groupId}}`, create_stream: createStream() }));
    const info = await jsm.streams.info(stream);
    t.same(info.config.subjects, [`${prefix}.*.*`], 'subjects derived from the template');
    t.equal(info.config.duplicate_window, 120_000 * 1_000_000);

    const events: CanonicalEvent[] = [];
    for (let seq = 1; seq <= 60; seq++) for (const g of ['g1', 'g2', 'g3']) events.push(ev(g, seq));
    await sink.writeBatch(events, signal());
    const before = counters.get('jetstream_duplicates') ?? 0;
    await sink.writeBatch(events, signal()); // a redelivery of the whole batch
    await sink.writeBatch(events.slice(10, 50), signal());
    t.equal((counters.get('jetstream_duplicates') ?? 0) - before, events.length + 40, 'redeliveries acknowledged as duplicates');

    const msgs = await readStream(nc, stream);
    t.equal(msgs.length, events.length, 'no duplicates in the stream');
    const ids = new Set(msgs.map((m) => m.headers!.get('Nats-Msg-Id')));
    t.equal(ids.size, events.length);
    for (const g of ['g1', 'g2', 'g3']) {
      const seqs = msgs.filter((m) => m.subject === `${prefix}.group.${g}`).map((m) => (m.json() as { seq: number }).seq);
      t.same(seqs, Array.from({ length: 60 }, (_, i) => i + 1), `order of ${g}`);
    }
    const first = msgs[0]!;
    t.equal(first.headers!.get('ce-id'), first.headers!.get('Nats-Msg-Id'));
    t.equal(first.headers!.get('ce-specversion'), '1.0');
    t.equal(first.headers!.get('ce-type'), 'com.tencent.im.Group.CallbackAfterSendMsg');
    t.equal(first.headers!.get('ce-source'), '/tencent-im/1400000000');
    t.equal(first.headers!.get('Content-Type'), 'application/json');
    t.match(first.json(), { family: 'group', conversation: { groupId: 'g1' } });
    await sink.healthcheck!(signal());
  });

  t.test('structured mode carries the whole CloudEvent', async (t) => {
    const stream = newStream('ns-struct');
    const prefix = uniqueName('ns');
    const sink = await open(t, config({ stream, subject: `${prefix}.{{imcommand|tokens}}`, content_mode: 'structured', create_stream: createStream() }));
    const e = ev('gs', 1);
    await sink.writeBatch([e], signal());
    const [m] = await readStream(nc, stream);
    t.equal(m!.subject, `${prefix}.Group.CallbackAfterSendMsg`);
    t.same(m!.json(), e);
    t.match(m!.headers!.get('Content-Type'), /cloudevents\+json/);
  });

  t.test('subject edge cases in GroupId reach the stream as one escaped token each', async (t) => {
    const stream = newStream('ns-edge');
    const prefix = uniqueName('ne');
    const sink = await open(t, config({ stream, subject: `${prefix}.{{data.conversation.groupId}}.msg`, create_stream: createStream() }));
    const ids = ['with space', 'a.b.c', '*', '>', 'a*b>c', '技术部', 'emoji 😀', '100%', '$JS.API', '', '_', 'x'.repeat(300)];
    const events = ids.map((g, i) => ev(g, i + 1));
    await sink.writeBatch(events, signal());
    const msgs = await readStream(nc, stream);
    t.equal(msgs.length, ids.length);
    const seen = new Set<string>();
    for (const m of msgs) {
      const tokens = m.subject.split('.');
      t.equal(tokens.length, 3, `three tokens: ${m.subject}`);
      t.match(tokens[1], /^[A-Za-z0-9_\-@#:=+~!%]+$/);
      seen.add(tokens[1]!);
      const groupId = (m.json() as { conversation: { groupId: string } }).conversation.groupId;
      if (groupId.length < 100) t.equal(unescapeToken(tokens[1]!), groupId, `reversible for ${JSON.stringify(groupId)}`);
    }
    t.equal(seen.size, ids.length, 'distinct group ids stay distinct subjects');
    // a consumer filtering on one escaped group sees exactly that group
    const count = (await jsm.streams.info(stream, { subjects_filter: `${prefix}.a%2Eb%2Ec.msg` })).state.subjects;
    t.same(count, { [`${prefix}.a%2Eb%2Ec.msg`]: 1 });
  });

  t.test('a retriable failure of event i fails the later events of that conversation (both orderings)', async (t) => {
    for (const ordering of ['pipelined', 'sequential'] as const) {
      const stream = newStream(`ns-order-${ordering}`);
      const prefix = uniqueName('no');
      // one message per subject, further ones refused (retriable 10077): a server-side failure of one event
      await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], storage: StorageType.Memory, discard: DiscardPolicy.New, max_msgs_per_subject: 1, discard_new_per_subject: true });
      await nc.jetstream().publish(`${prefix}.A.2`, new Uint8Array());
      const sink = await open(t, config({ stream, ordering, subject: `${prefix}.{{data.conversation.groupId}}.{{data.seq}}` }));
      const events = [ev('A', 1), ev('B', 1), ev('A', 2), ev('B', 2), ev('A', 3), ev('B', 3), ev('A', 4)];
      const error = await sink.writeBatch(events, signal()).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.type(error, PartialBatchError, ordering);
      const failures = (error as PartialBatchError).failures;
      t.same(failures.map((f) => f.index), [2, 4, 6], `${ordering}: A2 and everything after it in conversation A`);
      t.ok(failures.every((f) => f.retriable), 'all retriable');
      t.equal(failures[0]!.code, 'NATS_JETSTREAM_BUSY');
      const stored = (await readStream(nc, stream)).map((m) => m.subject.slice(prefix.length + 1));
      t.ok(['A.1', 'B.1', 'B.2', 'B.3'].every((s) => stored.includes(s)), `${ordering}: other events stored`);
      if (ordering === 'sequential') t.notOk(stored.includes('A.3'), 'sequential: nothing after the failure was sent');
    }
  });

  t.test('stream binding and the no-responders diagnosis', async (t) => {
    const missing = newStream('ns-missing');
    const s1 = await plugin.create(config({ stream: missing }), ctx());
    t.teardown(() => s1.close());
    await t.rejects(s1.connect(signal()), { name: 'FatalError', code: 'NATS_STREAM_NOT_FOUND' }, 'connect refuses a missing stream');

    // bound, then deleted under our feet: fatal without create_stream
    const gone = newStream('ns-gone');
    const prefix = uniqueName('ng');
    await jsm.streams.add({ name: gone, subjects: [`${prefix}.>`], storage: StorageType.Memory });
    const s2 = await open(t, config({ stream: gone, subject: `${prefix}.x` }));
    await s2.writeBatch([ev('g', 1)], signal());
    await jsm.streams.delete(gone);
    await t.rejects(s2.writeBatch([ev('g', 2), ev('h', 1)], signal()), { name: 'FatalError', code: 'NATS_STREAM_NOT_FOUND' });

    // ...and re-created (retriable, then delivered) with create_stream
    const again = newStream('ns-again');
    const prefix3 = uniqueName('na');
    const s3 = await open(t, config({ stream: again, subject: `${prefix3}.x`, create_stream: createStream() }));
    await jsm.streams.delete(again);
    await t.rejects(s3.writeBatch([ev('g', 1)], signal()), { name: 'RetriableError', code: 'NATS_STREAM_RECREATED' });
    await s3.writeBatch([ev('g', 1)], signal());
    t.equal((await jsm.streams.info(again)).state.messages, 1);

    // the stream exists but does not capture the subject
    const narrow = newStream('ns-narrow');
    const prefix4 = uniqueName('nn');
    await jsm.streams.add({ name: narrow, subjects: [`${prefix4}.only`], storage: StorageType.Memory });
    const s4 = await open(t, config({ stream: narrow, subject: `${prefix4}.{{data.conversation.groupId}}` }));
    const err4 = await s4.writeBatch([ev('only', 1), ev('other', 1)], signal()).catch((e: unknown) => e);
    t.type(err4, PartialBatchError);
    t.match((err4 as PartialBatchError).failures, [{ index: 1, retriable: false, code: 'NATS_SUBJECT_NOT_IN_STREAM' }]);

    // no stream configured, no stream captures the subject
    const s5 = await open(t, config({ subject: `${uniqueName('nowhere')}.x` }));
    await t.rejects(s5.writeBatch([ev('g', 1)], signal()), { name: 'FatalError', code: 'NATS_NO_STREAM_FOR_SUBJECT' });

    // captured by another stream than the bound one
    const other = newStream('ns-other');
    const bound = newStream('ns-bound');
    const prefix6 = uniqueName('nw');
    await jsm.streams.add({ name: other, subjects: [`${prefix6}.x`], storage: StorageType.Memory });
    await jsm.streams.add({ name: bound, subjects: [`${prefix6}.y`], storage: StorageType.Memory });
    const s6 = await open(t, config({ stream: bound, subject: `${prefix6}.x` }));
    await t.rejects(s6.writeBatch([ev('g', 1)], signal()), { name: 'FatalError', code: 'NATS_WRONG_STREAM' });
    t.equal((await jsm.streams.info(other)).state.messages, 0, 'nothing stored in the wrong stream');
  });

  t.test('oversized event is dead-lettered alone, checked before publishing (headers count)', async (t) => {
    const stream = newStream('ns-big');
    const prefix = uniqueName('nbig');
    const { sink, logs } = await openLogged(t, config({ stream, subject: `${prefix}.{{data.conversation.groupId}}`, create_stream: createStream() }));
    const max = nc.info!.max_payload;
    const big = ev('b', 2, { text: 'x'.repeat(max + 10) });
    // data alone fits; with the ce-* headers (a long ce-subject) it does not
    const edgeText = 'y'.repeat(max - 20_000);
    const edge = ev('e'.repeat(10_000), 1, { text: edgeText });
    const error = await sink.writeBatch([ev('a', 1), big, ev('c', 1), edge, ev('b', 3)], signal()).catch((e: unknown) => e);
    t.type(error, PartialBatchError);
    t.match((error as PartialBatchError).failures, [
      { index: 1, retriable: false, code: 'NATS_MESSAGE_TOO_LARGE', message: new RegExp(`exceeds the server's max_payload of ${max} bytes`) },
      { index: 3, retriable: false, code: 'NATS_MESSAGE_TOO_LARGE' },
    ]);
    t.equal((error as PartialBatchError).failures.length, 2, 'only the two oversized events');
    t.ok(JSON.stringify(edge.data).length < max, 'the edge event\'s payload alone is under max_payload');
    t.equal((await jsm.streams.info(stream)).state.messages, 3, 'the others stored, the later event of the same conversation included');
    t.notOk(logs.some((l) => /NATS_DISCONNECTED|NATS_CONNECTION_CLOSED/.test(String(l.code))), 'the connection never dropped');
  });

  t.test('a subject the server cannot take fails its event alone, before publishing; the connection stays up', async (t) => {
    const stream = newStream('ns-poison');
    const prefix = uniqueName('np');
    // Why the check exists: a publish line over max_control_line makes the server close the connection.
    const raw = await connect({ servers: natsUrl(), reconnect: false });
    const rawClosed = raw.closed();
    raw.publish(`${prefix}.${'a.'.repeat(2500)}z`, new Uint8Array());
    const rawError = await Promise.race([rawClosed, new Promise((r) => setTimeout(r, 10_000, 'still open'))]);
    t.match(String(rawError), /maximum control line exceeded/i, `a raw 5 KB subject: the server closed the connection (${String(rawError)})`);

    const { sink, logs } = await openLogged(t, config({ stream, subject: `${prefix}.{{imcommand|tokens}}`, create_stream: createStream() }));
    const good = Array.from({ length: 100 }, (_, i) => ev(`g${i % 5}`, i + 1));
    const forged = { ...ev('g0', 1000), imcommand: 'A' + '.a'.repeat(3000) }; // finding 1: 3,000 dots, 6 KB
    const wide = { ...ev('g1', 1001), imcommand: Array.from({ length: 10 }, (_, k) => `${k}${'w'.repeat(127)}`).join('.') }; // 10 tokens of 128: 1.3 KB
    const many = { ...ev('g2', 1002), imcommand: Array.from({ length: 40 }, () => 'a').join('.') }; // 40 short tokens
    const batch = [...good.slice(0, 30), forged, ...good.slice(30, 50), many, ...good.slice(50, 70), wide, ...good.slice(70)];
    const error = await sink.writeBatch(batch, signal()).catch((e: unknown) => e);
    t.type(error, PartialBatchError);
    t.match((error as PartialBatchError).failures, [
      { index: 30, retriable: false, code: 'NATS_SUBJECT_TOO_LONG', message: /\d{4} bytes exceeds max_subject_bytes 1024/ },
      { index: 51, retriable: false, code: 'NATS_SUBJECT_TOO_LONG', message: /41 tokens exceeds max_subject_tokens 32/ },
      { index: 72, retriable: false, code: 'NATS_SUBJECT_TOO_LONG', message: /1\d{3} bytes exceeds max_subject_bytes 1024/ },
    ]);
    t.equal((error as PartialBatchError).failures.length, 3, 'only the three poison events failed');
    const msgs = await readStream(nc, stream);
    t.same(new Set(msgs.map((m) => m.headers!.get('Nats-Msg-Id'))), new Set(good.map((e) => e.id)), 'the 100 good events stored');
    t.equal(msgs.length, 100, 'once each');
    t.notOk(logs.some((l) => /NATS_DISCONNECTED|NATS_CONNECTION_CLOSED/.test(String(l.code))), 'the connection never dropped');
    await sink.writeBatch([ev('g0', 2000)], signal());
    t.equal((await jsm.streams.info(stream)).state.messages, 101, 'and keeps publishing');
  });

  t.test('lone surrogates in a group id: distinct subjects, not merged into U+FFFD', async (t) => {
    const stream = newStream('ns-surrogate');
    const prefix = uniqueName('nsu');
    const sink = await open(t, config({ stream, subject: `${prefix}.{{data.conversation.groupId}}`, create_stream: createStream() }));
    const ids = ['@TGS#\ud800x', '@TGS#\udbffx', '@TGS#\udc00x', '@TGS#\ufffdx'];
    await sink.writeBatch(ids.map((g, i) => ev(g, i + 1)), signal());
    const msgs = await readStream(nc, stream);
    const subjects = msgs.map((m) => m.subject);
    t.equal(new Set(subjects).size, ids.length, `four subjects: ${subjects.join(' ')}`);
    t.same(subjects.map((s) => unescapeToken(s.slice(prefix.length + 1))), ids, 'each gives its own id back');
  });

  t.test('conformance kit: a forged CallbackCommand subject is the poison; the 100 arrive', async (t) => {
    const stream = newStream('ns-kit');
    const prefix = uniqueName('nk');
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], storage: StorageType.Memory, duplicate_window: 120_000 * 1_000_000 });
    const stored = async () => new Set((await readStream(nc, stream)).map((m) => m.headers!.get('Nats-Msg-Id')));
    const base = config({ stream, subject: `${prefix}.{{imcommand|tokens}}` });
    const report = await runSinkConformance(plugin, {
      config: base as never,
      verify: async () => stored(),
      idempotent: true,
      countCopies: async (id) => (await readStream(nc, stream)).filter((m) => m.headers!.get('Nats-Msg-Id') === id).length,
      poison: (e) => ({ ...e, imcommand: 'A' + '.a'.repeat(3000) }),
    });
    t.ok(report.passed, formatConformanceReport(report));
    const poison = report.checks.find((c) => c.name.startsWith('a poison event'));
    t.match(poison?.detail, /NATS_SUBJECT_TOO_LONG/, 'the poison failed alone with its code');
  });

  t.test('conformance kit without poison: the default hostile event (group id with .., /, NUL, lone surrogate) is published', async (t) => {
    const stream = newStream('ns-kit-hostile');
    const prefix = uniqueName('nkh');
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], storage: StorageType.Memory });
    const report = await runSinkConformance(plugin, {
      config: config({ stream, subject: `${prefix}.{{data.conversation.groupId}}.{{data.sender}}` }) as never,
      verify: async () => new Set((await readStream(nc, stream)).map((m) => m.headers!.get('Nats-Msg-Id'))),
    });
    t.ok(report.passed, formatConformanceReport(report));
    t.match(report.checks.find((c) => c.name.startsWith('a hostile event'))?.detail, /hostile event written/);
  });

  t.test('core mode: flushed, counted at-most-once', async (t) => {
    const prefix = uniqueName('ncore');
    const sub = nc.subscribe(`${prefix}.>`);
    const got: string[] = [];
    const done = (async () => {
      for await (const m of sub) {
        got.push(m.headers!.get('ce-id'));
        if (got.length === 100) break;
      }
    })();
    await nc.flush();
    const sink = await open(t, config({ mode: 'core', subject: `${prefix}.{{data.conversation.groupId}}` }));
    const before = counters.get('published_at_most_once') ?? 0;
    const events = Array.from({ length: 100 }, (_, i) => ev(`c${i % 5}`, i));
    await sink.writeBatch(events, signal());
    await done;
    t.same(got, events.map((e) => e.id), 'received in order');
    t.equal((counters.get('published_at_most_once') ?? 0) - before, 100);
    await sink.healthcheck!(signal());
  });

  t.test('configured but unreachable server: connect fails, retriable', async (t) => {
    const port = await freePort();
    const sink = await plugin.create(config({ servers: `nats://127.0.0.1:${port}` }), ctx());
    t.teardown(() => sink.close());
    await t.rejects(sink.connect(signal()), RetriableError);
    await t.rejects(sink.writeBatch([ev('g', 1)], signal()), RetriableError);
  });

  t.test('auth: user/password, token, nkey against a private nats-server', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nats-auth-'));
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const seedFile = path.join(dir, 'user.nk');
    writeFileSync(seedFile, seed + '\n');
    const cases: Array<{ name: string; server: string; good: Config['auth']; bad: Config['auth'] }> = [
      { name: 'user/password', server: `authorization { user: bridge, password: "s3cret" }`, good: { user: 'bridge', password: 's3cret' }, bad: { user: 'bridge', password: 'nope' } },
      { name: 'token', server: `authorization { token: "tok-123" }`, good: { token: 'tok-123' }, bad: { token: 'tok-999' } },
      { name: 'nkey', server: `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }`, good: { nkey_seed_file: seedFile }, bad: { nkey_seed: new TextDecoder().decode(nkeys.createUser().getSeed()) } },
    ];
    for (const c of cases) {
      const port = await freePort();
      const conf = path.join(dir, `${c.name.replace('/', '-')}.conf`);
      writeFileSync(conf, `listen: 127.0.0.1:${port}\n${c.server}\n`);
      const server = await startServer(conf, port);
      t.teardown(() => server.kill('SIGKILL'));
      const prefix = uniqueName('nauth');
      const sub = await connectWith(port, c.good);
      const got = (async () => {
        for await (const m of sub.subscribe(`${prefix}.>`, { max: 1 })) return m.headers!.get('ce-id');
      })();
      await sub.flush();
      const good = await open(t, config({ servers: `nats://127.0.0.1:${port}`, mode: 'core', subject: `${prefix}.x`, auth: c.good }));
      const e = ev('auth', 1);
      await good.writeBatch([e], signal());
      t.equal(await got, e.id, `${c.name}: delivered`);
      await sub.close();
      const bad = await plugin.create(config({ servers: `nats://127.0.0.1:${port}`, mode: 'core', subject: `${prefix}.x`, auth: c.bad }), ctx());
      t.teardown(() => bad.close());
      await t.rejects(bad.connect(signal()), { name: 'FatalError', code: 'NATS_AUTH_FAILED' }, `${c.name}: wrong credentials refused`);
    }

    async function connectWith(port: number, auth: Config['auth']) {
      const { connectionOptions } = await import('../../../plugins/nats/index.js');
      return connect(connectionOptions(config({ servers: `nats://127.0.0.1:${port}`, auth }), { name: 'probe', configDir: dir }));
    }
  });
});

function startServer(conf: string, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Server is ready')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`nats-server exited (${code}) on port ${port}: ${out}`)));
    setTimeout(() => reject(new Error(`nats-server did not start: ${out}`)), 15_000).unref();
  });
}

void FatalError;
void AckPolicy;
