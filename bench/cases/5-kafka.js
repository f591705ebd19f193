// Case 5 — im-bridge end to end into Kafka: the real daemon → kafka sink → real Kafka; the rate counts
// until the last acknowledged record is in the topic. Case 5t (5t-kafka-thread.js) is the same with the
// sink's host key `thread: true`.
import fs from 'node:fs';
import { metrics } from '../lib/daemon.js';
import { BROKERS, brokerPid, createTopic, topicCount } from '../lib/kafka.js';
import { runLoad, summarizeCase } from '../lib/load.js';
import { sleep, stopChild } from '../lib/util.js';

export const kafkaSink = (topic, thread = false) => ({ out: { type: 'kafka', brokers: BROKERS, topic, ...(thread ? { thread: true } : {}) } });

export async function kafkaCase(ctx, { profileDir, thread = false } = {}) {
  const key = thread ? '5t' : '5';
  const label = thread ? 'im-bridge → kafka sink (thread: true) → Kafka (end to end)' : 'im-bridge → kafka sink → Kafka (end to end)';
  const topic = `bench-bridge-${ctx.runId}${ctx.suffix}${thread ? '-thread' : ''}${profileDir ? '-prof' : ''}`;
  await createTopic(topic);
  let d;
  try {
    d = await ctx.daemon('kafka', { sinks: kafkaSink(topic, thread) }, { profileDir });
  } catch (e) {
    return { case: key, label, unavailable: true, reason: `daemon with a kafka sink did not start: ${e.message.slice(0, 1500)}` };
  }
  try {
    const broker = brokerPid();
    let c0;
    let t0;
    const r = await runLoad({
      port: d.port,
      serverPid: d.child.pid,
      extraPids: broker ? { kafka_broker: broker } : {},
      onMeasureStart: async () => {
        t0 = performance.now();
        c0 = await topicCount(topic);
      },
    });
    const tAcked = performance.now();
    const target = r.load.total_ok_including_warmup;
    // Wait for the last acknowledged record to be in the topic; give up after 30 s without progress.
    let count = await topicCount(topic);
    let last = count;
    let lastProgress = performance.now();
    while (count < target) {
      await sleep(25);
      count = await topicCount(topic);
      if (count > last) {
        last = count;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > 30_000) break;
    }
    const tDone = performance.now();
    const m = await metrics(d.port);
    const complete = count >= target;
    const e2e = Math.round((count - c0) / ((tDone - t0) / 1000));
    const s = summarizeCase(key, label, r, {
      topic,
      events_acked_total: target,
      events_in_topic: count,
      complete,
      events_per_s: complete ? e2e : null,
      events_per_s_partial: complete ? undefined : e2e,
      drain_after_last_ack_ms: Math.round(tDone - tAcked),
      daemon_metrics_at_end: m,
    });
    if (!complete) {
      s.unavailable = true;
      s.reason = `only ${count} of ${target} acknowledged events reached the topic (no progress for 30 s); daemon metrics ${JSON.stringify(m)}; daemon log tail: ${d.child.tail().slice(-1500)}`;
    }
    return s;
  } finally {
    await stopChild(d.child);
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
}

export default {
  id: '5',
  title: 'im-bridge → kafka sink → Kafka (end to end)',
  needs: ['daemon', 'kafka'],
  run: (ctx, opts) => kafkaCase(ctx, opts),
};
