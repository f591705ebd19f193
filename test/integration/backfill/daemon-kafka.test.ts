// Issue 25 acceptance, through the compiled daemon, the REST simulator and the real Kafka:
// 1,000 group messages over 20 groups, 50 of them never delivered as callbacks. With backfill on,
// all 1,000 reach the Kafka topic, each id once, the 50 marked imorigin=backfill, and Elasticsearch
// holds 1,000 documents. Then the 50 callbacks arrive late: still 1,000 distinct ids in Kafka (the
// late copies carry the same ids) and still 1,000 documents in Elasticsearch (same _id).
import t from 'tap';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { groupMessage, postMany, startDaemon, waitFor, type Daemon } from '../../helpers/daemon.js';
import { elasticsearchUrl, kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';
import { TencentRestSim, restMessageFor } from '../../helpers/tencent-rest-sim.js';

const APP = '1400000000';
const KEY = '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e';
const COMMAND = 'Group.CallbackAfterSendMsg';
const kafka = new Kafka({ clientId: 'im-bridge-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });

interface Row {
  id: string;
  headerId: string | undefined;
  key: string;
  origin: string | undefined;
}

async function recordCount(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

async function readRows(topic: string, expected: number): Promise<Row[]> {
  const rows: Row[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const ce = JSON.parse(message.value!.toString()) as { id: string; imorigin?: string; data: { seq: number; conversation: { groupId: string } } };
        rows.push({ id: ce.id, headerId: message.headers?.ce_id?.toString(), key: `${ce.data.conversation.groupId}:${ce.data.seq}`, origin: ce.imorigin });
      },
    });
    await waitFor(() => rows.length, (n) => n >= expected, 60_000, 100);
  } finally {
    await consumer.disconnect();
  }
  return rows;
}

/** 50 lost callbacks in seqs 2..49 of the 20 groups: single seqs and runs. */
function lostSet(): Set<string> {
  const out = new Set<string>();
  for (let i = 0; out.size < 50; i++) {
    const group = (i * 7) % 20;
    const seq = 2 + ((i * 13 + (i % 3)) % 48);
    out.add(`g${group}:${seq}`);
    if (i % 5 === 0 && seq < 49 && out.size < 50) out.add(`g${group}:${seq + 1}`);
  }
  return out;
}

const ES = elasticsearchUrl();

async function es(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(ES + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

async function esDocs(pattern: string): Promise<Array<{ _id: string; _source: { imorigin?: string } }>> {
  await es('POST', `/${pattern}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
  const r = await es('POST', `/${pattern}/_search?ignore_unavailable=true&allow_no_indices=true`, { size: 2000, _source: ['imorigin'] });
  return r.hits?.hits ?? [];
}

async function readyz(url: string): Promise<Record<string, any>> {
  return (await (await fetch(`${url}/readyz`)).json()) as Record<string, any>;
}

t.test('backfill through the daemon into Kafka: 1,000 ids once, the 50 marked; late callbacks add no id', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  if (!(await requireService(t, 'elasticsearch'))) return;
  const prefix = uniqueName('im-backfill');
  t.teardown(async () => {
    await es('DELETE', `/${prefix}-*`);
    await es('DELETE', `/_index_template/${prefix}`);
  });
  const sim = new TencentRestSim({ sdkAppId: APP, secretKey: KEY, admins: ['administrator'] });
  const simUrl = await sim.start();
  t.teardown(() => sim.stop());
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());

  const lost = lostSet();
  const delivered: Array<{ command: string; body: unknown }> = [];
  for (let seq = 1; seq <= 50; seq++) {
    for (let g = 0; g < 20; g++) {
      const body = groupMessage(`g${g}`, seq);
      sim.store(`g${g}`, restMessageFor(body));
      if (!lost.has(`g${g}:${seq}`)) delivered.push({ command: COMMAND, body });
    }
  }
  t.equal(delivered.length, 950);

  const topic = uniqueName('backfill');
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  let daemon: Daemon | undefined = await startDaemon({
    env: { IM_SDK_SECRET: KEY },
    config: `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps:
  - sdk_app_id: ${APP}
    backfill: { identifier: administrator, secret_key: "\${IM_SDK_SECRET}", api_host: "${simUrl}", interval_ms: 200 }
queue: { dir: \${DIR}/queue }
gaps: { grace_ms: 1000, flush_interval_ms: 100 }
sinks:
  out:
    type: kafka
    brokers: [${kafkaBrokers().join(', ')}]
    topic: "${topic}"
    batch: { max_events: 500, max_wait_ms: 20 }
    retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 }
  search:
    type: elasticsearch
    nodes: [${ES}]
    index: "${prefix}-{{yyyy.MM}}"
    template: { name: ${prefix}, priority: 300, number_of_replicas: 0 }
    batch: { max_events: 500, max_wait_ms: 20 }
    retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 }
routes:
  - { name: all, match: { command: "*" }, to: [out, search] }
`,
  });
  t.teardown(() => daemon?.stop());
  t.ok(daemon.logs.some((l) => l.code === 'BACKFILL_ON'), 'backfill on for the app');

  const statuses = await postMany(daemon.url, delivered, 16);
  t.ok(statuses.every((s) => s === 200), '950 callbacks accepted');

  const report = await waitFor(() => readyz(daemon!.url), (r) => r.gaps?.missing === 0 && r.gaps?.pending === 0 && r.gaps?.backfill?.last?.backfilled > 0, 60_000);
  t.equal(report.gaps.openGaps, 0, 'every gap closed by the backfill');
  await waitFor(() => recordCount(admin, topic), (n) => n >= 1000, 60_000);
  let rows = await readRows(topic, 1000);
  t.equal(rows.length, 1000, '1,000 records');
  t.equal(new Set(rows.map((r) => r.id)).size, 1000, 'each id once');
  t.ok(rows.every((r) => r.headerId === r.id), 'ce_id header = id');
  const backfilled = rows.filter((r) => r.origin === 'backfill').map((r) => r.key).sort();
  t.same(backfilled, [...lost].sort(), 'exactly the 50 lost ones are marked imorigin=backfill');
  t.ok(sim.requests.every((r) => r.answer.ErrorCode === 0), 'every REST request passed the UserSig check');
  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  t.match(metrics, /^im_bridge_backfill_events_total\{outcome="backfilled"\} 50$/m);
  t.match(metrics, /^im_bridge_group_seq_gaps_closed_seqs_total\{how="backfill"\} 50$/m);
  let docs = await waitFor(() => esDocs(`${prefix}-*`), (d) => d.length >= 1000, 120_000, 500);
  t.equal(docs.length, 1000, 'Elasticsearch: 1,000 documents');
  t.equal(docs.filter((d) => d._source.imorigin === 'backfill').length, 50, 'Elasticsearch: the 50 backfilled ones marked');

  // The lost callbacks arrive after all (a replay, Tencent's retry): same ids.
  const late = [...lost].map((k) => ({ command: COMMAND, body: groupMessage(k.split(':')[0]!, Number(k.split(':')[1])) }));
  t.ok((await postMany(daemon.url, late, 8)).every((s) => s === 200));
  await waitFor(() => recordCount(admin, topic), (n) => n >= 1050, 60_000);
  rows = await readRows(topic, 1050);
  t.equal(new Set(rows.map((r) => r.id)).size, 1000, 'still 1,000 distinct ids');
  await waitFor(async () => Number((await (await fetch(`${daemon!.url}/metrics`)).text()).match(/^im_bridge_events_delivered_total\{sink="search"\} (\d+)$/m)?.[1] ?? 0), (n) => n >= 1050, 60_000);
  docs = await esDocs(`${prefix}-*`);
  t.equal(docs.length, 1000, 'Elasticsearch: still 1,000 documents (same _id)');
  t.equal((await readyz(daemon.url)).gaps.missing, 0, 'no new gap from the late callbacks');
  await daemon.stop();
  daemon = undefined;
});
