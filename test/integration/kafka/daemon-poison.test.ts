/**
 * The compiled daemon with a kafka sink against the real Kafka, at the edges (issue 18):
 * - one poison event (a record over max_message_bytes) among 100 good ones of the same and of other
 *   conversations: the 100 are in the topic exactly once, the poison is dead-lettered with its code,
 *   and no event is retried;
 * - a flood of 10,000 distinct unknown commands with a topic template over data.family and
 *   create_topics on: at most max_topics topics are created, every other event is dead-lettered
 *   (KAFKA_TOPIC_LIMIT) and counted.
 * Needs dist/ (npm run build).
 */
import t from 'tap';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { groupMessage, postMany, startDaemon, waitFor, type Daemon } from '../../helpers/daemon.js';
import { kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';
import { deadLetters, metric } from '../../helpers/observe.js';

const kafka = new Kafka({ clientId: 'im-bridge-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });

function config(sinkKeys: string): string {
  return `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue }
log: { level: info }
sinks:
  out:
    type: kafka
    brokers: [${kafkaBrokers().join(', ')}]
${sinkKeys}    retry: { initial_backoff_ms: 100, max_backoff_ms: 1000, max_attempts: 50 }
routes:
  - { name: all, match: { command: "*" }, to: [out] }
`;
}

async function recordCount(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/** ce_id and (group, seq) of every record of the topic. */
async function readRecords(topic: string, expected: number): Promise<Array<{ id: string; key: string }>> {
  const rows: Array<{ id: string; key: string }> = [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const ce = JSON.parse(message.value!.toString()) as { id: string; data: { seq: number; conversation: { groupId: string } } };
        rows.push({ id: message.headers?.ce_id?.toString() ?? '', key: `${ce.data.conversation.groupId}#${ce.data.seq}` });
      },
    });
    await waitFor(() => rows.length, (n) => n >= expected, 60_000, 100);
  } finally {
    await consumer.disconnect();
  }
  return rows;
}

t.test('kafka sink through the daemon: a poison fails alone, destinations are bounded', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  let daemon: Daemon | undefined;
  t.afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  t.test('one oversized record among 100 good ones: the 100 delivered once, the poison dead-lettered alone, no retry', async (t) => {
    const base = uniqueName('poison');
    await admin.createTopics({ topics: [{ topic: `${base}.group`, numPartitions: 3 }], waitForLeaders: true });
    // A long max_wait_ms so that the poison and its batch-mates share batches.
    daemon = await startDaemon({ config: config(`    topic: "${base}.{{data.family}}"\n    max_message_bytes: 100000\n    batch: { max_events: 500, max_wait_ms: 300 }\n`) });
    const good = Array.from({ length: 100 }, (_, i) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`@TGS#p${i % 5}`, i + 1) }));
    // The poison is in conversation p0, like 20 of the good ones.
    const poison = { command: 'Group.CallbackAfterSendMsg', body: groupMessage('@TGS#p0', 1000, 'z'.repeat(200_000)) };
    const statuses = await postMany(daemon.url, [...good.slice(0, 50), poison, ...good.slice(50)], 32);
    t.same([...new Set(statuses)], [200], 'all 101 acknowledged');
    const d = daemon;
    await waitFor(async () => (await metric(d.url, 'im_bridge_events_delivered_total', { sink: 'out' })) + deadLetters(d.dir, { kind: 'event' }).length, (n) => n >= 101, 60_000, 100);
    t.same(deadLetters(daemon.dir, { kind: 'event' }).map((r) => [r.error_code, r.subject, r.attempts]), [['KAFKA_MESSAGE_TOO_LARGE', 'group/@TGS#p0', 1]], 'the poison alone, dead-lettered at its first attempt');
    t.equal(await metric(daemon.url, 'im_bridge_events_retried_total', { sink: 'out' }), 0, 'no event was retried');
    t.equal(await metric(daemon.url, 'im_bridge_events_delivered_total', { sink: 'out' }), 100);
    t.equal(await recordCount(admin, `${base}.group`), 100, 'exactly 100 records in the topic');
    const rows = await readRecords(`${base}.group`, 100);
    t.equal(new Set(rows.map((r) => r.id)).size, 100, '100 distinct ids');
    t.same(rows.map((r) => r.key).sort(), good.map((g) => `${g.body.GroupId}#${g.body.MsgSeq}`).sort(), 'each good event once');
    const batches = await metric(daemon.url, 'im_bridge_sink_batch_events_count', { sink: 'out' });
    t.ok(batches < 101, `the events went out in ${batches} batch(es), so the poison had batch-mates`);
  });

  t.test('10,000 distinct unknown commands, topic over data.family, create_topics: at most max_topics created, the rest counted', async (t) => {
    const base = uniqueName('flood');
    const maxTopics = 20;
    daemon = await startDaemon({
      config: config(`    topic: "${base}.{{data.family}}"\n    create_topics: true\n    max_topics: ${maxTopics}\n    topic_partitions: 1\n    batch: { max_events: 1000, max_wait_ms: 50 }\n    max_in_flight: 4\n`),
    });
    const total = 10_000;
    const items = Array.from({ length: total }, (_, i) => ({ command: `Junk${i}.Cmd`, body: { EventTime: 1767225600000 + i } }));
    const started = Date.now();
    const statuses = await postMany(daemon.url, items, 64);
    const postedMs = Date.now() - started;
    t.equal(statuses.filter((s) => s === 200).length, total, 'every flood callback acknowledged (they are command-shaped)');
    const d = daemon;
    await waitFor(
      async () => (await metric(d.url, 'im_bridge_events_delivered_total', { sink: 'out' })) + (await metric(d.url, 'im_bridge_events_dead_lettered_total', { sink: 'out' })),
      (n) => n >= total,
      120_000,
      250,
    );
    const doneMs = Date.now() - started;
    const created = (await admin.listTopics()).filter((name) => name.startsWith(`${base}.`));
    t.equal(created.length, maxTopics, `exactly max_topics (${maxTopics}) topics created`);
    t.equal(await metric(daemon.url, 'im_bridge_events_delivered_total', { sink: 'out' }), maxTopics, 'one event per created topic delivered');
    t.equal(await metric(daemon.url, 'im_bridge_events_dead_lettered_total', { sink: 'out', code: 'KAFKA_TOPIC_LIMIT' }), total - maxTopics, 'every other event dead-lettered with KAFKA_TOPIC_LIMIT');
    t.equal(await metric(daemon.url, 'im_bridge_sink_plugin_events_total', { sink: 'out', name: 'topics_refused' }), total - maxTopics, 'and counted by the sink');
    t.equal(await metric(daemon.url, 'im_bridge_sink_plugin_events_total', { sink: 'out', name: 'topics_created' }), maxTopics);
    t.equal(await metric(daemon.url, 'im_bridge_events_retried_total', { sink: 'out' }), 0, 'nothing retried');
    const refusedLines = daemon.logs.filter((l) => l.code === 'KAFKA_TOPIC_LIMIT').length;
    t.ok(refusedLines >= 1 && refusedLines <= 10 * Math.ceil(doneMs / 60_000), `refusals logged with a code, rate-limited (${refusedLines} lines)`);
    t.comment(`posted ${total} in ${postedMs} ms; all settled after ${doneMs} ms`);
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
  });
});
