// Case 5t — case 5 with the sink's host key `thread: true` (kafkajs in a worker thread); info only.
import { kafkaCase } from './5-kafka.js';

export default {
  id: '5t',
  title: 'im-bridge → kafka sink (thread: true) → Kafka (end to end)',
  needs: ['daemon', 'kafka'],
  run: (ctx) => kafkaCase(ctx, { thread: true }),
};
