#!/usr/bin/env node
/**
 * Elasticsearch sink benchmark (same machine, same run):
 *  1. end to end through the daemon: N group-message callbacks posted over HTTP → durable queue →
 *     elasticsearch sink → Elasticsearch; documents/s from the first post until the sink has delivered
 *     all N (im_bridge_events_delivered_total), i.e. every document accepted by Elasticsearch;
 *  2. drain: N callbacks queued while the sink cannot reach Elasticsearch, then the daemon restarted
 *     with the real node: documents/s of the sink alone (queue read + _bulk), ingest out of the way;
 *     `drain_docs_per_s` counts from the spawn of the daemon (start-up included),
 *     `drain_from_ready_docs_per_s` from its BRIDGE_STARTED log line;
 *  3. the client's bulk helper (`client.helpers.bulk`) indexing the same N documents (read back from
 *     step 1) into another index of the same template, alone, with the same concurrency.
 * Prints one JSON line. Needs `npm run build` and a running Elasticsearch (npm run services:up).
 *
 *   node bench/sinks/elasticsearch.js            # BENCH_ES_EVENTS=20000 BENCH_ES_CONCURRENCY=64
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { startDaemon as startBridge } from '../lib/daemon.js';
import { groupTextMessage } from '../lib/payloads.js';
import { ROOT, freePort } from '../lib/util.js';
const N = Number(process.env.BENCH_ES_EVENTS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_ES_CONCURRENCY ?? 64);
const BATCH = Number(process.env.BENCH_ES_BATCH ?? 1000);
const IN_FLIGHT = Number(process.env.BENCH_ES_IN_FLIGHT ?? 4);

function esUrl() {
  if (process.env.ELASTICSEARCH_URL) return process.env.ELASTICSEARCH_URL.replace(/\/+$/, '');
  try {
    const line = readFileSync(path.join(ROOT, 'test/services/.env'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('ELASTICSEARCH_URL='));
    if (line) return line.slice('ELASTICSEARCH_URL='.length).trim().replace(/^["']|["']$/g, '').replace(/\/+$/, '');
  } catch {}
  return 'http://127.0.0.1:19200';
}

/** The daemon's child process, once it answers /healthz. */
async function startDaemon(config, dir, port) {
  return (await startBridge({ dir, port, config, timeoutMs: 60_000 })).child;
}

function body(i) {
  // MsgTime spreads over a few hours of one month: one index.
  return JSON.stringify(groupTextMessage({ groupId: `@TGS#bench${i % 100}`, seq: i, from: `user_${i % 97}`, msgTime: 1767225600 + Math.floor(i / 10), text: `benchmark message ${i} with a few words to index` }));
}

async function post(url, offset) {
  let next = 0;
  let failed = 0;
  const query = '?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterSendMsg&contenttype=json&ClientIP=203.0.113.7&OptPlatform=Android';
  async function worker() {
    while (next < N) {
      const i = next++;
      const res = await fetch(`${url}/im/callback${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(offset + i) });
      await res.arrayBuffer();
      if (res.status !== 200) failed++;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
}

async function delivered(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('im_bridge_events_delivered_total{') && l.includes('sink="es"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function main() {
  const es = esUrl();
  const client = new Client({ node: es, requestTimeout: 60_000 });
  const health = await client.cluster.health();
  const info = await client.info().catch(() => undefined);
  const prefix = `im-bench-${process.pid}-${Date.now().toString(36)}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-es-'));
  const port = await freePort();
  const deadPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = (nodes) => ({
    sinks: {
      es: {
        type: 'elasticsearch',
        nodes: [nodes],
        index: `${prefix}-{{yyyy.MM}}`,
        template: { name: prefix, priority: 300, number_of_replicas: 0 },
        batch: { max_events: BATCH, max_wait_ms: 20 },
        max_in_flight: IN_FLIGHT,
        retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 },
      },
    },
  });
  let daemon;
  const stop = async () => {
    if (!daemon || daemon.exitCode !== null) return;
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  };
  const waitDelivered = async (target) => {
    const deadline = Date.now() + 600_000;
    while ((await delivered(url)) < target) {
      if (Date.now() > deadline) throw new Error(`daemon did not deliver ${target} events within 10 minutes`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  let result;
  try {
    // 1. end to end: post N while the sink delivers.
    daemon = await startDaemon(config(es), dir, port);
    // warm-up: template installed, connection open, index created
    await fetch(`${url}/im/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterSendMsg&contenttype=json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(999_999_999) });
    await waitDelivered(1);
    const started = performance.now();
    const failed = await post(url, 0);
    const acked = performance.now();
    await waitDelivered(1 + N);
    const e2eSeconds = (performance.now() - started) / 1000;
    await stop();

    // 2. drain: N events queued while the sink cannot reach Elasticsearch, then delivered from the backlog.
    daemon = await startDaemon(config(`http://127.0.0.1:${deadPort}`), dir, port);
    const failed2 = await post(url, N);
    await stop();
    const drainStart = performance.now();
    daemon = await startDaemon(config(es), dir, port);
    const drainReady = performance.now();
    await waitDelivered(N);
    const drainEnd = performance.now();
    const drainSeconds = (drainEnd - drainStart) / 1000;
    const drainReadySeconds = (drainEnd - drainReady) / 1000;
    await stop();

    // 3. the same documents (those of step 1, read back) indexed alone by the client's bulk helper.
    await client.indices.refresh({ index: `${prefix}-*` });
    const docs = [];
    for await (const doc of client.helpers.scrollDocuments({ index: `${prefix}-*`, size: 5000, query: { range: { 'data.seq': { lt: N } } } })) docs.push(doc);
    const helperIndex = `${prefix}-helper`;
    await client.indices.create({ index: helperIndex });
    const helperStart = performance.now();
    const stats = await client.helpers.bulk({
      datasource: docs,
      onDocument: (doc) => ({ index: { _index: helperIndex, _id: doc.id } }),
      concurrency: IN_FLIGHT,
      flushBytes: 5_000_000,
      retries: 3,
    });
    const helperSeconds = (performance.now() - helperStart) / 1000;
    const total = (await client.count({ index: `${prefix}-2*` })).count;

    const e2e = Math.round(N / e2eSeconds);
    const drain = Math.round(N / drainSeconds);
    const helper = Math.round(stats.successful / helperSeconds);
    result = {
      bench: 'elasticsearch',
      elasticsearch: info?.version?.number ?? 'unknown',
      cluster_status: health.status,
      events: N,
      post_concurrency: CONCURRENCY,
      batch_max_events: BATCH,
      max_in_flight: IN_FLIGHT,
      post_failed: failed + failed2,
      indexed_by_daemon: total,
      ingest_acks_per_s: Math.round(N / ((acked - started) / 1000)),
      e2e_docs_per_s: e2e,
      e2e_seconds: Number(e2eSeconds.toFixed(2)),
      drain_docs_per_s: drain,
      drain_seconds: Number(drainSeconds.toFixed(2)),
      drain_from_ready_docs_per_s: Math.round(N / drainReadySeconds),
      bulk_helper_docs: stats.successful,
      bulk_helper_failed: stats.failed,
      bulk_helper_docs_per_s: helper,
      bulk_helper_seconds: Number(helperSeconds.toFixed(2)),
      e2e_vs_helper: Number((e2e / helper).toFixed(2)),
      drain_vs_helper: Number((drain / helper).toFixed(2)),
      loadavg_1m: Number(os.loadavg()[0].toFixed(2)),
      cpus: os.cpus().length,
      node: process.version,
    };
  } finally {
    await stop();
    await client.indices.delete({ index: `${prefix}-*` }).catch(() => {});
    await client.indices.deleteIndexTemplate({ name: prefix }).catch(() => {});
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
