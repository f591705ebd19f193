// Case 3 — naive broker: node:http, per request await kafkajs producer.send(acks all), child process
// (bench/lib/servers/naive-kafka.js, the one naive Kafka baseline; bench/sinks/kafka.js uses it too).
import { BROKERS, brokerPid, createTopic } from '../lib/kafka.js';
import { runLoad, startPlainServer, summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';

export default {
  id: '3',
  title: 'naive broker: node:http + await producer.send(acks all) per request',
  needs: ['kafka'],
  async run(ctx) {
    const topic = `bench-naive-${ctx.runId}${ctx.suffix}`;
    await createTopic(topic);
    const { port, child } = await startPlainServer('naive-kafka.js', [BROKERS.join(','), topic]);
    try {
      const broker = brokerPid();
      const r = await runLoad({ port, serverPid: child.pid, extraPids: broker ? { kafka_broker: broker } : {} });
      return summarizeCase('3', this.title, r, { events_per_s: r.load.requests_per_s, topic });
    } finally {
      await stopChild(child);
    }
  },
};
