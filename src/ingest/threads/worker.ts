/**
 * An ingest thread after the first (listen.threads): its own HTTP server on the main thread's port
 * (SO_REUSEPORT) and its own handler — auth, validation, normalization, serialization — with the
 * same code as the main thread's. What is shared lives on the main thread and is reached by
 * message: the queue (appends, quarantine), gap detection, readiness, the merged /metrics, and the
 * log (lines are written by the main thread's logger, so every line has one destination and format).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CanonicalEvent } from '../../normalize/event.js';
import { QueueUnavailableError, type IngestQueue } from '../../queue/queue.js';
import type { AppendRecord, QuarantineInput } from '../../queue/store.js';
import { createLogger } from '../../telemetry/logger.js';
import { Metrics } from '../../telemetry/metrics.js';
import { createCallbackHandler, handlerSettings, rateLimiterFor } from '../from-config.js';
import type { QuarantineStore } from '../quarantine.js';
import { IngestServer, type ReadinessReport } from '../server.js';
import { Calls, answer, errorOf, type ReplyMessage } from './calls.js';
import type { AppendResult, IngestThreadData, ObservedEvent, ToMain, ToThread } from './protocol.js';

const port = parentPort!;
const { thread, config, port: joinPort, gaps } = workerData as IngestThreadData;
const post = (message: ToMain): void => port.postMessage(message);
const calls = new Calls(post as (m: unknown) => void);

/** Appends go to the main thread's queue in one message per event-loop turn. */
class MainThreadQueue implements IngestQueue, QuarantineStore {
  private batch: Array<{ id: number; record: AppendRecord }> = [];
  private readonly waiting = new Map<number, { resolve: (seq: number) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  append(record: AppendRecord): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      if (this.batch.push({ id, record }) === 1) setImmediate(() => this.flush());
    });
  }

  settle(results: AppendResult[]): void {
    for (const r of results) {
      const call = this.waiting.get(r.id);
      if (!call) continue;
      this.waiting.delete(r.id);
      if ('seq' in r) call.resolve(r.seq);
      else call.reject(r.unavailable ? new QueueUnavailableError(r.code as ConstructorParameters<typeof QueueUnavailableError>[0], r.message) : Object.assign(new Error(r.message), { code: r.code }));
    }
  }

  quarantine(input: QuarantineInput): Promise<number> {
    return calls.call<number>('quarantine', { input });
  }

  health(): { writable: true } {
    // Refusals come from the main thread's queue, per append.
    return { writable: true };
  }

  async close(): Promise<void> {}

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    post({ t: 'append', batch });
  }
}

/** Accepted events for gap detection, batched like appends. */
class MainThreadGaps {
  private events: ObservedEvent[] = [];

  observe(event: CanonicalEvent): void {
    const { conversation, seq } = event.data;
    const observed: ObservedEvent = {
      imcommand: event.imcommand,
      imsdkappid: event.imsdkappid,
      data: { conversation: { kind: conversation.kind, groupId: conversation.groupId, topicId: conversation.topicId, groupType: conversation.groupType }, seq },
    };
    if (this.events.push(observed) === 1) {
      setImmediate(() => {
        const events = this.events;
        this.events = [];
        post({ t: 'observe', events });
      });
    }
  }
}

const queue = new MainThreadQueue();
// JSON lines to the main thread, which writes them with its own logger (destination, format).
const logger = createLogger(config.log.level, { write: (line: string) => post({ t: 'log', line }) }, 'json');
const metrics = new Metrics({ processMetrics: false });
const handler = createCallbackHandler(config, { queue, metrics, logger, gaps: gaps ? new MainThreadGaps() : undefined });
const server = new IngestServer({
  listen: { ...config.listen, admin: undefined },
  handler,
  metrics,
  logger,
  readiness: () => calls.call<ReadinessReport>('readiness'),
  renderMetrics: () => calls.call<string>('metrics'),
  bodyTimeoutMs: config.listen.body_timeout_ms,
  rateLimiter: rateLimiterFor(config),
  thread,
  joinPort,
});

port.on('message', (message: ToThread) => {
  switch (message.t) {
    case 'appended':
      queue.settle(message.results);
      return;
    case 'reply':
      calls.settle(message as ReplyMessage);
      return;
    case 'update':
      handler.update(handlerSettings(message.config));
      logger.level = message.config.log.level;
      return;
    case 'call':
      if (message.op === 'tls') answer(post as (m: unknown) => void, message.id, () => server.reloadTls(message.tls));
      else if (message.op === 'metricsJson') answer(post as (m: unknown) => void, message.id, () => metrics.registry.getMetricsAsJSON());
      else if (message.op === 'drain') {
        answer(post as (m: unknown) => void, message.id, async () => {
          handler.stopAccepting();
          server.markDraining();
          await server.stop(message.deadlineMs);
          server.closeConnections();
          // Nothing of uWS is left: the thread ends by itself once its port closes (a terminate()
          // while uWS holds sockets aborts the whole process).
          setImmediate(() => port.close());
        });
      }
      return;
  }
});

server.start().then(
  () => post({ t: 'ready' }),
  (error: unknown) => {
    post({ t: 'failed', error: errorOf(error) });
    process.exit(1);
  },
);
