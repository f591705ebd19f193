// Case 5 — im-bridge end to end into Kafka: the real daemon → kafka sink → real Kafka; the rate counts
// until the last acknowledged record is in the topic. Case 5t (5t-kafka-thread.js) is the same with the
// sink's host key `thread: true`.
import fs from 'node:fs';
import { metrics } from '../lib/daemon.js';
import { BROKERS, brokerPid, createTopic } from '../lib/kafka.js';
import { loadIntoTopic } from '../lib/end-to-end.js';
import { summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';

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
    const { r, complete, fields } = await loadIntoTopic(topic, { port: d.port, serverPid: d.child.pid, extraPids: broker ? { kafka_broker: broker } : {} });
    const m = await metrics(d.port);
    const s = summarizeCase(key, label, r, {
      ...fields,
      daemon_metrics_at_end: m,
    });
    if (!complete) {
      s.unavailable = true;
      s.reason = `only ${fields.events_in_topic} of ${fields.events_acked_total} acknowledged events reached the topic (no progress for 30 s); daemon metrics ${JSON.stringify(m)}; daemon log tail: ${d.child.tail().slice(-1500)}`;
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
