/**
 * The compiled daemon with a kafka sink against the real Kafka: no loss, no duplicates,
 * per-conversation order in one partition; per-event dead-letters that do not block the rest.
 * Needs `npx tsc -p tsconfig.build.json` first (the daemon runs from dist/).
 */
import t from 'tap';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { CLI, groupMessage, postCallback, startDaemon, waitFor, type Daemon } from '../../helpers/daemon.js';
import { kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';

const COMMAND = 'Group.CallbackAfterSendMsg';
const kafka = new Kafka({ clientId: 'im-bridge-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });

interface Row {
  partition: number;
  id: string;
  /** The ce_id header. */
  headerId: string | undefined;
  groupId: string;
  seq: number;
}

function config(topic: string, extra = ''): string {
  return `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue }
log: { level: info }
sinks:
  out:
    type: kafka
    brokers: [${kafkaBrokers().join(', ')}]
    topic: "${topic}"
${extra}    batch: { max_events: 500, max_wait_ms: 20 }
    retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 }
routes:
  - { name: all, match: { command: "*" }, to: [out] }
`;
}

async function recordCount(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/** All records of the topic, in offset order per partition. */
async function readRows(admin: Admin, topic: string, timeoutMs = 120_000): Promise<Row[]> {
  const expected = await recordCount(admin, topic);
  const rows: Row[] = [];
  if (expected === 0) return rows;
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxBytesPerPartition: 4 * 1024 * 1024 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${rows.length}/${expected} records of ${topic}`)), timeoutMs);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            const ce = JSON.parse(message.value!.toString()) as { id: string; data: { seq: number; conversation: { groupId: string } } };
            rows.push({
              partition: batch.partition,
              id: ce.id,
              headerId: message.headers?.ce_id?.toString(),
              groupId: ce.data.conversation.groupId,
              seq: ce.data.seq,
            });
          }
          if (rows.length >= expected) {
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

/** One sequential poster per group (so each group reaches the daemon in MsgSeq order). */
async function postGroups(url: string, groups: string[], perGroup: number): Promise<number[]> {
  const statuses: number[] = [];
  await Promise.all(
    groups.map(async (groupId) => {
      for (let seq = 1; seq <= perGroup; seq++) {
        statuses.push((await postCallback(url, COMMAND, groupMessage(groupId, seq))).status);
      }
    }),
  );
  return statuses;
}

t.test('kafka sink through the daemon', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  let daemon: Daemon | undefined;
  t.afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  t.test('10,000 callbacks over 50 groups: all there once, in MsgSeq order, one partition per group', async (t) => {
    const topic = uniqueName('e2e-10k');
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
    daemon = await startDaemon({ config: config(topic) });
    const groups = Array.from({ length: 50 }, (_, i) => `grp-${i}`);
    const statuses = await postGroups(daemon.url, groups, 200);
    t.equal(statuses.filter((s) => s === 200).length, 10_000, 'all 10,000 callbacks acknowledged');
    await waitFor(() => recordCount(admin, topic), (n) => n >= 10_000, 180_000, 250);
    await new Promise((r) => setTimeout(r, 500));
    t.equal(await recordCount(admin, topic), 10_000, 'exactly 10,000 records');
    const rows = await readRows(admin, topic);
    t.equal(rows.length, 10_000);
    t.equal(new Set(rows.map((r) => r.id)).size, 10_000, 'no duplicate ids');
    t.ok(rows.every((r) => r.headerId === r.id), 'every record has a ce_id header equal to the event id');
    const byGroup = new Map<string, Row[]>();
    for (const row of rows) byGroup.set(row.groupId, [...(byGroup.get(row.groupId) ?? []), row]);
    t.equal(byGroup.size, 50);
    let inOrder = 0;
    let onePartition = 0;
    for (const [, list] of byGroup) {
      if (new Set(list.map((r) => r.partition)).size === 1) onePartition++;
      if (list.every((r, i) => r.seq === i + 1) && list.length === 200) inOrder++;
    }
    t.equal(onePartition, 50, 'every group in one partition');
    t.equal(inOrder, 50, 'every group complete and in MsgSeq order');
    t.ok(new Set(rows.map((r) => r.partition)).size > 1, 'groups spread over several partitions');
    t.notOk(daemon.logs.some((l) => l.code === 'EVENT_DEAD_LETTERED'), 'nothing dead-lettered');
  });

  // thread: the kafka sink in a worker thread of its own (src/sink/thread.ts): the same outcomes.
  for (const thread of [false, true]) {
    t.test(`invalid topic, oversized record, missing topic: dead-lettered with a reason, the rest delivered (thread: ${thread})`, async (t) => {
      const base = uniqueName('e2e-dl');
      await admin.createTopics({ topics: [{ topic: `${base}.ok`, numPartitions: 2 }], waitForLeaders: true });
      daemon = await startDaemon({ config: config(`${base}.{{data.conversation.groupId}}`, `    max_message_bytes: 500000\n    thread: ${thread}\n`) });
      const posts: Array<[string, number, string?]> = [
        ['ok', 1],
        ['@TGS#2J4SZEAEL', 1],
        ['ok', 2],
        ['ok', 3, 'z'.repeat(600_000)],
        ['absent', 1],
        ['ok', 4],
      ];
      for (const [groupId, seq, text] of posts) {
        t.equal((await postCallback(daemon.url, COMMAND, groupMessage(groupId, seq, text))).status, 200);
      }
      const db = new Database(path.join(daemon.dir, 'queue', 'queue.db'), { readonly: true, fileMustExist: true });
      t.teardown(() => db.close());
      const dead = () => db.prepare(`SELECT sink, subject, error_code AS code, error FROM dead_letters WHERE kind = 'event' ORDER BY subject`).all() as Array<Record<string, string>>;
      await waitFor(dead, (rows) => rows.length >= 3, 60_000, 200);
      await waitFor(() => recordCount(admin, `${base}.ok`), (n) => n >= 3, 60_000, 200);
      const rows = dead();
      t.same(
        rows.map((r) => [r.sink, r.subject, r.code]),
        [
          ['out', 'group/@TGS#2J4SZEAEL', 'KAFKA_INVALID_TOPIC'],
          ['out', 'group/absent', 'KAFKA_UNKNOWN_TOPIC_OR_PARTITION'],
          ['out', 'group/ok', 'KAFKA_MESSAGE_TOO_LARGE'],
        ],
      );
      t.match(rows[0]!.error, /not a legal Kafka topic name/);
      t.match(rows[1]!.error, /does not exist and create_topics is off/);
      t.match(rows[2]!.error, /exceeds max_message_bytes/);
      const delivered = await readRows(admin, `${base}.ok`);
      t.same(
        delivered.map((r) => r.seq),
        [1, 2, 4],
        'the other events of the conversation are delivered, in order',
      );
      const listed = execFileSync(process.execPath, [CLI, 'dlq', 'list', '--config', daemon.configFile], { encoding: 'utf8' });
      t.match(listed, /KAFKA_INVALID_TOPIC/, 'dlq list shows the reason');
      t.match(listed, /KAFKA_MESSAGE_TOO_LARGE/);
    });
  }
});
