/**
 * The kafka sink driven directly against the real broker: one event that cannot be written fails
 * alone (the conformance kit's poison check, a template that throws), and create_topics creates
 * only bounded topic names (create_topics_pattern, max_topics), refusing the rest with a code.
 */
import t from 'tap';
import pino from 'pino';
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import plugin from '../../../plugins/kafka/index.js';
import { PartialBatchError, type CanonicalEvent, type SinkContext } from '../../../src/sink/api.js';
import { formatConformanceReport, runSinkConformance } from '../../../src/sink/conformance.js';
import { normalize } from '../../../src/normalize/index.js';
import { groupMessage, waitFor } from '../../helpers/daemon.js';
import { kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';

const kafka = new Kafka({ clientId: 'im-bridge-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
const logs: Array<Record<string, unknown>> = [];
const counts = new Map<string, number>();

function context(): SinkContext {
  return {
    name: 'kafka-poison',
    logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }),
    signal: new AbortController().signal,
    configDir: process.cwd(),
    count: (metric, value = 1) => void counts.set(metric, (counts.get(metric) ?? 0) + value),
  };
}

/** The schema defaults (the host applies them with ajv useDefaults), the test broker, and `options`. */
function config(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(plugin.configSchema.properties as Record<string, { default?: unknown }>)) {
    if (schema.default !== undefined) out[key] = structuredClone(schema.default);
  }
  return { ...out, brokers: kafkaBrokers(), ...options };
}

function event(command: string, groupId: string, seq: number): CanonicalEvent {
  return normalize({ ...groupMessage(groupId, seq), CallbackCommand: command }, { sdkAppId: '1400000000', command, receivedAtMs: 1767225600000 + seq }, { includeRaw: true });
}

async function failuresOf(write: Promise<void>): Promise<Array<[number, boolean, string]>> {
  const error = await write.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) return [];
  if (!(error instanceof PartialBatchError)) throw error;
  return error.failures.map((f) => [f.index, f.retriable, f.code]);
}

/** Collects the ce_id header of every record of the topics, from the beginning. */
async function collector(topics: string[]): Promise<{ ids: Set<string>; consumer: Consumer }> {
  const ids = new Set<string>();
  const consumer = kafka.consumer({ groupId: uniqueName('poison-reader') });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void ids.add(message.headers?.ce_id?.toString() ?? '') });
  return { ids, consumer };
}

let admin: Admin;

t.test('kafka sink: poison events and bounded topic creation', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());

  t.test('conformance kit, with a poison whose topic is not a legal name', async (t) => {
    const base = uniqueName('conf');
    const topics = [`${base}.group`, `${base}.c2c`];
    await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 2 })), waitForLeaders: true });
    const { ids, consumer } = await collector(topics);
    t.teardown(() => consumer.disconnect());
    const report = await runSinkConformance(plugin, {
      config: { brokers: kafkaBrokers(), topic: `${base}.{{data.family}}` },
      // Poison: a family that renders an illegal topic (`/`), in the middle of 100 good events.
      poison: (e) => ({ ...e, data: { ...e.data, family: 'bad/family' } }),
      verify: async (wanted) => {
        // Acknowledged records reach the consumer shortly after: wait for them, not a fixed time.
        await waitFor(() => wanted.filter((id) => !ids.has(id)).length, (missing) => missing === 0, 20_000, 100).catch(() => undefined);
        return ids;
      },
      unreachableConfig: { brokers: ['127.0.0.1:1'], topic: `${base}.{{data.family}}`, connection_timeout_ms: 300, request_timeout_ms: 1000 },
      timeoutMs: 30_000,
    });
    t.ok(report.passed, formatConformanceReport(report));
    const poison = report.checks.find((c) => c.name.startsWith('a poison event'));
    t.match(poison?.detail, /poison failed alone \(KAFKA_INVALID_TOPIC\); 100 event\(s\) verified/, 'the poison failed alone with its code; the 100 arrived');
  });

  t.test('a template that throws for one event fails that event alone (KAFKA_TEMPLATE_RENDER_FAILED)', async (t) => {
    const topic = uniqueName('render');
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    const s = await plugin.create(config({ topic, key: '{{data.sender}}' }) as never, context());
    await s.connect(new AbortController().signal);
    const events = [1, 2, 3].map((seq) => event('Group.CallbackAfterSendMsg', 'render', seq));
    // What a value that does not encode looks like to the sink: rendering it throws.
    Object.defineProperty(events[1]!.data, 'sender', { enumerable: true, get: () => { throw new URIError('URI malformed'); } });
    t.same(await failuresOf(s.writeBatch(events, new AbortController().signal)), [[1, false, 'KAFKA_TEMPLATE_RENDER_FAILED']]);
    const offsets = await admin.fetchTopicOffsets(topic);
    t.equal(offsets.reduce((n, p) => n + Number(p.high), 0), 2, 'the two others were written');
    await s.close();
  });

  t.test('create_topics: only names matching the pattern, at most max_topics; the rest refused, counted, logged once', async (t) => {
    const base = uniqueName('bounded');
    logs.length = 0;
    counts.clear();
    const s = await plugin.create(config({ topic: `${base}.{{data.family}}`, create_topics: true, max_topics: 2 }) as never, context());
    await s.connect(new AbortController().signal);
    // Families f1..f4 (two events each, interleaved), and an empty family that renders `${base}.`:
    // legal for Kafka, but outside the default pattern (a value must start and end with a letter or digit).
    const events = [1, 2, 3, 4, 1, 2, 3, 4].map((f, i) => event(`F${f}.Cmd`, `g${i}`, i + 1));
    events.push({ ...event('F9.Cmd', 'g9', 9), data: { ...event('F9.Cmd', 'g9', 9).data, family: '' } });
    const failures = await failuresOf(s.writeBatch(events, new AbortController().signal));
    const created = (await admin.listTopics()).filter((name) => name.startsWith(`${base}.`)).sort();
    t.same(created, [`${base}.f1`, `${base}.f2`], 'two topics created, in event order (one flush: parallel checks, slots taken in order)');
    t.same(failures, [
      [2, false, 'KAFKA_TOPIC_LIMIT'],
      [3, false, 'KAFKA_TOPIC_LIMIT'],
      [6, false, 'KAFKA_TOPIC_LIMIT'],
      [7, false, 'KAFKA_TOPIC_LIMIT'],
      [8, false, 'KAFKA_TOPIC_LIMIT'],
    ]);
    t.equal(counts.get('topics_created'), 2);
    t.equal(counts.get('topics_refused'), 5, 'every refused event counted');
    const refusedLogs = logs.filter((l) => l.code === 'KAFKA_TOPIC_LIMIT');
    t.same(refusedLogs.map((l) => [l.topic, l.reason]).sort(), [[`${base}.`, 'pattern'], [`${base}.f3`, 'limit'], [`${base}.f4`, 'limit']], 'one line per refused name, with the reason');
    // The same names again: refused again, not logged again.
    t.same((await failuresOf(s.writeBatch([event('F3.Cmd', 'g', 20), event('F1.Cmd', 'g', 21)], new AbortController().signal))), [[0, false, 'KAFKA_TOPIC_LIMIT']]);
    t.equal(logs.filter((l) => l.code === 'KAFKA_TOPIC_LIMIT').length, 3, 'not logged twice');
    // An existing topic is written whatever the limit: it costs nothing new.
    await admin.createTopics({ topics: [{ topic: `${base}.f5` }], waitForLeaders: true });
    t.same(await failuresOf(s.writeBatch([event('F5.Cmd', 'g', 22)], new AbortController().signal)), [], 'existing topic beyond the limit is written');
    await s.close();
  });

  t.test('create_topics_pattern is the whole name; a bad pattern is a config error', async (t) => {
    const base = uniqueName('pattern');
    const s = await plugin.create(config({ topic: `${base}.{{data.family}}`, create_topics: true, create_topics_pattern: `${base.replaceAll('-', '\\-')}\\.(group|c2c)` }) as never, context());
    await s.connect(new AbortController().signal);
    const failures = await failuresOf(s.writeBatch([event('Group.CallbackAfterSendMsg', 'g', 1), event('Groupx.Cmd', 'g', 2), event('Junk.Cmd', 'g', 3)], new AbortController().signal));
    t.same(failures, [
      [1, false, 'KAFKA_TOPIC_LIMIT'],
      [2, false, 'KAFKA_TOPIC_LIMIT'],
    ], '`groupx` does not match although `group` is a prefix of it');
    t.same((await admin.listTopics()).filter((name) => name.startsWith(`${base}.`)), [`${base}.group`]);
    await s.close();
    t.throws(() => plugin.create(config({ topic: 'x.{{data.family}}', create_topics_pattern: '(' }) as never, context()), { code: 'KAFKA_CONFIG' });
  });
});
