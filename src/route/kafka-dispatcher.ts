/**
 * queue.type: kafka — the delivery engine of one sink: one consumer in the consumer group
 * `<group_prefix>.<sink>` per instance, so that across all instances every event reaches the sink
 * once (at-least-once: redelivery after a crash or rebalance keeps the event id).
 *
 * - Each partition is processed sequentially (a conversation lives in one partition): chunks of
 *   `batch.max_events` / `batch.max_bytes` go to the SinkRunner one after the other; up to
 *   `max_in_flight` partitions are processed concurrently.
 * - Offsets are resolved (and committed) only after every event up to them was delivered or
 *   dead-lettered. A crash before the commit means redelivery with the same ids.
 * - Same retry and dead-letter rules as the local engine (src/route/dispatcher.ts): retriable →
 *   the same events again, in order, with backoff (a sink's retry-after honoured) until
 *   `retry.max_attempts`, then dead-letter; fatal → dead-letter; partial → delivered ones done,
 *   fatal items dead-lettered, retriable ones retried in order. A dead letter that cannot be
 *   written is retried (the offset is not committed past it).
 * - Events whose `im_sinks` header does not name this sink are skipped (routing was decided at
 *   ingest).
 * - When the partition is taken away (rebalance), work on it stops at the next step; the new
 *   owner starts at the last committed offset.
 */
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { CanonicalEvent, ItemFailure } from '../sink/api.js';
import { rememberEventJson } from '../sink/event-json.js';
import type { SinkRunner } from '../sink/runner.js';
import type { Metrics } from '../telemetry/metrics.js';
import { backoffDelay, sleep } from '../sink/backoff.js';
import type { DispatcherStats } from './dispatcher.js';
import { HEADER_ID, HEADER_SINKS, HEADER_SUBJECT, type KafkaQueue } from '../queue/kafka/index.js';

interface Item {
  offset: string;
  id: string;
  subject: string;
  body: string;
  event: CanonicalEvent | undefined;
  attempts: number;
  lastCode?: string;
  lastError?: string;
}

const HEARTBEAT_SLICE_MS = 1000;

export class KafkaSinkDispatcher {
  private consumer: Consumer | undefined;
  private readonly abort = new AbortController();
  private inFlight = 0;
  private waitingRetry = 0;
  private starting: Promise<void> | undefined;
  readonly counters = { delivered: 0, deadLettered: 0, retried: 0, examined: 0, fills: 0 };

  constructor(
    private readonly queue: KafkaQueue,
    private readonly runner: SinkRunner,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  get name(): string {
    return this.runner.name;
  }

  get groupId(): string {
    return `${this.queue.config.group_prefix}.${this.name}`;
  }

  start(): void {
    this.starting = (async () => {
      await this.runner.connect();
      while (!this.abort.signal.aborted) {
        try {
          await this.run();
          return;
        } catch (error) {
          this.logger.error({ code: 'KAFKA_CONSUMER_START_FAILED', err: (error as Error).message, group: this.groupId }, `sink ${this.name}: cannot start the kafka consumer; retrying`);
          await this.consumer?.disconnect().catch(() => undefined);
          this.consumer = undefined;
          await sleep(2000, this.abort.signal);
        }
      }
    })();
  }

  /** Local-queue notification; the kafka consumer needs none. */
  onCommitted(): void {}

  stats(): DispatcherStats {
    return { inFlight: this.inFlight, window: 0, waitingRetry: this.waitingRetry, ...this.counters };
  }

  /** Leaves the group (the partitions move to the other instances), then closes the sink. */
  async stop(deadlineMs: number): Promise<void> {
    this.abort.abort();
    const consumer = this.consumer;
    if (consumer) {
      const timeout = new Promise<void>((r) => setTimeout(r, Math.max(100, deadlineMs - Date.now())).unref());
      await Promise.race([consumer.disconnect().catch(() => undefined), timeout]);
    }
    await this.starting?.catch(() => undefined);
    await this.runner.close(Math.max(1000, deadlineMs - Date.now()));
  }

  private async run(): Promise<void> {
    const cfg = this.queue.config;
    const consumer = this.queue.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: cfg.session_timeout_ms,
      heartbeatInterval: Math.max(500, Math.floor(cfg.session_timeout_ms / 10)),
      rebalanceTimeout: Math.max(60_000, cfg.session_timeout_ms * 2),
      maxWaitTimeInMs: 250,
      maxBytesPerPartition: Math.max(1024 * 1024, this.runner.config.batch.max_bytes),
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: cfg.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      autoCommitInterval: 1000,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.runner.config.max_in_flight,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.logger.info({ code: 'KAFKA_CONSUMER_STARTED', group: this.groupId, topic: cfg.topic }, `sink ${this.name}: consuming ${cfg.topic} as ${this.groupId}`);
  }

  private alive(payload: EachBatchPayload): boolean {
    return !this.abort.signal.aborted && payload.isRunning() && !payload.isStale();
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { max_events, max_bytes } = this.runner.config.batch;
    let chunk: Item[] = [];
    let chunkBytes = 0;
    let lastOffset: string | undefined;
    const flush = async (): Promise<boolean> => {
      if (chunk.length > 0) {
        if (!(await this.deliver(chunk, payload))) return false;
      }
      chunk = [];
      chunkBytes = 0;
      if (lastOffset !== undefined && this.alive(payload)) {
        payload.resolveOffset(lastOffset);
        await payload.commitOffsetsIfNecessary().catch(() => undefined);
        await payload.heartbeat().catch(() => undefined);
      }
      return this.alive(payload);
    };
    for (const message of batch.messages) {
      if (!this.alive(payload)) return;
      const item = this.itemOf(message);
      if (item) {
        if (chunk.length > 0 && (chunk.length >= max_events || chunkBytes + item.body.length > max_bytes)) {
          if (!(await flush())) return;
        }
        chunk.push(item);
        chunkBytes += item.body.length;
      }
      lastOffset = message.offset;
    }
    await flush();
  }

  private itemOf(message: KafkaMessage): Item | undefined {
    const sinks = header(message, HEADER_SINKS);
    if (sinks === undefined || !sinks.split(',').includes(this.name)) return undefined;
    return {
      offset: message.offset,
      id: header(message, HEADER_ID) ?? '',
      subject: header(message, HEADER_SUBJECT) ?? message.key?.toString() ?? '',
      body: message.value?.toString() ?? '',
      event: undefined,
      attempts: 0,
    };
  }

  /** Delivers or dead-letters every item, in order. False when the partition was lost meanwhile. */
  private async deliver(items: Item[], payload: EachBatchPayload): Promise<boolean> {
    const { max_attempts, initial_backoff_ms, max_backoff_ms } = this.runner.config.retry;
    let pending = items;
    const corrupt: Item[] = [];
    pending = pending.filter((item) => {
      try {
        item.event = JSON.parse(item.body) as CanonicalEvent;
        rememberEventJson(item.event, item.body);
        return true;
      } catch (error) {
        item.lastCode = 'EVENT_CORRUPT';
        item.lastError = `stored event is not valid JSON: ${(error as Error).message}`;
        corrupt.push(item);
        return false;
      }
    });
    if (!(await this.deadLetter(corrupt, payload))) return false;
    while (pending.length > 0) {
      if (!this.alive(payload)) return false;
      this.metrics.batchSize.observe({ sink: this.name }, pending.length);
      this.inFlight++;
      let outcome;
      try {
        outcome = await this.runner.write(pending.map((i) => i.event!));
      } finally {
        this.inFlight--;
      }
      let retry: Item[] = [];
      let retryAfterMs = 0;
      let code = '';
      let message = '';
      switch (outcome.kind) {
        case 'ok':
          this.delivered(pending);
          break;
        case 'fatal':
          for (const item of pending) {
            item.attempts++;
            item.lastCode = outcome.code;
            item.lastError = outcome.message;
          }
          if (!(await this.deadLetter(pending, payload))) return false;
          break;
        case 'retry':
          for (const item of pending) {
            item.attempts++;
            item.lastCode = outcome.code;
            item.lastError = outcome.message;
          }
          retry = pending;
          retryAfterMs = outcome.retryAfterMs ?? 0;
          code = outcome.code;
          message = outcome.message;
          break;
        case 'partial': {
          const byIndex = new Map<number, ItemFailure>();
          for (const f of outcome.failures) byIndex.set(f.index, f);
          const delivered: Item[] = [];
          const fatal: Item[] = [];
          pending.forEach((item, index) => {
            const failure = byIndex.get(index);
            if (!failure) return delivered.push(item);
            item.attempts++;
            item.lastCode = failure.code;
            item.lastError = failure.message;
            if (!failure.retriable) return fatal.push(item);
            retryAfterMs = Math.max(retryAfterMs, failure.retryAfterMs ?? 0);
            retry.push(item);
          });
          this.delivered(delivered);
          if (!(await this.deadLetter(fatal, payload))) return false;
          if (retry.length > 0) {
            code = retry[0]!.lastCode!;
            message = retry[0]!.lastError!;
          }
          break;
        }
      }
      if (retry.length === 0) return true;
      const exhausted = retry.filter((i) => i.attempts >= max_attempts);
      for (const item of exhausted) item.lastCode = `RETRIES_EXHAUSTED:${item.lastCode}`;
      if (!(await this.deadLetter(exhausted, payload))) return false;
      pending = retry.filter((i) => i.attempts < max_attempts);
      if (pending.length === 0) return true;
      this.metrics.retried.inc({ sink: this.name, code }, pending.length);
      this.counters.retried += pending.length;
      const attempts = pending[0]!.attempts;
      const delay = Math.max(retryAfterMs, backoffDelay(attempts, initial_backoff_ms, max_backoff_ms));
      this.logger.warn(
        { code: 'SINK_WRITE_RETRY', errorCode: code, err: message, events: pending.length, attempt: attempts, retryInMs: delay, partition: payload.batch.partition },
        `sink ${this.name}: ${pending.length} event(s) failed (${code}); retry ${attempts + 1}/${max_attempts} in ${delay} ms`,
      );
      this.waitingRetry += pending.length;
      try {
        if (!(await this.wait(delay, payload))) return false;
      } finally {
        this.waitingRetry -= pending.length;
      }
    }
    return true;
  }

  /** Sleeps while heartbeating (so a long backoff does not cost the partition). */
  private async wait(ms: number, payload: EachBatchPayload): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!this.alive(payload)) return false;
      await sleep(Math.min(HEARTBEAT_SLICE_MS, until - Date.now()), this.abort.signal);
      await payload.heartbeat().catch(() => undefined);
    }
    return this.alive(payload);
  }

  private delivered(items: Item[]): void {
    if (items.length === 0) return;
    this.counters.delivered += items.length;
    this.metrics.delivered.inc({ sink: this.name }, items.length);
  }

  /** Writes the dead letters to the DLQ topic, retrying until Kafka has them or the partition is lost. */
  private async deadLetter(items: Item[], payload: EachBatchPayload): Promise<boolean> {
    if (items.length === 0) return true;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.queue.deadLetter(
          items.map((i) => ({ sink: this.name, id: i.id, subject: i.subject, body: i.body, code: i.lastCode ?? 'UNKNOWN', error: i.lastError ?? '', attempts: i.attempts })),
        );
        break;
      } catch (error) {
        this.logger.error({ code: 'QUEUE_DEAD_LETTER_FAILED', err: (error as Error).message, events: items.length }, `cannot dead-letter for sink ${this.name}; retrying`);
        if (!(await this.wait(backoffDelay(attempt, 200, 10_000), payload))) return false;
      }
    }
    for (const item of items) {
      this.metrics.deadLettered.inc({ sink: this.name, code: item.lastCode ?? 'UNKNOWN' });
      this.logger.error(
        { code: 'EVENT_DEAD_LETTERED', eventId: item.id, subject: item.subject, errorCode: item.lastCode, err: item.lastError, attempts: item.attempts },
        `sink ${this.name}: event ${item.id} dead-lettered (${item.lastCode})`,
      );
    }
    this.counters.deadLettered += items.length;
    return true;
  }
}

function header(message: KafkaMessage, name: string): string | undefined {
  const value = message.headers?.[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value[0] : value)?.toString();
}
