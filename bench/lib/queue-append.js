#!/usr/bin/env node
// The durable queue's client path, isolated: DurableQueue.append() from the event loop, the group
// commit in the queue worker, the fsync, the answer back — with the bench's payload mix serialized
// as the daemon does (serializeEvent), 64 appends in flight. Reported per event: CPU of the main
// thread (serialization + the queue client + the hand-over) and of the other threads (queue worker,
// libuv), from /proc/self/task. Each tree runs in its own process, the trees alternating.
//   node bench/lib/queue-append.js [TREE...]      (default: this checkout; e.g. . ../im-bridge-base)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EVENTS = Number(process.env.BENCH_APPEND_EVENTS ?? 60000);
const IN_FLIGHT = 64;
const ROUNDS = Number(process.env.BENCH_APPEND_ROUNDS ?? 3);

function threadTicks() {
  const out = {};
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const fields = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    out[tid] = Number(fields[11]) + Number(fields[12]);
  }
  return out;
}

async function measure(tree) {
  const { DurableQueue } = await import(path.join(tree, 'dist/src/queue/index.js'));
  const { normalize } = await import(path.join(tree, 'dist/src/normalize/index.js'));
  const { serializeEvent } = await import(path.join(tree, 'dist/src/ingest/handler.js'));
  const { buildPool } = await import('./payloads.js');
  const events = buildPool().map((r) => {
    const text = r.body.toString();
    const meta = { sdkAppId: '1400000000', command: r.command, clientIp: '203.0.113.7', optPlatform: 'Windows', receivedAtMs: Date.now() };
    return { event: normalize(JSON.parse(text), meta, { includeRaw: true }), text };
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-queue-append-'));
  const queue = await DurableQueue.open({ dir, max_bytes: 1e12, max_events: 1e9, max_wait_ms: 0, max_batch_events: 2048, min_free_bytes: 0 });
  const usPerTick = 1e6 / 100; // USER_HZ
  const once = async () => {
    const before = threadTicks();
    for (let i = 0; i < EVENTS; i += IN_FLIGHT) {
      const appends = [];
      for (let j = 0; j < IN_FLIGHT; j++) {
        const { event, text } = events[(i + j) % events.length];
        appends.push(queue.append({ id: event.id, subject: event.subject, body: serializeEvent(event, text), sinks: ['file'] }, event));
      }
      await Promise.all(appends);
    }
    const after = threadTicks();
    let main = 0;
    let other = 0;
    for (const tid of Object.keys(after)) {
      const us = ((after[tid] - (before[tid] ?? 0)) * usPerTick) / EVENTS;
      if (tid === String(process.pid)) main += us;
      else other += us;
    }
    return { main, other };
  };
  await once(); // warm-up
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) runs.push(await once());
  await queue.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return runs;
}

if (process.env.QUEUE_APPEND_CHILD) {
  console.log(JSON.stringify(await measure(process.env.QUEUE_APPEND_CHILD)));
} else {
  const trees = (process.argv.length > 2 ? process.argv.slice(2) : [ROOT]).map((t) => path.resolve(t));
  const results = new Map(trees.map((t) => [t, []]));
  for (let pass = 0; pass < 2; pass++) {
    for (const tree of trees) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, QUEUE_APPEND_CHILD: tree }, encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`${tree}: ${child.stderr}`);
      results.get(tree).push(...JSON.parse(child.stdout.trim().split('\n').at(-1)));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`queue append path, ${EVENTS} events × ${ROUNDS} rounds × 2 passes per tree, ${IN_FLIGHT} in flight; CPU µs per event (median)`);
  for (const [tree, runs] of results) {
    const main = median(runs.map((r) => r.main));
    const other = median(runs.map((r) => r.other));
    console.log(`${path.relative(process.cwd(), tree) || '.'}  main ${main.toFixed(1)}  other threads ${other.toFixed(1)}  total ${(main + other).toFixed(1)}   (runs: ${runs.map((r) => (r.main + r.other).toFixed(1)).join(' ')})`);
  }
}
