#!/usr/bin/env node
// End-to-end throughput into a real Kafka, three ways in one run, one JSON line on stdout:
//
//   daemon  — callbacks POSTed to the compiled daemon (dist/, durable queue + kafka sink);
//             rate = events / (first POST → last record visible in the topic).
//   kafkajs — the same records (read back from the daemon's topic) produced by kafkajs alone
//             (idempotent, acks=all, sendBatch requests of ~1 MB) — the client's ceiling here.
//   sink_backlog_drain — the delivery side alone: events queued while Kafka is unreachable,
//             then the daemon restarted with the real brokers; rate = backlog / drain time.
//   naive   — bench/lib/servers/naive-kafka.js (case 3's baseline: node:http, awaits a default
//             producer's send() per request, acks all), same load generator.
//
// Run after `npx tsc -p tsconfig.build.json`, with the test Kafka up (npm run services:up):
//   node bench/sinks/kafka.js            BENCH_EVENTS=60000 BENCH_CONCURRENCY=64 BENCH_GROUPS=100
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Pool } from 'undici';
import { cliOf, startDaemon as startBridge } from '../lib/daemon.js';
import { groupTextMessage } from '../lib/payloads.js';
import { ROOT, freePort, kafkaBrokers, spawnNode, stopChild as stop, waitListening } from '../lib/util.js';

const CLI = cliOf();
const EVENTS = Number(process.env.BENCH_EVENTS ?? 60_000);
const NAIVE_EVENTS = Number(process.env.BENCH_NAIVE_EVENTS ?? Math.min(EVENTS, 10_000));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 100);
const PARTITIONS = 6;
const BROKERS = kafkaBrokers();
const QUERY = 'SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterSendMsg&contenttype=json&ClientIP=203.0.113.7&OptPlatform=Android';

function body(i) {
  const groupId = `bench-${i % GROUPS}`;
  const seq = Math.floor(i / GROUPS) + 1;
  return JSON.stringify(groupTextMessage({ groupId, seq, text: `benchmark message ${i} of group ${groupId}` }));
}

function peakRssMb(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** POSTs n callbacks with `concurrency` requests in flight; resolves with the non-200 count. */
async function load(url, pathName, n) {
  const pool = new Pool(url, { connections: CONCURRENCY, pipelining: 1 });
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const res = await pool.request({ method: 'POST', path: `${pathName}?${QUERY}`, headers: { 'content-type': 'application/json' }, body: body(i) });
      await res.body.dump();
      if (res.statusCode !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await pool.close();
  return failed;
}

async function topicCount(admin, topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

async function waitForCount(admin, topic, n, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = await topicCount(admin, topic);
    if (count >= n) return performance.now();
    if (Date.now() > deadline) throw new Error(`${topic}: ${count}/${n} records after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function readAll(kafka, topic, n) {
  const records = [];
  const consumer = kafka.consumer({ groupId: `bench-reader-${process.pid}-${Date.now()}`, maxBytesPerPartition: 8 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve) => {
    consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) records.push({ key: m.key, value: m.value, headers: m.headers });
        if (records.length >= n) resolve();
      },
    });
  });
  await consumer.disconnect();
  return records;
}

function daemonConfig(brokerList, topic) {
  return {
    log: { level: 'warn', requests: 'off' },
    sinks: {
      kafka: {
        type: 'kafka',
        brokers: brokerList,
        topic,
        batch: { max_events: 1000, max_wait_ms: 20 },
        max_in_flight: 4,
        retry: { initial_backoff_ms: 100, max_backoff_ms: 1000, max_attempts: 1000 },
      },
    },
  };
}

async function startDaemon(dir, config, port) {
  return (await startBridge({ dir, port, config })).child;
}

/** Live traffic: first POST → last record in the topic. */
async function benchDaemon(admin, topic, dir) {
  const port = await freePort();
  const child = await startDaemon(dir, daemonConfig(BROKERS, topic), port);
  const started = performance.now();
  const failed = await load(`http://127.0.0.1:${port}`, '/im/callback', EVENTS);
  const acked = performance.now();
  const done = await waitForCount(admin, topic, EVENTS);
  const rss = peakRssMb(child.pid);
  await stop(child);
  return {
    events: EVENTS,
    failed_requests: failed,
    ingest_per_s: Math.round(EVENTS / ((acked - started) / 1000)),
    events_per_s: Math.round(EVENTS / ((done - started) / 1000)),
    seconds: +((done - started) / 1000).toFixed(2),
    lag_after_last_ack_ms: Math.round(done - acked),
    daemon_peak_rss_mb: rss,
  };
}

/**
 * The sink alone: the events are queued while the sink cannot reach Kafka (a closed port), the
 * daemon is restarted with the real brokers, and the backlog drain is timed (daemon listening →
 * last record in the topic). Separates the delivery side from the HTTP ingest side.
 */
async function benchBacklog(admin, topic, dir) {
  const port = await freePort();
  const closedPort = await freePort();
  let child = await startDaemon(dir, daemonConfig([`127.0.0.1:${closedPort}`], topic), port);
  const failed = await load(`http://127.0.0.1:${port}`, '/im/callback', EVENTS);
  await stop(child);
  if ((await topicCount(admin, topic)) !== 0) throw new Error('backlog phase: records reached Kafka early');
  child = await startDaemon(dir, daemonConfig(BROKERS, topic), port);
  const started = performance.now();
  const done = await waitForCount(admin, topic, EVENTS - failed);
  const rss = peakRssMb(child.pid);
  await stop(child);
  return {
    events: EVENTS - failed,
    events_per_s: Math.round((EVENTS - failed) / ((done - started) / 1000)),
    seconds: +((done - started) / 1000).toFixed(2),
    daemon_peak_rss_mb: rss,
  };
}

async function benchKafkajs(kafka, admin, records, topic) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  // Requests of at most ~1 MB (the broker's default max.message.bytes bounds a partition's batch).
  const requests = [];
  let current = [];
  let bytes = 0;
  for (const r of records) {
    const size = r.value.length + (r.key?.length ?? 0) + 64;
    if (current.length > 0 && bytes + size > 1_000_000) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  const started = performance.now();
  for (const messages of requests) await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
  const done = await waitForCount(admin, topic, records.length);
  await producer.disconnect();
  return { events: records.length, events_per_s: Math.round(records.length / ((done - started) / 1000)), seconds: +((done - started) / 1000).toFixed(2) };
}

async function benchNaive(admin, topic) {
  const port = await freePort();
  const child = spawnNode([path.join(ROOT, 'bench/lib/servers/naive-kafka.js'), String(port), BROKERS.join(','), topic]);
  await waitListening(child, port);
  const started = performance.now();
  const failed = await load(`http://127.0.0.1:${port}`, '/', NAIVE_EVENTS);
  const done = await waitForCount(admin, topic, NAIVE_EVENTS - failed);
  await stop(child);
  return { events: NAIVE_EVENTS, failed_requests: failed, events_per_s: Math.round(NAIVE_EVENTS / ((done - started) / 1000)), seconds: +((done - started) / 1000).toFixed(2) };
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} not found: run npx tsc -p tsconfig.build.json first`);
  const kafka = new Kafka({ clientId: 'im-bridge-bench', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const topics = { daemon: `bench-daemon-${run}`, backlog: `bench-backlog-${run}`, kafkajs: `bench-kafkajs-${run}`, naive: `bench-naive-${run}` };
  await admin.createTopics({ topics: Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })), waitForLeaders: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-kafka-'));
  const backlogDir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-kafka-backlog-'));
  try {
    const daemon = await benchDaemon(admin, topics.daemon, dir);
    const backlog = await benchBacklog(admin, topics.backlog, backlogDir);
    const records = await readAll(kafka, topics.daemon, EVENTS);
    const kafkajs = await benchKafkajs(kafka, admin, records, topics.kafkajs);
    const naive = await benchNaive(admin, topics.naive);
    const result = {
      bench: 'kafka',
      machine: { cpus: os.cpus().length, node: process.version },
      settings: { events: EVENTS, concurrency: CONCURRENCY, groups: GROUPS, partitions: PARTITIONS, record_bytes_avg: Math.round(records.reduce((s, r) => s + r.value.length, 0) / records.length) },
      daemon,
      sink_backlog_drain: backlog,
      kafkajs,
      naive,
      daemon_vs_kafkajs: +(daemon.events_per_s / kafkajs.events_per_s).toFixed(2),
      daemon_vs_naive: +(daemon.events_per_s / naive.events_per_s).toFixed(2),
      target_events_per_s: 20_000,
      meets_target: daemon.events_per_s >= 20_000,
      load_average_1m: +os.loadavg()[0].toFixed(2),
    };
    console.log(JSON.stringify(result));
  } finally {
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(backlogDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
