/**
 * The delivery engine's behaviour suite (test/helpers/engine-suite.ts) on the in-memory and the
 * local SQLite backends; test/integration/kafka/engine.test.ts runs the same cases on Kafka.
 */
import t from 'tap';
import pino from 'pino';
import { Type } from '@sinclair/typebox';
import { DeliveryEngine } from '../../../src/delivery/engine.js';
import { SinkRunner } from '../../../src/sink/runner.js';
import { defineSink, FatalError } from '../../../src/sink/api.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import { sinkConfig } from '../../helpers/sink-config.js';
import { DurableQueue } from '../../../src/queue/index.js';
import { LocalQueueBackend } from '../../../src/queue/local/backend.js';
import { acquireQueueLock } from '../../../src/queue/lock.js';
import { MemoryQueue } from '../../../src/queue/memory.js';
import { engineSuite, type EngineHarness } from '../../helpers/engine-suite.js';
import { tempDir, waitFor } from '../../helpers/daemon.js';

t.test('memory backend', async (t) => {
  engineSuite(t, async (): Promise<EngineHarness> => {
    const queue = new MemoryQueue();
    return {
      queue,
      remaining: async () => queue.size,
      deadLetters: async (sink) => queue.deadLetters.filter((d) => d.sink === sink).map((d) => ({ eventId: d.eventId, errorCode: d.code, error: d.error, attempts: d.attempts })),
      readsInFlight: () => 0,
      close: () => queue.close(),
    };
  });
});

t.test('local (SQLite) backend', async (t) => {
  engineSuite(t, async (): Promise<EngineHarness> => {
    const dir = tempDir();
    const store = await DurableQueue.open({ dir, max_bytes: 1e9, max_events: 1e7, max_wait_ms: 0, max_batch_events: 2048, min_free_bytes: 0 });
    // Reads of the queue in flight (the source's fill loop awaits them): 0 in a macrotask means
    // no fill is reading, so the window can only change through a new commit or poll.
    let reads = 0;
    const read = store.read.bind(store);
    store.read = (...args) => {
      reads++;
      return read(...args).finally(() => reads--);
    };
    const queue = new LocalQueueBackend(store, acquireQueueLock(dir));
    return {
      queue,
      remaining: async () => store.events,
      deadLetters: (sink) => store.listDeadLetters({ sink }),
      readsInFlight: () => reads,
      close: () => queue.close(),
    };
  });
});

t.test('a dead letter the queue refuses is tried again; the conversation waits and nothing is counted twice', async (t) => {
  const queue = new MemoryQueue();
  queue.refuseDeadLetters = 2;
  const delivered: string[] = [];
  const plugin = defineSink({
    type: 'test',
    apiVersion: '1',
    configSchema: Type.Object({}),
    create: () => ({
      async connect() {},
      async writeBatch(events) {
        if (events.some((e) => e.id === 'e0')) throw new FatalError('refused', { code: 'BAD' });
        for (const e of events) delivered.push(e.id);
      },
      async close() {},
    }),
  });
  const logger = pino({ level: 'silent' });
  const metrics = new Metrics({ processMetrics: false });
  const engine = new DeliveryEngine(queue.source('test'), new SinkRunner('test', plugin, sinkConfig({ batch: { max_events: 1, max_bytes: 1e6, max_wait_ms: 0 } }), logger, metrics, '/tmp'), logger, metrics);
  engine.start();
  t.teardown(() => engine.stop(Date.now() + 2000));
  for (let i = 0; i < 3; i++) await queue.append({ id: `e${i}`, subject: 'group/one', body: JSON.stringify({ id: `e${i}` }), sinks: ['test'] });
  const stats = await waitFor(() => engine.stats(), (s) => s.deadLettered + s.delivered === 3, 30_000);
  t.equal(stats.deadLettered, 1, 'e0 counted once, after the third try stored it');
  t.equal(queue.refuseDeadLetters, 0, 'both refusals were met');
  t.equal(queue.deadLetters.length, 1);
  t.same(delivered, ['e1', 'e2'], 'the conversation waited for e0 to be stored, then went on in order');
  t.equal(queue.size, 0);
});
