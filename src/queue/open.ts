/**
 * The only place that picks a queue backend by `queue.type`. Everything else sees a QueueBackend
 * (src/queue/queue.ts). The in-memory backend (src/queue/memory.ts) is built directly by tests.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { BridgeConfig } from '../config/schema.js';
import { DurableQueue } from './index.js';
import { KafkaQueue } from './kafka/index.js';
import { LocalQueueBackend } from './local/backend.js';
import { acquireQueueLock } from './lock.js';
import type { QueueBackend } from './queue.js';

export async function openQueue(config: BridgeConfig, logger: Logger): Promise<QueueBackend> {
  const queue = config.queue;
  switch (queue.type) {
    case 'kafka': {
      // The config loader refuses queue.type: kafka without its block (CONFIG_MISSING_KEY).
      const kafka = queue.kafka!;
      const backend = await KafkaQueue.open(kafka, logger, config.dir);
      logger.info({ code: 'QUEUE_OPENED', type: 'kafka', topic: kafka.topic, brokers: kafka.brokers }, `queue: kafka topic ${kafka.topic}`);
      return backend;
    }
    default: {
      const dir = path.resolve(config.dir, queue.dir);
      // Held for the life of the daemon (src/queue/lock.ts): a second daemon on the same dir is refused.
      const lock = acquireQueueLock(dir);
      try {
        // Readiness headroom: one more callback of the largest accepted size must fit (a quarter of
        // the queue at most, so that a small queue can be ready at all).
        const headroom = Math.min(config.listen.body_limit_bytes, Math.floor(queue.max_bytes / 4));
        const store = await DurableQueue.open({ ...queue, dir, headroom_bytes: headroom });
        const recovery = store.recovery;
        logger.info(
          { code: 'QUEUE_OPENED', type: 'local', dir, events: recovery.events, bytes: recovery.bytes, cleanShutdown: recovery.cleanShutdown, integrity: recovery.integrity },
          `queue opened with ${recovery.events} pending event(s)`,
        );
        if (recovery.integrity === 'recovered-fresh') logger.error({ code: 'QUEUE_CORRUPT_RECOVERED', detail: recovery.detail }, 'queue database was corrupt; moved aside and started fresh');
        return new LocalQueueBackend(store, lock);
      } catch (error) {
        lock.release();
        throw error;
      }
    }
  }
}
