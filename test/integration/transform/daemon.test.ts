/**
 * Issue #24 acceptance, against the real Elasticsearch and Kafka through the compiled daemon: the
 * same callbacks, routed to three sinks, reach Elasticsearch with the message text redacted (in
 * data.text, in every element and in data.raw), Kafka without data.raw and with a keyed hash of the
 * sender, and the file sink as the full stored event. One stored event, three shapes.
 */
import { createHmac } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { groupMessage, postCallback, readEvents, startDaemon, waitFor } from '../../helpers/daemon.js';
import { elasticsearchUrl, kafkaBrokers, requireService, uniqueName } from '../../helpers/services.js';

const ES = elasticsearchUrl();
const KEY = 'transform-test-key';
const COUNT = 60;

async function es(method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(ES + url, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

async function documents(index: string): Promise<any[]> {
  await es('POST', `/${index}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
  const found = await es('POST', `/${index}/_search?ignore_unavailable=true&allow_no_indices=true`, { size: 1000, sort: [{ 'data.seq': 'asc' }] });
  return (found.hits?.hits ?? []).map((h: any) => ({ _id: h._id, ...h._source }));
}

t.test('one stored event, shaped per sink: ES redacted, Kafka without raw and with a hashed sender, file complete', async (t) => {
  if (!(await requireService(t, 'elasticsearch')) || !(await requireService(t, 'kafka'))) return;
  const index = uniqueName('transform-es').toLowerCase();
  const topic = uniqueName('transform-kafka');
  const kafka = new Kafka({ clientId: 'im-bridge-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(async () => {
    await es('DELETE', `/${index}?ignore_unavailable=true`);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });

  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue }
sinks:
  search:
    type: elasticsearch
    nodes: [${ES}]
    index: ${index}
    install_template: false
    batch: { max_events: 50, max_wait_ms: 10 }
    transforms:
      - redact: [data.text, "data.elements[*].content.text", "data.raw.MsgBody[*].MsgContent.Text"]
        with: "[redacted]"
  stream:
    type: kafka
    brokers: [${kafkaBrokers().join(', ')}]
    topic: ${topic}
    thread: true               # the shaped JSON crosses to the sink's worker thread
    batch: { max_events: 50, max_wait_ms: 10 }
    transforms:
      - drop: data.raw
      - hash: [data.sender, data.operator]
        key: \${IM_BRIDGE_HASH_KEY}
  archive:
    type: file
    path: \${DIR}/archive.ndjson
routes:
  - { name: all, match: { command: "Group.*" }, to: [search, stream, archive] }
`;
  const daemon = await startDaemon({ config, env: { IM_BRIDGE_HASH_KEY: KEY } });
  t.teardown(() => daemon.stop());
  for (let seq = 1; seq <= COUNT; seq++) {
    const body = groupMessage(`@TGS#tr${seq % 4}`, seq, `secret words ${seq} zebra${seq}`);
    t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', body)).status, 200);
  }

  const archive = await waitFor(() => readEvents(path.join(daemon.dir, 'archive.ndjson')), (e) => e.length === COUNT);
  const docs = await waitFor(() => documents(index), (d) => d.length === COUNT);
  const records: any[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('transform-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  void consumer.run({ eachMessage: async ({ message }) => void records.push(JSON.parse(message.value!.toString())) });
  await waitFor(() => records.length, (n) => n >= COUNT);
  await consumer.disconnect();

  const bySeq = (list: any[]) => new Map(list.map((e) => [e.data.seq as number, e]));
  const [file, search, stream] = [bySeq(archive), bySeq(docs), bySeq(records)];
  t.equal(file.size, COUNT);
  t.equal(search.size, COUNT, 'every event indexed once');
  t.equal(stream.size, COUNT, 'every event in the topic once');
  let checked = 0;
  for (const [seq, full] of file) {
    const doc = search.get(seq);
    const record = stream.get(seq);
    // The file sink keeps the full event.
    t.equal(full.data.text, `secret words ${seq} zebra${seq}`);
    t.equal(full.data.raw.MsgBody[0].MsgContent.Text, `secret words ${seq} zebra${seq}`);
    t.equal(full.data.sender, `user_${seq % 7}`);
    // Elasticsearch: the same event (same id = _id), its text redacted everywhere.
    t.equal(doc._id, full.id);
    t.equal(doc.id, full.id);
    t.equal(doc.subject, full.subject);
    t.equal(doc.data.text, '[redacted]');
    t.equal(doc.data.elements[0].content.text, '[redacted]');
    t.equal(doc.data.raw.MsgBody[0].MsgContent.Text, '[redacted]');
    t.notOk(JSON.stringify(doc).includes(`zebra${seq}`), 'the words appear nowhere in the document');
    t.equal(doc.data.sender, full.data.sender, 'other fields untouched');
    // Kafka: no data.raw, sender and operator hashed with the key, text kept.
    t.equal(record.id, full.id);
    t.notOk('raw' in record.data);
    t.equal(record.data.sender, createHmac('sha256', KEY).update(full.data.sender).digest('hex'));
    t.equal(record.data.operator, createHmac('sha256', KEY).update(full.data.operator).digest('hex'));
    t.equal(record.data.text, full.data.text);
    checked++;
  }
  t.equal(checked, COUNT);
  const hits = await es('POST', `/${index}/_search`, { query: { match: { 'data.text': 'zebra7' } } });
  t.equal(hits.hits.total.value, 0, 'a full-text search finds no redacted word');

  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  t.match(metrics, new RegExp(`im_bridge_transform_events_total\\{sink="search",transform="redact#0",outcome="passed"\\} ${COUNT}`));
  t.match(metrics, new RegExp(`im_bridge_transform_events_total\\{sink="stream",transform="hash#1",outcome="passed"\\} ${COUNT}`));
  t.notOk(daemon.logs.some((l) => l.code === 'EVENT_DEAD_LETTERED'), 'nothing dead-lettered');
});
