/**
 * The kafka sink plugin, driven directly (as the host drives it) against the real Kafka of the
 * test services: encodings, pre-send failures, broker-side refusals, topic creation, health, close.
 */
import t from 'tap';
import pino from 'pino';
import { Kafka, logLevel, type Admin, type IHeaders } from 'kafkajs';
import plugin from '../../../plugins/kafka/index.js';
import { PartialBatchError, type CanonicalEvent, type SinkContext } from '../../../src/sink/api.js';
import { normalize } from '../../../src/normalize/index.js';
import { groupMessage } from '../../helpers/daemon.js';
import { kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';

interface Consumed {
  partition: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

const logs: Array<Record<string, unknown>> = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
const counts = new Map<string, number>();

function context(): SinkContext {
  return {
    name: 'kafka-test',
    logger,
    signal: new AbortController().signal,
    configDir: process.cwd(),
    count: (metric, value = 1) => void counts.set(metric, (counts.get(metric) ?? 0) + value),
  };
}

function event(groupId: string, seq: number, text?: string): CanonicalEvent {
  return normalize(
    groupMessage(groupId, seq, text),
    { sdkAppId: '1400000000', command: 'Group.CallbackAfterSendMsg', optPlatform: 'Android', clientIp: '203.0.113.7', receivedAtMs: 1767225600000 + seq },
    { includeRaw: true },
  );
}

async function sink(options: Record<string, unknown>) {
  const config = { ...defaults(), ...options };
  const instance = await plugin.create(config as never, context());
  await instance.connect(new AbortController().signal);
  return instance;
}

/** The schema defaults (the host applies them with ajv useDefaults). */
function defaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(plugin.configSchema.properties as Record<string, { default?: unknown }>)) {
    if (schema.default !== undefined) out[key] = structuredClone(schema.default);
  }
  out.brokers = kafkaBrokers();
  return out;
}

let admin: Admin;
const kafka = new Kafka({ clientId: 'im-bridge-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });

async function createTopic(topic: string, partitions = 1, configEntries: Array<{ name: string; value: string }> = []): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, configEntries }], waitForLeaders: true });
}

async function recordCount(topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/** Every record of the topic (its record count is read first from the offsets). */
async function readTopic(topic: string, timeoutMs = 60_000): Promise<Consumed[]> {
  const expected = await recordCount(topic);
  const out: Consumed[] = [];
  if (expected === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length}/${expected} records of ${topic}`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          out.push({ partition, key: message.key?.toString() ?? null, value: message.value, headers: headersOf(message.headers) });
          if (out.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name] = Array.isArray(value) ? String(value[0]) : String(value);
  return out;
}

/** CloudEvents Kafka binding, read back independently of the plugin's encoder. */
function decodeCloudEvent(record: Consumed): Record<string, unknown> {
  const contentType = record.headers['content-type'] ?? '';
  if (contentType.startsWith('application/cloudevents')) return JSON.parse(record.value!.toString()) as Record<string, unknown>;
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(record.headers)) if (name.startsWith('ce_')) event[name.slice(3)] = value;
  event.datacontenttype = contentType;
  event.data = JSON.parse(record.value!.toString());
  return event;
}

function sorted(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
}

t.before(async () => {
  admin = kafka.admin();
});

t.teardown(async () => {
  await admin.disconnect().catch(() => undefined);
});

t.test('kafka sink against a real broker', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  await admin.connect();

  t.test('structured and binary encodings round-trip to the same CloudEvent', async (t) => {
    const structuredTopic = uniqueName('ce-structured');
    const binaryTopic = uniqueName('ce-binary');
    await createTopic(structuredTopic);
    await createTopic(binaryTopic);
    const events = [event('g-enc', 1), event('g-enc', 2, 'ünïcödé ✓ 你好'), event('g-enc-2', 3)];
    const structured = await sink({ topic: structuredTopic, encoding: 'structured' });
    const binary = await sink({ topic: binaryTopic, encoding: 'binary' });
    await structured.writeBatch(events, new AbortController().signal);
    await binary.writeBatch(events, new AbortController().signal);
    await structured.close();
    await binary.close();

    const fromStructured = await readTopic(structuredTopic);
    const fromBinary = await readTopic(binaryTopic);
    t.equal(fromStructured.length, 3);
    t.equal(fromBinary.length, 3);
    const byId = (records: Consumed[]) => new Map(records.map((r) => [r.headers.ce_id!, r]));
    const s = byId(fromStructured);
    const b = byId(fromBinary);
    for (const original of events) {
      const sr = s.get(original.id);
      const br = b.get(original.id);
      t.ok(sr && br, `ce_id header present in both modes for ${original.id}`);
      t.equal(sr!.headers['content-type'], 'application/cloudevents+json');
      t.equal(br!.headers['content-type'], 'application/json');
      t.equal(br!.headers.ce_specversion, '1.0');
      t.equal(br!.headers.ce_type, 'com.tencent.im.Group.CallbackAfterSendMsg');
      t.equal(sr!.key, original.subject, 'key is the subject');
      t.equal(br!.key, original.subject);
      const expected = sorted(JSON.parse(JSON.stringify(original)) as Record<string, unknown>);
      t.same(sorted(decodeCloudEvent(sr!)), expected, 'structured decodes to the event');
      t.same(sorted(decodeCloudEvent(br!)), expected, 'binary decodes to the same event');
    }
  });

  t.test('invalid topic, oversized record and missing topic fail alone; the rest is delivered', async (t) => {
    const base = uniqueName('dl');
    await createTopic(`${base}.good`, 3);
    const s = await sink({ topic: `${base}.{{data.conversation.groupId}}`, max_message_bytes: 200_000 });
    const events = [
      event('good', 1),
      event('@TGS#bad', 2), // '@' and '#' are not legal in a topic name
      event('good', 3, 'x'.repeat(300_000)), // over max_message_bytes
      event('absent', 4), // topic does not exist, create_topics is off
      event('good', 5),
    ];
    const error = await s.writeBatch(events, new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(error, PartialBatchError);
    const failures = (error as PartialBatchError).failures;
    t.same(
      failures.map((f) => [f.index, f.retriable, f.code]),
      [
        [1, false, 'KAFKA_INVALID_TOPIC'],
        [2, false, 'KAFKA_MESSAGE_TOO_LARGE'],
        [3, false, 'KAFKA_UNKNOWN_TOPIC_OR_PARTITION'],
      ],
    );
    t.match(failures[0]!.message, /not a legal Kafka topic name/);
    t.match(failures[1]!.message, /exceeds max_message_bytes/);
    t.match(failures[2]!.message, new RegExp(`topic ${base}\\.absent does not exist`));
    const delivered = await readTopic(`${base}.good`);
    t.same(delivered.map((r) => r.headers.ce_id).sort(), [events[0]!.id, events[4]!.id].sort());
    const topics = await admin.listTopics();
    t.notOk(topics.includes(`${base}.absent`), 'the missing topic was not auto-created');
    await s.close();
  });

  t.test('a broker MESSAGE_TOO_LARGE is isolated to the oversized record', async (t) => {
    const topic = uniqueName('small-limit');
    await createTopic(topic, 2, [{ name: 'max.message.bytes', value: '20000' }]);
    const s = await sink({ topic });
    // Six conversations over two partitions: the refused request also carried records for the
    // other partition, which the broker may have appended before the one-by-one re-send.
    const groups = ['a', 'b', 'c', 'd', 'e', 'f'];
    const events = groups.map((g, i) => event(g, i + 1));
    events.splice(2, 0, event('a', 100, 'y'.repeat(40_000)));
    const error = await s.writeBatch(events, new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(error, PartialBatchError);
    const failures = (error as PartialBatchError).failures;
    t.same(
      failures.map((f) => [f.index, f.retriable, f.code]),
      [[2, false, 'KAFKA_MESSAGE_TOO_LARGE']],
    );
    t.match(failures[0]!.message, /Kafka error 10/);
    const delivered = await readTopic(topic);
    const ids = delivered.map((r) => r.headers.ce_id);
    t.same([...new Set(ids)].sort(), events.filter((_, i) => i !== 2).map((e) => e.id).sort(), 'every other record is there');
    t.comment(`${ids.length - new Set(ids).size} duplicate(s) from the refused request (at-least-once)`);
    t.ok((counts.get('isolations') ?? 0) >= 1);
    // The sink keeps working after the refusal (the producer was replaced, sequences are fresh).
    const before = await recordCount(topic);
    await s.writeBatch([event('a', 7), event('b', 8)], new AbortController().signal);
    t.equal(await recordCount(topic), before + 2);
    await s.close();
  });

  t.test('create_topics creates a missing topic with the configured partitions', async (t) => {
    const base = uniqueName('auto');
    const s = await sink({ topic: `${base}.{{data.family}}`, create_topics: true, topic_partitions: 4, topic_config: { 'retention.ms': '3600000' } });
    await s.writeBatch([event('c1', 1), event('c2', 2)], new AbortController().signal);
    const metadata = await admin.fetchTopicMetadata({ topics: [`${base}.group`] });
    t.equal(metadata.topics[0]!.partitions.length, 4);
    t.equal(await recordCount(`${base}.group`), 2);
    t.ok((counts.get('topics_created') ?? 0) >= 1, 'counted');
    await s.healthcheck!(new AbortController().signal);
    await s.close();
  });

  t.test('healthcheck: metadata of the target topic', async (t) => {
    const topic = uniqueName('health');
    await createTopic(topic);
    const ok = await sink({ topic });
    await ok.healthcheck!(new AbortController().signal);
    await ok.close();
    const missing = await sink({ topic: uniqueName('health-missing') });
    await t.rejects(missing.healthcheck!(new AbortController().signal), /does not host this topic|UNKNOWN_TOPIC/);
    t.ok(logs.some((l) => l.code === 'KAFKA_TOPIC_UNAVAILABLE'), 'connect logs the missing static topic');
    await missing.close();
  });

  t.test('binary mode, gzip, no idempotence, acks leader; parallel batches keep per-key order', async (t) => {
    const topic = uniqueName('gzip');
    await createTopic(topic, 6);
    const s = await sink({ topic, encoding: 'binary', compression: 'gzip', idempotent: false, acks: 'leader', max_request_bytes: 20_000 });
    const batches: CanonicalEvent[][] = [];
    for (let b = 0; b < 8; b++) {
      const batch: CanonicalEvent[] = [];
      for (let i = 0; i < 50; i++) batch.push(event(`g${b}`, i + 1));
      batches.push(batch);
    }
    // Concurrent writes, as the host runs max_in_flight batches (one subject per batch here).
    await Promise.all(batches.map((batch) => s.writeBatch(batch, new AbortController().signal)));
    await s.close();
    const records = await readTopic(topic);
    t.equal(records.length, 400);
    const perGroup = new Map<string, { partitions: Set<number>; seqs: number[] }>();
    for (const r of records) {
      const group = perGroup.get(r.key!) ?? { partitions: new Set(), seqs: [] };
      group.partitions.add(r.partition);
      group.seqs.push((JSON.parse(r.value!.toString()) as { seq: number }).seq);
      perGroup.set(r.key!, group);
    }
    t.equal(perGroup.size, 8);
    for (const [key, group] of perGroup) {
      t.equal(group.partitions.size, 1, `${key} in one partition`);
      t.same(group.seqs, Array.from({ length: 50 }, (_, i) => i + 1), `${key} in order`);
    }
  });

  t.test('close flushes a write in progress', async (t) => {
    const topic = uniqueName('close');
    await createTopic(topic);
    const s = await sink({ topic });
    const events = Array.from({ length: 200 }, (_, i) => event('close', i + 1));
    const write = s.writeBatch(events, new AbortController().signal);
    await s.close();
    await write;
    t.equal(await recordCount(topic), 200);
  });

  t.test('an aborted write that was not sent yet is reported retriable, not lost', async (t) => {
    const topic = uniqueName('abort');
    await createTopic(topic);
    const s = await sink({ topic });
    const controller = new AbortController();
    controller.abort(new Error('write timeout'));
    await t.rejects(s.writeBatch([event('ab', 1)], controller.signal), { code: 'SINK_ABORTED' });
    t.equal(await recordCount(topic), 0);
    await s.close();
  });
});
