#!/usr/bin/env node
// Smoke test + quick measurement of the Flume 1.11 peer:  node bench/peers/flume/smoke.js [file|kafka|both]
// Builds (cached), starts Flume, POSTs Tencent Group.CallbackAfterSendMsg bodies (the bench's group_text kind,
// ~390 B, each one distinct) over keep-alive connections with a fixed number in flight, checks that EVERY body
// came out of the sink exactly once (file_roll lines / Kafka record values), and prints one JSON line per sink:
// req/s, latency, and Flume's server CPU per request (utime+stime of the JVM over the measured window).
// Env: SMOKE_REQUESTS (measured, default 2000), SMOKE_WARMUP (before the window, default 2000, verified too),
//      SMOKE_CONCURRENCY (in flight, default 32), KAFKA_BROKERS (default 127.0.0.1:19092), JAVA_HOME,
//      SMOKE_KEEP=1 (keep the run directory).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Pool } from 'undici';
import { buildFlume, startFlume, readFileRoll, javaVersion, DEFAULT_JVM_FLAGS } from './flume.js';
import { procCpu, machineCpu } from '../../lib/proc.js';
import { buildPool } from '../../lib/payloads.js';

const REQUESTS = Number(process.env.SMOKE_REQUESTS ?? 2000);
const WARMUP = Number(process.env.SMOKE_WARMUP ?? 2000);
const CONCURRENCY = Number(process.env.SMOKE_CONCURRENCY ?? 32);
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const which = process.argv[2] ?? 'file';
const sinks = which === 'both' ? ['file', 'kafka'] : [which];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Sends `items` through `pool`, `concurrency` at a time; returns { ok, non200, errors, lat (ms, per request) }. */
async function send(pool, items, concurrency) {
  const r = { ok: 0, non200: 0, errors: 0, statuses: {}, lat: [] };
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const it = items[next++];
      const t0 = performance.now();
      try {
        const res = await pool.request({ path: `/?${it.queryBase}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: it.body });
        await res.body.dump();
        r.lat.push(performance.now() - t0);
        if (res.statusCode === 200) r.ok++;
        else {
          r.non200++;
          r.statuses[res.statusCode] = (r.statuses[res.statusCode] ?? 0) + 1;
        }
      } catch {
        r.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return r;
}

const pct = (sorted, p) => (sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2) : undefined);

/** Compares the bodies sent with what the sink produced: each sent body exactly once. */
function verify(sent, got) {
  const want = new Map();
  for (const b of sent) want.set(b, (want.get(b) ?? 0) + 1);
  let missing = 0;
  let duplicates = 0;
  let unknown = 0;
  const seen = new Map();
  for (const g of got) seen.set(g, (seen.get(g) ?? 0) + 1);
  for (const [b, n] of want) {
    const m = seen.get(b) ?? 0;
    if (m < n) missing += n - m;
    if (m > n) duplicates += m - n;
  }
  for (const g of seen.keys()) if (!want.has(g)) unknown += seen.get(g);
  return { events_expected: sent.length, events_found: got.length, missing, duplicates, unknown, verified: missing === 0 && duplicates === 0 && unknown === 0 };
}

async function waitFor(fn, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let got = await fn();
  while (got.length < want && Date.now() < deadline) {
    await sleep(250);
    got = await fn();
  }
  return got;
}

/** All record values of `topic` (one partition or more), read from the beginning until `want` or the timeout. */
async function readTopic(kafka, topic, want, timeoutMs) {
  const values = [];
  const consumer = kafka.consumer({ groupId: `flume-smoke-${process.pid}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value.toString('utf8')) });
  const deadline = Date.now() + timeoutMs;
  while (values.length < want && Date.now() < deadline) await sleep(250);
  await sleep(500); // duplicates, if any, would arrive right behind
  await consumer.disconnect();
  return values;
}

async function runOne(sink, build) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `flume-smoke-${sink}-`));
  const port = await freePort();
  let kafka;
  let topic;
  if (sink === 'kafka') {
    const { Kafka, logLevel } = await import('kafkajs');
    kafka = new Kafka({ clientId: 'flume-smoke', brokers: BROKERS, logLevel: logLevel.NOTHING });
    topic = `flume-smoke-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
  }
  const items = buildPool({ group_text: 1 }, WARMUP + REQUESTS);
  const flume = await startFlume({ port, dir, sink, brokers: BROKERS.join(','), topic });
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    const warm = await send(pool, items.slice(0, WARMUP), CONCURRENCY);
    await sleep(300);
    const c0 = procCpu(flume.pid);
    const m0 = machineCpu();
    const t0 = performance.now();
    const r = await send(pool, items.slice(WARMUP), CONCURRENCY);
    const wall = (performance.now() - t0) / 1000;
    const c1 = procCpu(flume.pid);
    const m1 = machineCpu();
    const sent = items.map((it) => it.body.toString('utf8'));
    const got =
      sink === 'file'
        ? await waitFor(() => readFileRoll(dir), sent.length, 30_000)
        : await readTopic(kafka, topic, sent.length, 30_000);
    const lat = r.lat.sort((a, b) => a - b);
    const cpu = c1.user - c0.user + (c1.sys - c0.sys);
    const result = {
      peer: 'flume-1.11.0',
      pipeline: sink === 'file' ? 'HTTPSource -> FileChannel -> file_roll' : 'HTTPSource -> FileChannel -> KafkaSink',
      java: javaVersion(),
      requests: REQUESTS,
      warmup: WARMUP,
      concurrency: CONCURRENCY,
      body_bytes: items[0].body.length,
      ok: r.ok,
      non200: r.non200 + warm.non200,
      errors: r.errors + warm.errors,
      wall_s: +wall.toFixed(3),
      req_s: Math.round(r.ok / wall),
      p50_ms: pct(lat, 50),
      p99_ms: pct(lat, 99),
      max_ms: pct(lat, 100),
      cpu_user_s: +(c1.user - c0.user).toFixed(2),
      cpu_sys_s: +(c1.sys - c0.sys).toFixed(2),
      cpu_us_per_req: Math.round((cpu / r.ok) * 1e6),
      machine_busy_cores: +((m1.busy - m0.busy) / wall).toFixed(2),
      ...verify(sent, got),
      build_ms: build.ms,
      start_ms: flume.startMs,
    };
    if (Object.keys(r.statuses).length) result.statuses = r.statuses;
    return result;
  } finally {
    await pool.close();
    await flume.stop();
    if (kafka) {
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
    if (process.env.SMOKE_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${dir}\n`);
  }
}

const build = await buildFlume();
let failed = false;
for (const sink of sinks) {
  const res = await runOne(sink, build);
  res.jvm_flags = DEFAULT_JVM_FLAGS.join(' ');
  process.stdout.write(JSON.stringify(res) + '\n');
  if (!res.verified || res.ok !== REQUESTS) failed = true;
}
process.exit(failed ? 1 : 0);
