#!/usr/bin/env node
// Cost of transforms at delivery (src/transform), isolated: the payload mix of the main cases,
// normalized as the daemon does (data.raw kept), in batches of 500 events like a sink's default.
// Three declarative steps per event — redact data.text and every element text, hash (HMAC-SHA256)
// data.sender, drop data.raw — through the sink runner's TransformChain (metrics counted per batch).
// Reported per event:
//   apply_us            the chain alone
//   apply_json_us       the chain + eventJson() of the result (a transformed event is serialized
//                       again; an untransformed one reuses its stored JSON)
//   baseline_json_us    eventJson() of the untransformed event (the stored bytes: ~0)
// Prints one JSON line.   node bench/lib/transform.js   (BENCH_TRANSFORM_SECONDS=2)
import path from 'node:path';
import pino from 'pino';
import { ROOT } from './util.js';
import { buildPool } from './payloads.js';

const SECONDS = Number(process.env.BENCH_TRANSFORM_SECONDS ?? 2);
const BATCH = 500;
const dist = (p) => import(path.join(ROOT, 'dist/src', p));
const { TransformChain } = await dist('transform/chain.js');
const { eventJson } = await dist('sink/api.js');
const { rememberEventJson } = await dist('sink/event-json.js');
const { normalize } = await dist('normalize/index.js');
const { Metrics } = await dist('telemetry/metrics.js');

const pool = buildPool(undefined, 2000);
const events = pool.map((p, i) => {
  const body = JSON.parse(p.body.toString());
  const event = normalize(body, { sdkAppId: '1400000000', command: p.command, clientIp: '203.0.113.7', optPlatform: 'Android', receivedAtMs: 1767225600000 + i }, { includeRaw: true });
  rememberEventJson(event, JSON.stringify(event));
  return event;
});
const batches = [];
for (let i = 0; i < events.length; i += BATCH) batches.push(events.slice(i, i + BATCH));

const steps = [
  { redact: ['data.text', 'data.elements[*].content.text'] },
  { hash: ['data.sender'], key: 'bench-hash-key' },
  { drop: ['data.raw'] },
];
const chain = new TransformChain('bench', steps, ROOT, pino({ level: 'silent' }), new Metrics({ processMetrics: false }));

function measure(fn) {
  let n = 0;
  let sink = 0;
  for (let w = 0; w < 20; w++) for (const b of batches) sink += fn(b); // warm-up (JIT)
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  while (performance.now() < deadline) {
    for (const b of batches) {
      sink += fn(b);
      n += b.length;
    }
  }
  const us = ((performance.now() - start) * 1000) / n;
  return { us_per_event: +us.toFixed(3), events: n, checksum: sink % 1000 };
}

const apply = measure((b) => chain.apply(b).events.length);
const applyJson = measure((b) => {
  let bytes = 0;
  for (const e of chain.apply(b).events) bytes += eventJson(e).length;
  return bytes;
});
const baseline = measure((b) => {
  let bytes = 0;
  for (const e of b) bytes += eventJson(e).length;
  return bytes;
});
const sample = chain.apply([events[0]]).events[0];
console.log(
  JSON.stringify({
    steps: steps.map((s) => Object.keys(s)[0]),
    batch_events: BATCH,
    avg_event_bytes: Math.round(events.reduce((a, e) => a + eventJson(e).length, 0) / events.length),
    apply_us: apply.us_per_event,
    apply_json_us: applyJson.us_per_event,
    baseline_json_us: baseline.us_per_event,
    sample_has_raw: 'raw' in sample.data,
  }),
);
