/**
 * queue.type: kafka — the ingest queue is a shared Kafka topic (docs/scale-out.md).
 *
 * INVARIANTS
 * 1. `append` resolves (ingest answers 200) only after Kafka acknowledged the record with
 *    acks=all from an idempotent producer. A failed produce rejects every append of its request
 *    with QueueUnavailableError (ingest answers 503): never a 200 for an event Kafka does not have.
 * 2. Group commit: appends arriving while a produce is in flight are gathered and sent together
 *    (one request for many callbacks); an idle producer sends after `max_wait_ms`. One produce at
 *    a time, so records of one instance keep their acknowledgement order.
 * 3. Record = the canonical event JSON; key = subject (one conversation → one partition → one
 *    order); headers ce_id (deterministic id, for dedup), ce_subject, im_sinks (the routed sinks,
 *    comma-separated, decided at ingest).
 * 4. Unmatched events (no sink) go to the dead-letter topic with code ROUTE_UNMATCHED, in the same
 *    produce request. Dead letters of the delivery workers and quarantined requests use the same
 *    producer pipeline.
 * 5. After a failed produce the producer is replaced (new producer id): kafkajs may have advanced
 *    or reverted sequence numbers in ways that would make the broker drop later records as
 *    duplicates. At-least-once, never silently lost.
 */
import type { Admin, IHeaders, Kafka, Message, Producer } from 'kafkajs';
import { createKafkaClient } from '../../kafka/client.js';
import type { Logger } from 'pino';
import { kafkaSaslOptions, kafkaTlsOptions } from '../../kafka/security.js';
import type { AppendRecord, QuarantineInput } from '../store.js';
import { QueueUnavailableError, type DeliverySource, type QueueBackend, type QueueHealth, type QueueReadiness, type SourceContext } from '../queue.js';
import { KafkaSource } from './source.js';
import type { CanonicalEvent } from '../../normalize/event.js';
import type { QueueConfig } from '../../config/schema.js';

export type KafkaQueueConfig = NonNullable<QueueConfig['kafka']>;

export const HEADER_ID = 'ce_id';
export const HEADER_SUBJECT = 'ce_subject';
export const HEADER_SINKS = 'im_sinks';

export interface DeadLetterRecord {
  sink: string;
  id: string;
  subject: string;
  body: string;
  code: string;
  error: string;
  attempts: number;
}

interface PendingProduce {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (error: Error) => void;
}

const CLIENT_RETRY = { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 };

/** configDir: where relative TLS file paths (queue.kafka.tls.*_file) resolve, i.e. bridge.yaml's directory. */
export function kafkaClient(config: KafkaQueueConfig, logger: Logger, configDir: string): Kafka {
  return createKafkaClient({
    clientId: config.client_id,
    brokers: config.brokers,
    ssl: kafkaTlsOptions(config.tls, configDir),
    sasl: kafkaSaslOptions(config.sasl),
    connectionTimeout: config.connection_timeout_ms,
    requestTimeout: config.request_timeout_ms,
    retry: CLIENT_RETRY,
    logger,
  });
}

export class KafkaQueue implements QueueBackend {
  readonly type = 'kafka';
  /** Shared by several instances: no instance has state of its own, or sees every callback. */
  readonly stateDir = undefined;
  readonly quarantineEvicted = 0;
  readonly kafka: Kafka;
  private producer: Producer | undefined;
  private producerConnecting: Promise<Producer> | undefined;
  private batch: PendingProduce[] = [];
  private sending = false;
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private closed = false;
  private lastWriteError: string | undefined;
  /** Produce requests acknowledged since start. */
  committedBatches = 0;
  committedEvents = 0;

  private constructor(
    readonly config: KafkaQueueConfig,
    private readonly logger: Logger,
    configDir: string,
  ) {
    this.kafka = kafkaClient(config, logger, configDir);
  }

  /** Connects, creates the event and dead-letter topics when missing, and starts the producer. */
  static async open(config: KafkaQueueConfig, logger: Logger, configDir: string): Promise<KafkaQueue> {
    const queue = new KafkaQueue(config, logger, configDir);
    await queue.ensureTopics();
    await queue.ensureProducer();
    return queue;
  }

  health(): QueueHealth {
    if (this.closed) return { writable: false, reason: 'the queue is closed (shutting down)', code: 'QUEUE_CLOSED' };
    if (this.lastWriteError) return { writable: false, reason: this.lastWriteError, code: 'QUEUE_WRITE_FAILED' };
    return { writable: true };
  }

  source(sink: string, context: SourceContext): DeliverySource {
    return new KafkaSource(this, sink, context);
  }

  /** Kafka holds the backlog: what is stored is its consumer lag, not ours to count. */
  readiness(): QueueReadiness {
    return { ...this.health(), events: 0, bytes: 0 };
  }

  async stats(): Promise<undefined> {
    return undefined;
  }

  /** Resolves once Kafka acknowledged the record (acks=all). The value is 1 (0 for an unmatched event). */
  append(record: AppendRecord, _event?: CanonicalEvent): Promise<number> {
    if (this.closed) return Promise.reject(new QueueUnavailableError('QUEUE_CLOSED', 'the queue is closed (shutting down)'));
    const headers: IHeaders = { [HEADER_ID]: record.id, [HEADER_SUBJECT]: record.subject, [HEADER_SINKS]: record.sinks.join(',') };
    if (record.sinks.length === 0) {
      Object.assign(headers, { sink: '', code: 'ROUTE_UNMATCHED', error: 'no route matched', attempts: '0', kind: 'unmatched' });
      return this.produce(this.config.dead_letter_topic, { key: record.subject, value: record.body, headers }).then(() => 0);
    }
    return this.produce(this.config.topic, { key: record.subject, value: record.body, headers }).then(() => 1);
  }

  /** Dead letters of a delivery worker; resolves once Kafka has them. */
  deadLetter(items: readonly DeadLetterRecord[]): Promise<void> {
    return Promise.all(
      items.map((item) =>
        this.produce(this.config.dead_letter_topic, {
          key: item.subject,
          value: item.body,
          headers: {
            [HEADER_ID]: item.id,
            [HEADER_SUBJECT]: item.subject,
            kind: 'event',
            sink: item.sink,
            code: item.code,
            error: item.error.slice(0, 4096),
            attempts: String(item.attempts),
            failed_ms: String(Date.now()),
          },
        }),
      ),
    ).then(() => undefined);
  }

  /** Authenticated requests that failed to parse or validate (the Quarantine of the local queue). */
  quarantine(input: QuarantineInput): Promise<number> {
    return this.produce(this.config.dead_letter_topic, {
      key: null,
      value: JSON.stringify(input.request),
      headers: { kind: 'request', sink: '', code: input.code, error: input.reason.slice(0, 4096), attempts: '0', failed_ms: String(Date.now()) },
    }).then(() => 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.batch.length > 0 || this.sending) {
      if (!this.sending) this.flush();
      await new Promise((r) => setTimeout(r, 2));
    }
    await this.producer?.disconnect().catch(() => undefined);
  }

  private produce(topic: string, message: Message): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ topic, message, resolve, reject });
      if (this.batch.length >= this.config.max_batch_events && !this.sending) this.flush();
      else this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.sending) return;
    this.flushTimer = this.config.max_wait_ms > 0 ? setTimeout(() => this.flush(), this.config.max_wait_ms) : setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer as NodeJS.Timeout);
      clearImmediate(this.flushTimer as NodeJS.Immediate);
      this.flushTimer = undefined;
    }
    if (this.sending || this.batch.length === 0) return;
    const taken = this.batch.splice(0, this.config.max_batch_events);
    this.sending = true;
    void this.send(taken).finally(() => {
      this.sending = false;
      if (this.batch.length > 0) this.flush();
    });
  }

  private async send(taken: PendingProduce[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const p of taken) {
      let list = byTopic.get(p.topic);
      if (!list) byTopic.set(p.topic, (list = []));
      list.push(p.message);
    }
    try {
      const producer = await this.ensureProducer();
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      this.committedBatches++;
      this.committedEvents += taken.length;
      if (this.lastWriteError) this.logger.info({ code: 'KAFKA_QUEUE_RECOVERED' }, 'kafka queue writable again');
      this.lastWriteError = undefined;
      for (const p of taken) p.resolve();
    } catch (error) {
      const e = error as Error;
      this.lastWriteError = `kafka produce failed: ${e.name}: ${e.message}`;
      this.logger.error({ code: 'KAFKA_QUEUE_WRITE_FAILED', err: e.message, events: taken.length }, 'kafka refused a produce; answering 503 for its events');
      const refusal = new QueueUnavailableError('QUEUE_WRITE_FAILED', this.lastWriteError);
      for (const p of taken) p.reject(refusal);
      this.replaceProducer();
    }
  }

  private replaceProducer(): void {
    const old = this.producer;
    this.producer = undefined;
    this.producerConnecting = undefined;
    void old?.disconnect().catch(() => undefined);
  }

  private ensureProducer(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.producerConnecting ??= (async () => {
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: CLIENT_RETRY });
      try {
        await producer.connect();
      } catch (error) {
        this.producerConnecting = undefined;
        throw error;
      }
      this.producer = producer;
      return producer;
    })();
    return this.producerConnecting;
  }

  private async ensureTopics(): Promise<void> {
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const wanted = [this.config.topic, this.config.dead_letter_topic].filter((t) => !existing.has(t));
      if (wanted.length > 0) {
        await admin
          .createTopics({
            waitForLeaders: true,
            topics: wanted.map((topic) => ({ topic, numPartitions: this.config.partitions, replicationFactor: this.config.replication_factor })),
          })
          .catch((error: Error & { type?: string }) => {
            // Another instance created it at the same moment.
            if (error.type !== 'TOPIC_ALREADY_EXISTS' && !/already exists/i.test(error.message)) throw error;
          });
        this.logger.info({ code: 'KAFKA_TOPICS_CREATED', topics: wanted, partitions: this.config.partitions }, `created kafka topic(s) ${wanted.join(', ')}`);
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
