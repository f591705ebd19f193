#!/usr/bin/env node
/**
 * NATS JetStream sink throughput, same machine, same run:
 *   1. daemon: N group-message callbacks (across G conversations) posted to the real daemon (dist/),
 *      delivered by the nats sink into a fresh JetStream stream → events/s from the first post until
 *      the stream holds all N messages (end to end: HTTP ingest, fsync'd queue, publish, PubAck);
 *   1b. the sink draining a backlog: N callbacks queued while the stream does not exist yet (connect
 *      refused and retried), then the stream is created → events/s until the stream holds all N;
 *   2. nats client alone: the very messages the daemon stored (same subjects, headers, payloads,
 *      Nats-Msg-Id) read back and published into a second fresh stream from this process with the
 *      nats client, pipelined with up to W PubAcks outstanding → events/s.
 * All streams use file storage. Prints one JSON line.
 *
 *   node bench/sinks/nats.js [events=20000] [conversations=200] [window=1000]
 * Needs a build (npx tsc -p tsconfig.build.json) and NATS with JetStream at $NATS_URL
 * (default: test/services/.env, else nats://127.0.0.1:14222).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { connect, headers as natsHeaders, StorageType } from 'nats';
import { startDaemon as startBridge } from '../lib/daemon.js';
import { groupTextMessage } from '../lib/payloads.js';
import { ROOT, stopChild } from '../lib/util.js';
const N = Number(process.argv[2] ?? 20_000);
const GROUPS = Number(process.argv[3] ?? 200);
const WINDOW = Number(process.argv[4] ?? 1000);
const POST_CONCURRENCY = 64;

function natsUrl() {
  if (process.env.NATS_URL) return process.env.NATS_URL;
  try {
    const env = fs.readFileSync(path.join(ROOT, 'test/services/.env'), 'utf8');
    const m = /^NATS_URL=(.+)$/m.exec(env);
    if (m) return m[1].trim();
  } catch {
    /* default below */
  }
  return 'nats://127.0.0.1:14222';
}

/** { port, child, … } once listening (and `readyLogs` were logged). */
const startDaemon = (config, dir, readyLogs = []) => startBridge({ dir, config, readyLogs });
const stopDaemon = (daemon) => stopChild(daemon.child);

function callback(group, seq) {
  return JSON.stringify(groupTextMessage({ groupId: group, seq, text: `benchmark message ${seq} in ${group}` }));
}

function daemonConfig(url, subjectPrefix, stream, createStream, retry) {
  return {
    sinks: {
      out: {
        type: 'nats',
        servers: [url],
        subject: `${subjectPrefix}.{{data.family}}.{{data.conversation.groupId}}`,
        stream,
        ...(createStream ? { create_stream: createStream } : {}),
        batch: { max_events: 500, max_wait_ms: 5 },
        max_in_flight: 8,
        retry,
      },
    },
  };
}

const bodies = [];
/** Posts the N callbacks (round-robin over the conversations) with POST_CONCURRENCY connections; returns the non-200 count. */
async function postAll(port, n) {
  if (bodies.length === 0) for (let seq = 1; bodies.length < n; seq++) for (let g = 0; g < GROUPS && bodies.length < n; g++) bodies.push(callback(`@TGS#bench${g}`, seq));
  const agent = new Agent({ connections: POST_CONCURRENCY, pipelining: 1 });
  const endpoint = `http://127.0.0.1:${port}/im/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterSendMsg&contenttype=json&ClientIP=203.0.113.7&OptPlatform=Android`;
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: POST_CONCURRENCY }, async () => {
      while (next < n) {
        const body = bodies[next++];
        const res = await fetch(endpoint, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
      }
    }),
  );
  await agent.close();
  return failed;
}

async function streamMessages(jsm, stream) {
  return (await jsm.streams.info(stream)).state.messages;
}

async function main() {
  const url = natsUrl();
  // noAsyncTraces: the client's fastest publish path (the sink sets it too).
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, noAsyncTraces: true });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`.toUpperCase();
  const daemonStream = `BENCH_NATS_DAEMON_${tag}`;
  const aloneStream = `BENCH_NATS_ALONE_${tag}`;
  const drainStream = `BENCH_NATS_DRAIN_${tag}`;
  const prefix = `bench-${tag.toLowerCase()}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-nats-'));
  let daemon;
  try {
    // ---- 1. through the daemon
    daemon = await startDaemon(daemonConfig(url, `${prefix}.d`, daemonStream, { storage: 'file', subjects: [`${prefix}.d.>`] }, {}), dir, ['"NATS_STREAM_CREATED"']);
    const port = daemon.port;
    const started = performance.now();
    const failed = await postAll(port, N);
    const ingested = performance.now();
    while ((await streamMessages(jsm, daemonStream)) < N - failed) await new Promise((r) => setTimeout(r, 20));
    const delivered = performance.now();
    await stopDaemon(daemon);

    // ---- 1b. the sink alone draining a backlog: callbacks queued while the stream is missing
    // (connect is refused and retried), then the stream appears and the backlog drains.
    const dir2 = path.join(dir, 'drain');
    fs.mkdirSync(dir2);
    daemon = await startDaemon(daemonConfig(url, `${prefix}.b`, drainStream, undefined, { initial_backoff_ms: 20, max_backoff_ms: 50, max_attempts: 1000 }), dir2);
    const port2 = daemon.port;
    const failed2 = await postAll(port2, N);
    const drainStarted = performance.now();
    await jsm.streams.add({ name: drainStream, subjects: [`${prefix}.b.>`], storage: StorageType.File });
    while ((await streamMessages(jsm, drainStream)) < N - failed2) await new Promise((r) => setTimeout(r, 10));
    const drained = performance.now();
    await stopDaemon(daemon);

    // ---- 2. the nats client alone, the same messages
    await jsm.streams.add({ name: aloneStream, subjects: [`${prefix}.a.>`], storage: StorageType.File });
    const consumer = await js.consumers.get(daemonStream);
    const messages = [];
    while (messages.length < N - failed) {
      const batch = await consumer.fetch({ max_messages: Math.min(1000, N - failed - messages.length), expires: 5000 });
      for await (const m of batch) {
        // the stored headers minus the daemon's publish expectations (Nats-Expected-Stream: its stream)
        const h = natsHeaders();
        for (const key of m.headers.keys()) if (!/^nats-expected-/i.test(key)) h.set(key, m.headers.get(key));
        messages.push({ subject: m.subject.replace(`${prefix}.d.`, `${prefix}.a.`), data: m.data, headers: h });
      }
    }
    const aloneStarted = performance.now();
    let i = 0;
    const inFlight = new Set();
    while (i < messages.length) {
      while (inFlight.size < WINDOW && i < messages.length) {
        const m = messages[i++];
        const p = js.publish(m.subject, m.data, { headers: m.headers, msgID: m.headers.get('Nats-Msg-Id') }).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const aloneDone = performance.now();
    const aloneCount = await streamMessages(jsm, aloneStream);

    const daemonEps = (N - failed) / ((delivered - started) / 1000);
    const aloneEps = aloneCount / ((aloneDone - aloneStarted) / 1000);
    console.log(
      JSON.stringify({
        bench: 'nats',
        events: N,
        conversations: GROUPS,
        rejected_posts: failed,
        daemon_events_per_s: Math.round(daemonEps),
        daemon_ingest_per_s: Math.round((N - failed) / ((ingested - started) / 1000)),
        daemon_drain_after_ingest_ms: Math.round(delivered - ingested),
        sink_backlog_drain_events_per_s: Math.round((N - failed2) / ((drained - drainStarted) / 1000)),
        client_alone_events_per_s: Math.round(aloneEps),
        client_alone_window: WINDOW,
        ratio: Number((daemonEps / aloneEps).toFixed(3)),
        stream_messages: { daemon: await streamMessages(jsm, daemonStream), alone: aloneCount },
        node: process.version,
        cpus: os.cpus().length,
      }),
    );
  } finally {
    if (daemon) await stopDaemon(daemon);
    await jsm.streams.delete(daemonStream).catch(() => undefined);
    await jsm.streams.delete(drainStream).catch(() => undefined);
    await jsm.streams.delete(aloneStream).catch(() => undefined);
    await nc.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
