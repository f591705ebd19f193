// Smoke test: the real Kafka from test/services (npm run services:up) takes a produce and serves a consumer group.
import t from 'tap';
import { Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage } from 'kafkajs';
import { kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';

t.test('kafka: create topic, produce (idempotent), consume in a group', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;

  const kafka = new Kafka({ clientId: uniqueName('smoke'), brokers: kafkaBrokers(), logLevel: logLevel.WARN });
  const topic = uniqueName('smoke-topic');
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  t.equal(
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }),
    true,
    'topic created',
  );

  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const [meta] = await producer.send({
    topic,
    acks: -1,
    messages: [{ key: 'k1', value: 'hello kafka', headers: { 'x-test': 'smoke' } }],
  });
  t.equal(meta?.errorCode, 0, 'produce acknowledged');
  t.equal(meta?.baseOffset, '0', 'first record of a fresh topic');

  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = await new Promise<KafkaMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message consumed within 30 s')), 30_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve(message);
        },
      })
      .catch(reject);
  });
  t.equal(received.key?.toString(), 'k1');
  t.equal(received.value?.toString(), 'hello kafka');
  t.equal(received.headers?.['x-test']?.toString(), 'smoke');
  t.equal(received.offset, '0');
});
