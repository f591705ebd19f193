/**
 * The delivery engine's behaviour suite (test/helpers/engine-suite.ts), unchanged, on the shared
 * Kafka queue (queue.type: kafka) against the real broker: the same cases the in-memory and local
 * backends pass in test/unit/delivery/engine.test.ts.
 *
 * Each case gets its own event topic, dead-letter topic and consumer group. "Remaining" is the
 * group's lag (high watermark − committed offset, summed over partitions): it reaches 0 only once
 * every event was delivered or dead-lettered and its offset committed.
 */
import t from 'tap';
import pino from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaQueue, type KafkaQueueConfig } from '../../../src/queue/kafka/index.js';
import { engineSuite, type DeadLetterView, type EngineHarness } from '../../helpers/engine-suite.js';
import { kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';

const logger = pino({ level: 'silent' });
const admin = new Kafka({ clientId: 'im-bridge-engine-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();

function queueConfig(): KafkaQueueConfig {
  const name = uniqueName('engine');
  return {
    brokers: kafkaBrokers(),
    topic: `${name}.events`,
    dead_letter_topic: `${name}.dlq`,
    group_prefix: name,
    partitions: 12,
    replication_factor: -1,
    client_id: 'im-bridge-engine-test',
    max_wait_ms: 2,
    max_batch_events: 2048,
    connection_timeout_ms: 3000,
    request_timeout_ms: 30_000,
    session_timeout_ms: 10_000,
  };
}

async function lag(config: KafkaQueueConfig, sink: string): Promise<number> {
  const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(config.topic), admin.fetchOffsets({ groupId: `${config.group_prefix}.${sink}`, topics: [config.topic] })]);
  let total = 0;
  for (const end of ends) {
    const at = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
    total += Number(end.high) - Math.max(at, Number(end.low));
  }
  return total;
}

async function deadLetters(config: KafkaQueueConfig, sink: string): Promise<DeadLetterView[]> {
  const ends = await admin.fetchTopicOffsets(config.dead_letter_topic);
  const expected = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const rows: DeadLetterView[] = [];
  if (expected === 0) return rows;
  const consumer = new Kafka({ clientId: 'im-bridge-engine-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).consumer({ groupId: uniqueName('dlq-reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: config.dead_letter_topic, fromBeginning: true });
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen}/${expected} dead letters`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen++;
          const h = (k: string) => message.headers?.[k]?.toString() ?? '';
          if (h('sink') === sink) rows.push({ eventId: h('ce_id'), errorCode: h('code'), error: h('error'), attempts: Number(h('attempts')) });
          if (seen >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return rows;
}

t.test('kafka backend', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  await admin.connect();
  t.teardown(() => admin.disconnect());
  engineSuite(t, async (): Promise<EngineHarness> => {
    const config = queueConfig();
    const queue = await KafkaQueue.open(config, logger, '/tmp');
    return {
      queue,
      remaining: () => lag(config, 'test'),
      deadLetters: (sink) => deadLetters(config, sink),
      readsInFlight: () => 0,
      // The topics stay (unique names): deleting them while the next case creates its own made
      // kafkajs's createTopics(waitForLeaders) reject unhandled with UNKNOWN_TOPIC_OR_PARTITION.
      close: () => queue.close(),
    };
  });
});
