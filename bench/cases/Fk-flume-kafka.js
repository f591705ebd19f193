// Case Fk — Apache Flume 1.11: HTTPSource → FileChannel → KafkaSink (acks=all, idempotent, as
// im-bridge produces), same payload mix and load as case 5. events/s = records in the topic.
import fs from 'node:fs';
import path from 'node:path';
import { startFlume } from '../peers/flume/flume.js';
import { BROKERS, brokerPid, createTopic } from '../lib/kafka.js';
import { loadIntoTopic } from '../lib/end-to-end.js';
import { summarizeCase } from '../lib/load.js';
import { freePort } from '../lib/util.js';
import { FLUME_WARMUP_S } from './F-flume-file.js';

export default {
  id: 'Fk',
  title: 'Apache Flume 1.11: HTTPSource → FileChannel → Kafka sink',
  needs: ['java', 'kafka'],
  async run(ctx) {
    const topic = `bench-flume-${ctx.runId}${ctx.suffix}`;
    await createTopic(topic);
    const dir = path.join(ctx.tmp, `flume-kafka${ctx.suffix}`);
    const flume = await startFlume({ port: await freePort(), dir, sink: 'kafka', brokers: BROKERS.join(','), topic });
    try {
      const broker = brokerPid();
      const { r, complete, fields } = await loadIntoTopic(topic, { port: Number(new URL(flume.url).port), serverPid: flume.pid, warmup: FLUME_WARMUP_S, extraPids: broker ? { kafka_broker: broker } : {} });
      const s = summarizeCase('Fk', this.title, r, { ...fields, java_warmup_s: FLUME_WARMUP_S });
      if (!complete) Object.assign(s, { unavailable: true, reason: `only ${fields.events_in_topic} of ${fields.events_acked_total} acknowledged events reached the topic (no progress for 30 s)` });
      return s;
    } finally {
      await flume.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
