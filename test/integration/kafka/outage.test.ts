/**
 * Kafka stopped for 30 s in the middle of a stream of callbacks, then started again: every
 * acknowledged event arrives, each conversation still in one partition and in MsgSeq order.
 * Redelivery after an outage is allowed (at-least-once, same ce_id); order is checked on the
 * first occurrence of each event. Needs `npx tsc -p tsconfig.build.json` first.
 */
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { groupMessage, postCallback, sleepUntil, startDaemon, waitFor } from '../../helpers/daemon.js';
import { kafkaBrokers, requireService, serviceControl, uniqueName } from '../../helpers/services.js';

const COMMAND = 'Group.CallbackAfterSendMsg';
const GROUPS = 50;
const PER_GROUP = 120;
const SPACING_MS = 400;
const kafka = new Kafka({ clientId: 'im-bridge-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });

async function recordCount(topic: string): Promise<number> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } catch {
    return -1;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

t.test('Kafka down for 30 s mid-stream: nothing acknowledged is lost, order per group holds', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const topic = uniqueName('e2e-outage');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
  await admin.disconnect();

  const daemon = await startDaemon({
    config: `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue }
log: { level: info }
sinks:
  out:
    type: kafka
    brokers: [${kafkaBrokers().join(', ')}]
    topic: ${topic}
    request_timeout_ms: 5000
    batch: { max_events: 500, max_wait_ms: 20 }
    retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 }
    write_timeout_ms: 15000
routes:
  - { name: all, match: { command: "*" }, to: [out] }
`,
  });
  let kafkaStopped = false;
  t.teardown(async () => {
    if (kafkaStopped) await serviceControl('kafka', 'start');
    await daemon.stop();
  });

  // 50 conversations, each posting in MsgSeq order, one message every 400 ms (~48 s in all).
  const acked: Array<[string, number]> = [];
  const failed: Array<[string, number, number]> = [];
  const posting = Promise.all(
    Array.from({ length: GROUPS }, async (_, g) => {
      const groupId = `out-${g}`;
      for (let seq = 1; seq <= PER_GROUP; seq++) {
        const { status } = await postCallback(daemon.url, COMMAND, groupMessage(groupId, seq));
        if (status === 200) acked.push([groupId, seq]);
        else failed.push([groupId, seq, status]);
        await new Promise((r) => setTimeout(r, SPACING_MS));
      }
    }),
  );

  await waitFor(() => recordCount(topic), (n) => n >= 500, 60_000, 200);
  const stoppedAt = Date.now();
  await serviceControl('kafka', 'stop');
  kafkaStopped = true;
  const ackedWhenStopped = acked.length;
  await sleepUntil(stoppedAt + 30_000);
  const ackedDuringOutage = acked.length - ackedWhenStopped;
  await serviceControl('kafka', 'start');
  kafkaStopped = false;
  t.comment(`Kafka was down ${Math.round((Date.now() - stoppedAt) / 1000)} s; ${ackedDuringOutage} callbacks acknowledged meanwhile`);
  t.ok(ackedDuringOutage > 100, 'the daemon kept acknowledging callbacks while Kafka was down');
  t.ok(daemon.logs.some((l) => l.code === 'SINK_WRITE_RETRY'), 'writes were retried during the outage');

  await posting;
  t.same(failed, [], 'every callback was acknowledged');
  t.equal(acked.length, GROUPS * PER_GROUP);

  // Wait until the topic holds at least every event and has stopped growing.
  let last = -1;
  await waitFor(
    async () => {
      const n = await recordCount(topic);
      const stable = n === last && n >= GROUPS * PER_GROUP;
      last = n;
      return stable;
    },
    (stable) => stable,
    240_000,
    2000,
  );

  const rows: Array<{ partition: number; id: string; groupId: string; seq: number }> = [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${rows.length}/${last} records`)), 120_000);
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const ce = JSON.parse(message.value!.toString()) as { id: string; data: { seq: number; conversation: { groupId: string } } };
          rows.push({ partition: batch.partition, id: ce.id, groupId: ce.data.conversation.groupId, seq: ce.data.seq });
        }
        if (rows.length >= last) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();

  const seen = new Set(rows.map((r) => `${r.groupId}/${r.seq}`));
  const missing = acked.filter(([g, s]) => !seen.has(`${g}/${s}`));
  t.same(missing, [], 'every acknowledged event is in the topic');
  const duplicates = rows.length - new Set(rows.map((r) => r.id)).size;
  t.comment(`${rows.length} records for ${acked.length} events: ${duplicates} redelivered duplicate(s)`);

  const byGroup = new Map<string, typeof rows>();
  for (const row of rows) byGroup.set(row.groupId, [...(byGroup.get(row.groupId) ?? []), row]);
  let onePartition = 0;
  let ordered = 0;
  for (const [, list] of byGroup) {
    if (new Set(list.map((r) => r.partition)).size === 1) onePartition++;
    const firsts: number[] = [];
    const once = new Set<number>();
    for (const r of list) {
      if (once.has(r.seq)) continue;
      once.add(r.seq);
      firsts.push(r.seq);
    }
    if (firsts.length === PER_GROUP && firsts.every((seq, i) => seq === i + 1)) ordered++;
  }
  t.equal(byGroup.size, GROUPS);
  t.equal(onePartition, GROUPS, 'every group stayed in one partition');
  t.equal(ordered, GROUPS, 'every group in MsgSeq order (first occurrences)');
});
