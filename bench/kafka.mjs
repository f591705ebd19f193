#!/usr/bin/env node
// End-to-end throughput into a real Kafka, three ways in one run, one JSON line on stdout:
//
//   daemon  — callbacks POSTed to the compiled daemon (dist/, durable queue + kafka sink);
//             rate = events / (first POST → last record visible in the topic).
//   kafkajs — the same records (read back from the daemon's topic) produced by kafkajs alone
//             (idempotent, acks=all, sendBatch requests of ~1 MB) — the client's ceiling here.
//   sink_backlog_drain — the delivery side alone: events queued while Kafka is unreachable,
//             then the daemon restarted with the real brokers; rate = backlog / drain time.
//   naive   — a node:http handler (own process) that awaits producer.send() per request,
//             same producer settings, same load generator.
//
// Run after `npx tsc -p tsconfig.build.json`, with the test Kafka up (npm run services:up):
//   node bench/kafka.mjs            BENCH_EVENTS=60000 BENCH_CONCURRENCY=64 BENCH_GROUPS=100
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Pool } from 'undici';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/src/cli.js');
const EVENTS = Number(process.env.BENCH_EVENTS ?? 60_000);
const NAIVE_EVENTS = Number(process.env.BENCH_NAIVE_EVENTS ?? Math.min(EVENTS, 10_000));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 100);
const PARTITIONS = 6;
const BROKERS = brokers();
const QUERY = 'SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterSendMsg&contenttype=json&ClientIP=203.0.113.7&OptPlatform=Android';

function brokers() {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS.split(',');
  try {
    const env = fs.readFileSync(path.join(ROOT, 'test/services/.env'), 'utf8');
    const m = /^KAFKA_BROKERS=(.+)$/m.exec(env);
    if (m) return m[1].trim().split(',');
  } catch {}
  return ['127.0.0.1:19092'];
}

function body(i) {
  const groupId = `bench-${i % GROUPS}`;
  const seq = Math.floor(i / GROUPS) + 1;
  return JSON.stringify({
    CallbackCommand: 'Group.CallbackAfterSendMsg',
    GroupId: groupId,
    Type: 'Public',
    From_Account: `user_${seq % 7}`,
    Operator_Account: `user_${seq % 7}`,
    Random: 1000 + seq,
    MsgSeq: seq,
    MsgTime: 1767225600 + seq,
    OnlineOnlyFlag: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `benchmark message ${i} of group ${groupId}` } }],
    CloudCustomData: '',
    EventTime: String(1767225600000 + seq),
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Spawns a node process and resolves once a stdout line contains `ready`. */
function spawnUntil(args, ready, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '';
    const onData = (chunk) => {
      out += chunk.toString();
      if (out.includes(ready)) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve(child);
      }
      if (out.length > 1e6) out = out.slice(-1e5);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before ready:\n${out.slice(-3000)}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  });
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

function daemonConfig(port, dir, brokerList, topic) {
  return `
listen: { host: 127.0.0.1, port: ${port}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ${dir}/queue }
log: { level: warn, requests: off }
sinks:
  kafka:
    type: kafka
    brokers: [${brokerList.join(', ')}]
    topic: ${topic}
    batch: { max_events: 1000, max_wait_ms: 20 }
    max_in_flight: 4
    retry: { initial_backoff_ms: 100, max_backoff_ms: 1000, max_attempts: 1000 }
routes:
  - { name: all, match: { command: "*" }, to: [kafka] }
`;
}

async function startDaemon(dir, config, port) {
  const file = path.join(dir, 'bridge.yaml');
  fs.writeFileSync(file, config);
  const child = spawn(process.execPath, [CLI, 'run', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  // log level warn: wait for the port instead of the BRIDGE_STARTED info line.
  await waitForPort(port, child);
  return child;
}

/** Live traffic: first POST → last record in the topic. */
async function benchDaemon(admin, topic, dir) {
  const port = await freePort();
  const child = await startDaemon(dir, daemonConfig(port, dir, BROKERS, topic), port);
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
  let child = await startDaemon(dir, daemonConfig(port, dir, [`127.0.0.1:${closedPort}`], topic), port);
  const failed = await load(`http://127.0.0.1:${port}`, '/im/callback', EVENTS);
  await stop(child);
  if ((await topicCount(admin, topic)) !== 0) throw new Error('backlog phase: records reached Kafka early');
  child = await startDaemon(dir, daemonConfig(port, dir, BROKERS, topic), port);
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

async function waitForPort(port, child) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('daemon did not listen within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
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

const NAIVE_SERVER = `
import http from 'node:http';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
const [brokers, topic, port] = [process.env.B.split(','), process.env.T, Number(process.env.P)];
const kafka = new Kafka({ clientId: 'naive', brokers, logLevel: logLevel.NOTHING });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const text = Buffer.concat(chunks).toString();
      const body = JSON.parse(text);
      await producer.send({ topic, acks: -1, messages: [{ key: 'group/' + body.GroupId, value: text }] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}');
    } catch (e) {
      res.writeHead(503).end(String(e));
    }
  });
}).listen(port, '127.0.0.1', () => console.log('naive ready'));
`;

async function benchNaive(admin, topic) {
  const port = await freePort();
  const child = await spawnUntil(['--input-type=module', '-e', NAIVE_SERVER], 'naive ready', { cwd: ROOT, env: { ...process.env, B: BROKERS.join(','), T: topic, P: String(port) } });
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
