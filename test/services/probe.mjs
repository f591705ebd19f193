#!/usr/bin/env node
// Protocol-level readiness probes for the test services (used by test/services/*.sh).
//
//   node test/services/probe.mjs kafka 127.0.0.1:19092 [--init]
//   node test/services/probe.mjs elasticsearch http://127.0.0.1:19200 [--init]
//   node test/services/probe.mjs nats nats://127.0.0.1:14222
//
// Exit 0 = ready (one line on stdout), 1 = not ready (reason on stderr). Each probe is one bounded attempt
// (< ~12 s); the shell scripts loop. --init runs the one-time post-start set-up described per service.
import { Kafka, logLevel } from 'kafkajs';
import { connect } from 'nats';

const [, , service, endpoint, ...flags] = process.argv;
const init = flags.includes('--init');
const PROBE_TOPIC = 'im-bridge-probe';

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function probeKafka(brokers) {
  const kafka = new Kafka({
    clientId: 'im-bridge-services-probe',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 8000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(PROBE_TOPIC)) {
      await admin.createTopics({ topics: [{ topic: PROBE_TOPIC, numPartitions: 1 }], waitForLeaders: true });
    }
    await producer.connect();
    const [res] = await producer.send({
      topic: PROBE_TOPIC,
      acks: -1,
      messages: [{ value: `probe ${new Date().toISOString()}` }],
    });
    if (init) {
      // Make the group coordinator create __consumer_offsets and the transaction coordinator its state
      // topic now, so the first consumer group / idempotent producer in a test does not wait for it.
      await admin.fetchOffsets({ groupId: 'im-bridge-probe', topics: [PROBE_TOPIC] });
      const idem = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await idem.connect();
      await idem.send({ topic: PROBE_TOPIC, acks: -1, messages: [{ value: 'probe idempotent' }] });
      await idem.disconnect();
    }
    return `kafka ready: produced to ${PROBE_TOPIC}[${res.partition}] at offset ${res.baseOffset}`;
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

async function esRequest(url, method, path, body) {
  const res = await fetch(new URL(path, url), {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> HTTP ${res.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : {};
}

async function probeElasticsearch(url) {
  const health = await esRequest(url, 'GET', '/_cluster/health?wait_for_status=yellow&timeout=5s');
  if (health.status !== 'yellow' && health.status !== 'green') {
    throw new Error(`cluster health is ${health.status} (timed_out=${health.timed_out})`);
  }
  if (init) {
    // 1 shard / 0 replicas for every new index, so single-node indices are green and cheap. A LEGACY template
    // (order -1000) on purpose: a composable template on "*" would make every test's own composable template
    // without an explicit priority fail ("same priority [0]" overlap); composable templates simply win over
    // legacy ones, and legacy ones merge by order.
    await esRequest(url, 'PUT', '/_template/im-bridge-test-defaults', {
      index_patterns: ['*'],
      order: -1000,
      settings: { number_of_shards: 1, number_of_replicas: 0 },
    });
  }
  return `elasticsearch ready: cluster ${health.cluster_name} is ${health.status}`;
}

async function probeNats(url) {
  const nc = await connect({ servers: url, timeout: 3000, reconnect: false, name: 'im-bridge-services-probe' });
  try {
    const msg = await nc.request('$JS.API.INFO', undefined, { timeout: 5000 });
    const info = JSON.parse(new TextDecoder().decode(msg.data));
    if (info.error) throw new Error(`JetStream: ${info.error.description ?? JSON.stringify(info.error)}`);
    return `nats ready: server ${nc.info?.version ?? '?'}, JetStream answers (streams=${info.streams})`;
  } finally {
    await nc.close().catch(() => {});
  }
}

const probes = { kafka: probeKafka, elasticsearch: probeElasticsearch, nats: probeNats };
if (!probes[service] || !endpoint) {
  console.error('usage: probe.mjs kafka|elasticsearch|nats <endpoint> [--init]');
  process.exit(2);
}
try {
  console.log(await withTimeout(probes[service](endpoint), init ? 30000 : 12000, `${service} probe`));
  process.exit(0);
} catch (err) {
  console.error(`${service} not ready at ${endpoint}: ${err?.message ?? err}`);
  process.exit(1);
}
