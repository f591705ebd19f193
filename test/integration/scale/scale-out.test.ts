/**
 * queue.type: kafka, several instances behind a (simulated) round-robin load balancer, real Kafka
 * (issue #13, docs/scale-out.md):
 *
 *  1. one instance alone: ingest throughput;
 *  2. three instances: 30,000 callbacks, one instance killed with kill -9 at ~1/3, another one
 *     restarted (SIGTERM + start) at ~2/3;
 *  3. every acknowledged event is in the output topic (kafka sink, key = subject); duplicates
 *     (at-least-once redelivery after the kill) carry the same id and are reported separately;
 *     per group, the first occurrences of the events are in send order.
 *
 * The client sends each group's messages one after the other (a message is sent after the previous
 * one was acknowledged), so that "order per group" is defined; a request that fails (connection
 * refused / reset, 503) is retried on the next instance with the same body, hence the same id.
 * Needs `npx tsc -p tsconfig.build.json` first (the daemons run from dist/).
 */
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { groupMessage, postCallback, startDaemon, waitFor, type Daemon } from '../../helpers/daemon.js';
import { kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';

const COMMAND = 'Group.CallbackAfterSendMsg';
const GROUPS = 100;
const PER_GROUP = 300; // 30,000 callbacks
const SOLO_GROUPS = 50;
const SOLO_PER_GROUP = 100; // 5,000 callbacks to one instance

interface Row {
  id: string;
  groupId: string;
  seq: number;
}

t.setTimeout(420_000);

t.test('3 instances on a shared kafka queue: kill -9 and restart lose nothing, keep order per group', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const brokers = kafkaBrokers();
  const run = uniqueName('scale');
  const eventsTopic = `${run}.events`;
  const deadLetters = `${run}.dlq`;
  const outTopic = `${run}.out`;
  const kafka = new Kafka({ clientId: 'im-bridge-scale-test', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: outTopic, numPartitions: 6, replicationFactor: 1 }] });

  const config = (i: number) => `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue:
  type: kafka
  kafka:
    brokers: [${brokers.join(', ')}]
    topic: ${eventsTopic}
    partitions: 12
    replication_factor: -1
    group_prefix: ${run}
    dead_letter_topic: ${deadLetters}
    client_id: im-bridge-${i}
    max_wait_ms: 2
    session_timeout_ms: 10000
log: { level: info }
shutdown_timeout_ms: 20000
sinks:
  out:
    type: kafka
    brokers: [${brokers.join(', ')}]
    topic: ${outTopic}
    batch: { max_events: 500, max_wait_ms: 20 }
    retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 }
routes:
  - { name: all, match: { command: "*" }, to: [out] }
`;

  // Output reader, from the beginning, for the whole test.
  const rows: Row[] = [];
  const reader = kafka.consumer({ groupId: uniqueName('scale-reader'), maxBytesPerPartition: 4 * 1024 * 1024 });
  await reader.connect();
  t.teardown(() => reader.disconnect());
  await reader.subscribe({ topic: outTopic, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const ce = JSON.parse(message.value!.toString()) as { id: string; data: { seq: number; conversation: { groupId: string } } };
      rows.push({ id: ce.id, groupId: ce.data.conversation.groupId, seq: ce.data.seq });
    },
  });

  const instances: Array<{ daemon: Daemon; up: boolean }> = [];
  t.teardown(async () => {
    await Promise.all(instances.map((x) => x.daemon.stop(30_000).catch(() => undefined)));
  });

  let rr = 0;
  const stats = { requests: 0, failures: 0, notAcked: 0 };
  /** Posts one callback round-robin over the live instances, retrying a failure on the next one. */
  async function deliver(body: Record<string, unknown>): Promise<boolean> {
    for (let attempt = 0; attempt < 60; attempt++) {
      const live = instances.filter((x) => x.up);
      if (live.length === 0) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const target = live[rr++ % live.length]!;
      stats.requests++;
      try {
        const response = await postCallback(target.daemon.url, COMMAND, body);
        if (response.status === 200) return true;
      } catch {
        /* connection refused / reset: the instance died */
      }
      stats.failures++;
      await new Promise((r) => setTimeout(r, Math.min(1000, 20 * (attempt + 1))));
    }
    stats.notAcked++;
    return false;
  }

  const acked = new Map<string, number[]>();
  let ackedCount = 0;
  async function sendGroups(prefix: string, groups: number, perGroup: number, onProgress?: (acked: number) => Promise<void> | void): Promise<number> {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: groups }, async (_, g) => {
        const groupId = `${prefix}-${g}`;
        const list: number[] = [];
        acked.set(groupId, list);
        for (let seq = 1; seq <= perGroup; seq++) {
          if (await deliver(groupMessage(groupId, seq))) {
            list.push(seq);
            ackedCount++;
            await onProgress?.(ackedCount);
          }
        }
      }),
    );
    return ((groups * perGroup) / (performance.now() - started)) * 1000;
  }

  // 1. One instance alone.
  instances.push({ daemon: await startDaemon({ config: config(1), timeoutMs: 60_000 }), up: true });
  const soloRate = await sendGroups(`${run}-solo`, SOLO_GROUPS, SOLO_PER_GROUP);
  t.comment(`1 instance: ${SOLO_GROUPS * SOLO_PER_GROUP} callbacks at ${soloRate.toFixed(0)}/s`);

  // 2. Three instances; kill -9 one at ~1/3, restart another at ~2/3.
  const more = await Promise.all([startDaemon({ config: config(2), timeoutMs: 60_000 }), startDaemon({ config: config(3), timeoutMs: 60_000 })]);
  for (const daemon of more) instances.push({ daemon, up: true });
  const base = ackedCount;
  const total = GROUPS * PER_GROUP;
  let killed = false;
  let restarting: Promise<void> | undefined;
  let firstThirdRate = 0;
  const mainStarted = performance.now();
  const mainRate = await sendGroups(`${run}-g`, GROUPS, PER_GROUP, (n) => {
    if (!killed && n - base >= total / 3) {
      killed = true;
      firstThirdRate = ((n - base) / (performance.now() - mainStarted)) * 1000;
      const victim = instances[1]!;
      victim.up = false;
      void victim.daemon.kill9().then(() => t.comment(`instance 2 killed (kill -9) after ${n - base} acks`));
    }
    if (!restarting && n - base >= (2 * total) / 3) {
      const target = instances[2]!;
      target.up = false;
      t.comment(`instance 3 restarting after ${n - base} acks`);
      restarting = (async () => {
        target.daemon = await target.daemon.restart();
        target.up = true;
        t.comment('instance 3 back');
      })();
    }
  });
  await restarting;
  t.comment(`3 instances: ${total} callbacks at ${mainRate.toFixed(0)}/s overall (kill and restart included); first third (3 healthy instances): ${firstThirdRate.toFixed(0)}/s`);
  t.comment(`client: ${stats.requests} requests, ${stats.failures} failed and retried on another instance, ${stats.notAcked} never acknowledged`);

  // 3. Everything acknowledged reaches the output topic.
  const want = new Set<string>();
  for (const [groupId, seqs] of acked) for (const seq of seqs) want.add(`${groupId}/${seq}`);
  const missing = () => {
    const seen = new Set(rows.map((r) => `${r.groupId}/${r.seq}`));
    let n = 0;
    for (const key of want) if (!seen.has(key)) n++;
    return n;
  };
  const deliveryStarted = Date.now();
  await waitFor(missing, (n) => n === 0, 180_000, 500).catch(() => undefined);
  const lost = missing();
  t.comment(`drained ${Math.round((Date.now() - deliveryStarted) / 1000)} s after the last ack`);

  const idOf = new Map<string, string>();
  let idConflicts = 0;
  for (const r of rows) {
    const key = `${r.groupId}/${r.seq}`;
    const known = idOf.get(key);
    if (known === undefined) idOf.set(key, r.id);
    else if (known !== r.id) idConflicts++;
  }
  const uniqueIds = new Set(rows.map((r) => r.id));
  const ackedIds = [...want].filter((k) => idOf.has(k)).map((k) => idOf.get(k)!);
  const duplicates = rows.length - uniqueIds.size;

  // Order: per group, first occurrences in the order the client had them acknowledged.
  const firstSeen = new Map<string, number[]>();
  const seenKeys = new Set<string>();
  for (const r of rows) {
    const key = `${r.groupId}/${r.seq}`;
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    let list = firstSeen.get(r.groupId);
    if (!list) firstSeen.set(r.groupId, (list = []));
    list.push(r.seq);
  }
  let orderViolations = 0;
  for (const [groupId, seqs] of acked) {
    const ackedSet = new Set(seqs);
    const delivered = (firstSeen.get(groupId) ?? []).filter((s) => ackedSet.has(s));
    for (let i = 1; i < delivered.length; i++) if (delivered[i]! <= delivered[i - 1]!) orderViolations++;
  }

  const sent = SOLO_GROUPS * SOLO_PER_GROUP + total;
  t.comment(
    `sent ${sent}, acked ${want.size}, delivered records ${rows.length}, unique ids ${uniqueIds.size}, duplicates (same id) ${duplicates}, lost ${lost}, order violations ${orderViolations}`,
  );
  t.equal(lost, 0, 'every acknowledged event is in the output topic');
  t.equal(new Set(ackedIds).size, want.size, 'dedupe-by-id count of acknowledged events equals the acked count');
  t.equal(idConflicts, 0, 'a redelivered event carries the same id');
  t.equal(orderViolations, 0, 'per group, events arrive in send order (first occurrences)');
  t.ok(want.size >= sent - stats.notAcked && stats.notAcked === 0, 'every callback was eventually acknowledged by some instance');
  const dlq = await admin.fetchTopicOffsets(deadLetters);
  t.equal(dlq.reduce((s, p) => s + Number(p.high) - Number(p.low), 0), 0, 'nothing dead-lettered');
});
