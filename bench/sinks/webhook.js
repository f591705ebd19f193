#!/usr/bin/env node
/**
 * Webhook sink throughput, same machine, same run:
 *   1. daemon (dist/), webhook sink (structured, signed) → a local receiver:
 *      a. backlog: N group-message callbacks queued while the receiver is unreachable; the daemon
 *         is restarted pointing at the receiver → events/s from daemon start to the N-th request
 *         (and receiver-side, first → last request);
 *      b. live: N callbacks posted while the sink delivers them → events/s from the first post
 *         to the N-th request (ingest shares the 2 cores);
 *   2. undici alone: the very requests the receiver got in 1a (same bodies, signed the same way, same
 *      number of connections) sent straight from this process with an undici Agent.
 * The receiver runs in its own process for both. Prints one JSON line.
 *
 *   node bench/sinks/webhook.js [events=20000] [max_connections=16] [conversations=200]
 * Needs a build: npx tsc -p tsconfig.build.json
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, Pool } from 'undici';
import { cliOf, startDaemon as startBridge } from '../lib/daemon.js';
import { groupTextMessage } from '../lib/payloads.js';
import { freePort } from '../lib/util.js';

const CLI = cliOf();
const N = Number(process.argv[2] ?? 20_000);
const CONNECTIONS = Number(process.argv[3] ?? 16);
const GROUPS = Number(process.argv[4] ?? 200);
const SECRET = 'whsec_' + Buffer.from('benchmark-secret-0123456789abcdef').toString('base64');
const KEY = Buffer.from(SECRET.slice(6), 'base64');

const RECEIVER = `
import http from 'node:http';
let count = 0, first = 0, last = 0, capture = [], want = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const now = performance.timeOrigin + performance.now();
    if (count === 0) first = now;
    last = now;
    count++;
    if (capture) capture.push({ id: req.headers['webhook-id'], type: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(204).end();
    if (count === want) process.send({ done: true, count, first, last });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m.expect !== undefined) { want = m.expect; count = 0; first = 0; last = 0; }
  if (m.stopCapture) {
    process.send({ captured: capture });
    capture = undefined;
  }
  if (m.exit) process.exit(0);
});
`;

function nextMessage(child, key) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m[key] !== undefined) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
  });
}

function groupMessage(groupId, seq) {
  return groupTextMessage({ groupId, seq, text: `benchmark message ${seq} with some text in it` });
}

async function run(concurrency, total, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error('dist/ missing: run npx tsc -p tsconfig.build.json first');
  const receiver = spawn(process.execPath, ['--input-type=module', '-e', RECEIVER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port: receiverPort } = await nextMessage(receiver, 'port');
  const receiverUrl = `http://127.0.0.1:${receiverPort}`;

  // 1. through the daemon
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-webhook-'));
  const port = await freePort();
  const deadPort = await freePort();
  // The sink's URL for the next start.
  let sinkUrl;
  const writeConfig = (url) => (sinkUrl = url);
  const config = () => ({
    log: { level: 'warn' },
    sinks: {
      out: {
        type: 'webhook',
        url: sinkUrl,
        encoding: 'structured',
        max_connections: CONNECTIONS,
        signing: { secrets: [SECRET] },
        batch: { max_events: 500, max_wait_ms: 20 },
        max_in_flight: 4,
        retry: { initial_backoff_ms: 5000, max_backoff_ms: 5000 },
      },
    },
  });
  const startDaemon = async () => {
    const { child } = await startBridge({ dir, port, config: config() });
    return { child, pool: new Pool(`http://127.0.0.1:${port}`, { connections: 32 }) };
  };
  const stopDaemon = async ({ child, pool }) => {
    await pool.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  const groups = GROUPS;
  const post = (pool) =>
    run(64, N, async (i) => {
      const body = JSON.stringify(groupMessage(`bench-${i % groups}`, Math.floor(i / groups) + 1));
      const r = await pool.request({
        path: '/im/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterSendMsg&contenttype=json&ClientIP=203.0.113.7&OptPlatform=Android',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`ingest answered ${r.statusCode}`);
    });

  // 1a. backlog drain: N events queued while the receiver is unreachable, then a restart
  //     pointing at the receiver; rate = N / (last request - daemon start).
  writeConfig(`http://127.0.0.1:${deadPort}/events`);
  let daemon = await startDaemon();
  await post(daemon.pool);
  await stopDaemon(daemon);
  writeConfig(`${receiverUrl}/events`);
  receiver.send({ expect: N });
  let delivered = nextMessage(receiver, 'done');
  const tStart = performance.timeOrigin + performance.now();
  daemon = await startDaemon();
  const drain = await delivered;
  const drainRss = readRss(daemon.child.pid);
  await stopDaemon(daemon);

  receiver.send({ stopCapture: true });
  const { captured } = await nextMessage(receiver, 'captured');

  // 1b. live: N new events posted while the sink delivers them (ingest shares the CPU).
  fs.rmSync(path.join(dir, 'queue'), { recursive: true, force: true });
  daemon = await startDaemon();
  receiver.send({ expect: N });
  delivered = nextMessage(receiver, 'done');
  const t0 = performance.timeOrigin + performance.now();
  await post(daemon.pool);
  const ingestMs = performance.timeOrigin + performance.now() - t0;
  const live = await delivered;
  const liveRss = readRss(daemon.child.pid);
  await stopDaemon(daemon);

  // 2. undici alone, same requests, same signing, same connection count
  const agent = new Agent({ connections: CONNECTIONS, pipelining: 1 });
  receiver.send({ expect: captured.length });
  const replayed = nextMessage(receiver, 'done');
  const t1 = performance.timeOrigin + performance.now();
  await run(CONNECTIONS, captured.length, async (i) => {
    const { id, type, body } = captured[i];
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = 'v1,' + createHmac('sha256', KEY).update(`${id}.${timestamp}.`).update(body, 'utf8').digest('base64');
    const r = await agent.request({
      origin: receiverUrl,
      path: '/events',
      method: 'POST',
      headers: { 'content-type': type, 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
      body,
    });
    await r.body.dump();
  });
  const replay = await replayed;
  const undiciMs = replay.last - t1;
  await agent.close();
  receiver.send({ exit: true });
  fs.rmSync(dir, { recursive: true, force: true });

  const drainPerS = (N / (drain.last - tStart)) * 1000;
  const undiciPerS = (captured.length / undiciMs) * 1000;
  const result = {
    bench: 'webhook',
    events: N,
    conversations: groups,
    encoding: 'structured',
    signed: true,
    max_connections: CONNECTIONS,
    daemon_backlog_events_per_s: Math.round(drainPerS),
    daemon_backlog_receiver_side_events_per_s: Math.round(((N - 1) / (drain.last - drain.first)) * 1000),
    daemon_backlog_rss_mb: drainRss,
    undici_alone_events_per_s: Math.round(undiciPerS),
    ratio: Number((drainPerS / undiciPerS).toFixed(3)),
    daemon_live_events_per_s: Math.round((N / (live.last - t0)) * 1000),
    daemon_live_ingest_ms: Math.round(ingestMs),
    daemon_live_rss_mb: liveRss,
    cpus: os.cpus().length,
    node: process.version,
  };
  console.log(JSON.stringify(result));
}

function readRss(pid) {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    return Math.round(kb / 1024);
  } catch {
    return null;
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
