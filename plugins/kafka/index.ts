/**
 * kafka sink: canonical events as Kafka records (CloudEvents Kafka binding, structured or binary),
 * through one kafkajs producer (idempotent by default, acks=all).
 *
 * - Batches the host runs in parallel are merged: while one produce is in flight, the next
 *   writeBatch calls queue up and go out together (one flush at a time). The host never puts one
 *   subject in two in-flight batches, so merging keeps each conversation in queue order; records
 *   keep array order within a flush, and the key (the subject by default) keeps a conversation in
 *   one partition.
 * - A flush is cut into produce requests of at most `max_request_bytes`, sent in order; a failed
 *   request stops the flush, so no record of a conversation overtakes an earlier one that failed.
 * - Everything that can be decided before sending is: templates render (any exception is that
 *   event's), topic template → legal name, record size, topic existence (metadata, cached for
 *   metadata_max_age_ms; created when create_topics is on, only within create_topics_pattern and
 *   max_topics: topic-policy.ts). Such failures are per event (PartialBatchError), fatal, and never
 *   block the rest of the batch: one poison event fails alone.
 * - kafkajs reverts a request's sequence numbers for every partition when any partition of it
 *   failed, although the others may have been written; reusing them could make the broker drop
 *   later, different records as "duplicates". So after any failed multi-partition or unanswered
 *   request the producer is replaced (new producer id): at-least-once, never silently lost.
 * - A broker MESSAGE_TOO_LARGE (the topic's limit below max_message_bytes) is isolated by
 *   re-sending the request's records one by one: only the oversized ones are dead-lettered.
 */
import type { ConnectionOptions } from 'node:tls';
// First, before kafkajs: it loads src/kafka/fast-encoding.ts, which must swap kafkajs's protocol
// modules before they run.
import { createKafkaClient, KafkaConfigError, kafkaSaslOptions, kafkaTlsOptions } from '../../src/kafka/index.js';
import { CompressionTypes, Partitioners, type Admin, type Kafka, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import {
  compileTemplate,
  defineSink,
  FatalError,
  PartialBatchError,
  RefusalLog,
  RetriableError,
  throwIfInvalid,
  type CanonicalEvent,
  type CompiledTemplate,
  type ConfigProblem,
  type ItemFailure,
  type Sink,
  type SinkContext,
} from '../../src/sink/api.js';
import { describeKafkaError, type KafkaErrorInfo } from './errors.js';
import { encodeRecord, isLegalTopic } from './records.js';
import { configSchema, type KafkaSinkConfig } from './schema.js';
import { defaultCreatePattern, TopicCreationPolicy } from './topic-policy.js';

export { configSchema, type KafkaSinkConfig } from './schema.js';

/** One record waiting in a flush, with the slot its outcome is written to. */
interface PendingRecord {
  job: Job;
  index: number;
  topic: string;
  message: Message;
  bytes: number;
  /** Delivered or failed (its failure is in job.failures). */
  settled: boolean;
}

interface Job {
  records: PendingRecord[];
  failures: ItemFailure[];
  delivered: number;
  signal: AbortSignal;
  done: () => void;
}

/** What the flush learnt about one topic; `refused`: a missing topic that create_topics may not create. */
type TopicState = { ok: true } | { ok: false; failure: Omit<ItemFailure, 'index'>; refused?: boolean };

/** One event made ready to send, or why it cannot be. */
type Prepared = { topic: string; message: Message; bytes: number } | { failure: Omit<ItemFailure, 'index'> };

/** Default of max_topics when a config was not completed with the schema defaults. */
const DEFAULT_MAX_TOPICS = 100;

/** kafkajs retries a request this often (with metadata refresh) before the host's backoff takes over. */
const CLIENT_RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 };

export default defineSink({
  type: 'kafka',
  apiVersion: '1',
  configSchema,
  delivery: 'at_least_once',
  validate: validateConfig,
  create(config, ctx) {
    return new KafkaSink(config, ctx);
  },
});

/**
 * The rules the schema cannot express; pure, so `im-bridge check` refuses what create() would
 * (CONFIG_PLUGIN_INVALID at the key's file:line). create() runs it again for configs built in code.
 */
export function validateConfig(config: KafkaSinkConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, message, code: 'KAFKA_CONFIG' });
  if (config.idempotent && !(config.acks === 'all' || config.acks === -1)) {
    problem('acks', 'idempotent: true requires acks: all (set idempotent: false to use acks: leader)');
  }
  for (const key of ['topic', 'key'] as const) {
    try {
      const template = compileTemplate(config[key]);
      if (key === 'topic' && template.isStatic && !isLegalTopic(config.topic)) {
        problem('topic', `topic "${config.topic}" is not a legal Kafka topic name ([a-zA-Z0-9._-], 1-249 chars)`);
      }
    } catch (error) {
      problem(key, `invalid template: ${(error as Error).message}`);
    }
  }
  try {
    new TopicCreationPolicy(config.create_topics_pattern ?? defaultCreatePattern(config.topic), config.max_topics ?? DEFAULT_MAX_TOPICS);
  } catch (error) {
    problem('create_topics_pattern', `create_topics_pattern is not a valid regular expression: ${(error as Error).message}`);
  }
  if (brokerList(config).length === 0) problem('brokers', 'brokers is empty');
  return problems;
}

function brokerList(config: KafkaSinkConfig): string[] {
  return (Array.isArray(config.brokers) ? config.brokers : config.brokers.split(','))
    .map((b) => b.trim())
    .filter((b) => b !== '');
}

class KafkaSink implements Sink {
  private readonly kafka: Kafka;
  private readonly topicOf: CompiledTemplate;
  private readonly keyOf: CompiledTemplate;
  private readonly acks: -1 | 1;
  private readonly compression: CompressionTypes;
  private readonly logger: Logger;
  private admin: Admin | undefined;
  private adminConnecting: Promise<Admin> | undefined;
  private producer: Producer | undefined;
  private queue: Job[] = [];
  private flushing: Promise<void> | undefined;
  private closing = false;
  /** topic → time (ms) until which it is trusted to exist. */
  private readonly knownTopics = new Map<string, number>();
  private readonly creation: TopicCreationPolicy;
  /** Topic creations in flight, by name. */
  private readonly creating = new Map<string, Promise<TopicState>>();
  private readonly refusals = new RefusalLog();

  constructor(
    private readonly config: KafkaSinkConfig,
    private readonly ctx: SinkContext,
  ) {
    this.logger = ctx.logger;
    throwIfInvalid(validateConfig(config), 'KAFKA_CONFIG');
    this.acks = config.acks === 'all' || config.acks === -1 ? -1 : 1;
    this.topicOf = compileTemplate(config.topic);
    this.keyOf = compileTemplate(config.key);
    this.creation = new TopicCreationPolicy(config.create_topics_pattern ?? defaultCreatePattern(config.topic), config.max_topics ?? DEFAULT_MAX_TOPICS);
    this.compression = config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    const brokers = brokerList(config);
    this.kafka = createKafkaClient({
      clientId: config.client_id,
      brokers,
      ssl: tlsOptions(config, ctx.configDir),
      sasl: kafkaSaslOptions(config.sasl),
      connectionTimeout: config.connection_timeout_ms,
      requestTimeout: config.request_timeout_ms,
      retry: CLIENT_RETRY,
      logger: ctx.logger,
    });
  }

  async connect(): Promise<void> {
    try {
      await this.ensureAdmin();
      await this.ensureProducer();
    } catch (error) {
      // The host retries connect whatever it throws; the code says why in /readyz and the logs.
      const info = describeKafkaError(error);
      throw new RetriableError(`cannot connect to Kafka: ${info.message}`, { code: info.code, cause: error });
    }
    if (this.topicOf.isStatic) {
      const state = await this.checkTopic(this.config.topic);
      if (!state.ok && state.failure.retriable) throw new RetriableError(state.failure.message, { code: state.failure.code });
      if (!state.ok) {
        this.logger.error(
          { code: 'KAFKA_TOPIC_UNAVAILABLE', topic: this.config.topic, errorCode: state.failure.code, err: state.failure.message },
          `kafka topic ${this.config.topic} cannot be written; its events will be dead-lettered`,
        );
      }
    }
  }

  async writeBatch(events: readonly CanonicalEvent[], signal: AbortSignal): Promise<void> {
    if (this.closing) throw new RetriableError('kafka sink is closing', { code: 'SINK_CLOSING' });
    const job: Job = { records: [], failures: [], delivered: 0, signal, done: () => undefined };
    for (let index = 0; index < events.length; index++) {
      const prepared = this.prepare(events[index]!);
      if ('failure' in prepared) job.failures.push({ index, ...prepared.failure });
      else job.records.push({ job, index, ...prepared, settled: false });
    }
    if (job.records.length > 0) {
      await new Promise<void>((resolve) => {
        job.done = resolve;
        this.queue.push(job);
        this.kick();
      });
    }
    if (job.failures.length === 0) return;
    job.failures.sort((a, b) => a.index - b.index);
    if (job.delivered === 0 && job.failures.length === events.length && job.failures.every((f) => f.retriable)) {
      const first = job.failures[0]!;
      throw new RetriableError(first.message, { code: first.code });
    }
    throw new PartialBatchError(job.failures, `${job.failures.length} of ${events.length} event(s) not delivered to Kafka (first: ${job.failures[0]!.code})`);
  }

  /**
   * Everything about one event that needs no broker: its topic, key and record. A failure here is
   * that event's alone and fatal (retrying renders the same), whatever was thrown.
   */
  private prepare(event: CanonicalEvent): Prepared {
    let topic: string;
    let keyText: string;
    try {
      topic = this.topicOf(event);
      keyText = this.keyOf(event);
    } catch (error) {
      return fatal('KAFKA_TEMPLATE_RENDER_FAILED', `topic or key template cannot be rendered for event ${event.id}: ${(error as Error)?.message ?? String(error)}`);
    }
    if (!isLegalTopic(topic)) {
      return fatal(
        'KAFKA_INVALID_TOPIC',
        `topic template "${this.config.topic}" gives ${JSON.stringify(topic.slice(0, 300))} for event ${event.id}: not a legal Kafka topic name ([a-zA-Z0-9._-], 1-249 chars, not . or ..)`,
      );
    }
    try {
      const key = keyText === '' ? null : Buffer.from(keyText);
      const record = encodeRecord(event, this.config.encoding, key);
      const max = this.config.max_message_bytes;
      if (record.bytes > max) {
        return fatal('KAFKA_MESSAGE_TOO_LARGE', `record of ${record.bytes} bytes for topic ${topic} exceeds max_message_bytes (${max}); not sent`);
      }
      return { topic, bytes: record.bytes, message: { key, value: record.value, headers: record.headers } };
    } catch (error) {
      return fatal('KAFKA_RECORD_ENCODE_FAILED', `event ${event.id} cannot be encoded as a Kafka record: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  async healthcheck(): Promise<void> {
    const admin = await this.ensureAdmin();
    const now = Date.now();
    const topics = this.topicOf.isStatic
      ? [this.config.topic]
      : [...this.knownTopics].filter(([, until]) => until > now).map(([topic]) => topic).slice(-3);
    if (topics.length === 0) {
      await this.adminCall(() => admin.describeCluster());
      return;
    }
    for (const topic of topics) {
      try {
        await this.adminCall(() => admin.fetchTopicMetadata({ topics: [topic] }));
      } catch (error) {
        const info = describeKafkaError(error);
        if (info.kind === 'unknown_topic' && this.config.create_topics) continue;
        throw new Error(`topic ${topic}: ${info.message}`, { cause: error });
      }
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    while (this.flushing) await this.flushing;
    const producer = this.producer;
    const admin = this.admin;
    this.producer = undefined;
    this.admin = undefined;
    await Promise.all([producer?.disconnect(), admin?.disconnect()].map((p) => p?.catch(() => undefined)));
  }

  // ---- flushing ------------------------------------------------------------------------------

  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const jobs = this.queue;
      this.queue = [];
      const live: Job[] = [];
      for (const job of jobs) {
        if (job.signal.aborted) {
          // The host gave up on this attempt (timeout, shutdown) before it was sent: not sent.
          failRecords(job.records, { retriable: true, code: 'SINK_ABORTED', message: 'write aborted before it was sent' });
          job.done();
        } else {
          live.push(job);
        }
      }
      if (live.length === 0) continue;
      try {
        await this.flush(live.flatMap((job) => job.records));
      } catch (error) {
        // flush() settles every record itself; this is a last guard so that no writer hangs.
        const info = describeKafkaError(error);
        for (const job of live) failRecords(job.records, { retriable: true, code: info.code, message: info.message });
      }
      for (const job of live) job.done();
    }
  }

  private async flush(records: PendingRecord[]): Promise<void> {
    const fail = failRecords;
    const deliver = (list: readonly PendingRecord[]) => {
      for (const r of list) {
        if (r.settled) continue;
        r.settled = true;
        r.job.delivered++;
      }
    };
    try {
      const topics = new Map<string, TopicState>();
      for (const r of records) if (!topics.has(r.topic)) topics.set(r.topic, { ok: true });
      await this.checkTopics(topics);
      const sendable: PendingRecord[] = [];
      for (const r of records) {
        const state = topics.get(r.topic)!;
        if (state.ok) {
          sendable.push(r);
          continue;
        }
        if (state.refused) this.ctx.count('topics_refused');
        fail([r], state.failure);
      }
      const requests = cut(sendable, this.config.max_request_bytes);
      for (let i = 0; i < requests.length; i++) {
        const request = requests[i]!;
        const error = await this.send(request);
        if (!error) {
          deliver(request);
          continue;
        }
        if (error.kind === 'too_large') {
          this.logger.warn(
            { code: 'KAFKA_ISOLATING_RECORDS', records: request.length, err: error.message },
            `kafka refused a request as too large; re-sending its ${request.length} record(s) one by one`,
          );
          this.ctx.count('isolations');
          const stopped = await this.isolate(request, deliver, fail);
          if (stopped) {
            fail(requests.slice(i + 1).flat(), { retriable: true, code: stopped.code, message: stopped.message });
            return;
          }
          continue;
        }
        if (error.kind === 'unknown_topic') {
          // The topic vanished since it was checked: check it again on the retry.
          for (const r of request) this.knownTopics.delete(r.topic);
        }
        if (error.kind === 'fatal' && new Set(request.map((r) => r.topic)).size === 1) {
          // A topic-level refusal (authorization, policy...): only this request's records.
          fail(request, { retriable: false, code: error.code, message: error.message });
          continue;
        }
        // Unknown outcome or a refusal we cannot pin to records: retry this and everything after
        // it, so that no later record of a conversation overtakes an earlier one.
        fail(requests.slice(i).flat(), { retriable: true, code: error.code, message: error.message });
        return;
      }
    } catch (error) {
      const info = describeKafkaError(error);
      fail(records, { retriable: true, code: info.code, message: info.message });
    }
  }

  /** Re-sends records one by one after a MESSAGE_TOO_LARGE; returns the error that stopped it, if any. */
  private async isolate(
    request: readonly PendingRecord[],
    deliver: (list: readonly PendingRecord[]) => void,
    fail: (list: readonly PendingRecord[], failure: Omit<ItemFailure, 'index'>) => void,
  ): Promise<KafkaErrorInfo | undefined> {
    for (let j = 0; j < request.length; j++) {
      const record = request[j]!;
      const error = await this.send([record]);
      if (!error) {
        deliver([record]);
      } else if (error.kind === 'too_large' || error.kind === 'fatal') {
        fail([record], { retriable: false, code: error.code, message: `${error.message} (record of ${record.bytes} bytes for topic ${record.topic})` });
      } else {
        fail(request.slice(j), { retriable: true, code: error.code, message: error.message });
        return error;
      }
    }
    return undefined;
  }

  /** One produce request; resolves with the classified error instead of throwing. */
  private async send(records: readonly PendingRecord[]): Promise<KafkaErrorInfo | undefined> {
    let producer: Producer;
    try {
      producer = await this.ensureProducer();
    } catch (error) {
      return describeKafkaError(error);
    }
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      let messages = byTopic.get(r.topic);
      if (!messages) byTopic.set(r.topic, (messages = []));
      messages.push(r.message);
    }
    try {
      await producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        acks: this.acks,
        timeout: this.config.request_timeout_ms,
        compression: this.compression,
      });
      this.ctx.count('records_sent', records.length);
      return undefined;
    } catch (error) {
      const info = describeKafkaError(error);
      // A broker refusal of a single record touched one partition: its sequence numbers were
      // not used and kafkajs restored them. Anything else leaves them uncertain.
      if (!(info.fromBroker && records.length === 1)) await this.resetProducer(info);
      return info;
    }
  }

  // ---- topics --------------------------------------------------------------------------------

  /** Whether each topic (in first-use order) can be written; missing ones are created where allowed. */
  private async checkTopics(topics: Map<string, TopicState>): Promise<void> {
    const missing: string[] = [];
    await Promise.all(
      [...topics.keys()].map(async (topic) => {
        const state = await this.lookupTopic(topic);
        if (state === 'missing') missing.push(topic);
        else topics.set(topic, state);
      }),
    );
    // Creation slots are taken in first-use (queue) order, so which names get the last slots does not
    // depend on which metadata answer came back first; the allowed topics are then created in parallel.
    const order = [...topics.keys()];
    missing.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    const creations: Array<Promise<unknown>> = [];
    for (const topic of missing) {
      const refused = this.admitCreation(topic);
      if (refused) topics.set(topic, refused);
      else creations.push(this.createReserved(topic).then((state) => topics.set(topic, state)));
    }
    await Promise.all(creations);
  }

  private async checkTopic(topic: string): Promise<TopicState> {
    const state = await this.lookupTopic(topic);
    if (state !== 'missing') return state;
    return this.admitCreation(topic) ?? this.createReserved(topic);
  }

  /** Metadata of one topic: usable, missing (and create_topics is on), or why not. */
  private async lookupTopic(topic: string): Promise<TopicState | 'missing'> {
    if ((this.knownTopics.get(topic) ?? 0) > Date.now()) return { ok: true };
    const admin = await this.ensureAdmin();
    try {
      await this.adminCall(() => admin.fetchTopicMetadata({ topics: [topic] }));
      this.knownTopics.set(topic, Date.now() + this.config.metadata_max_age_ms);
      return { ok: true };
    } catch (error) {
      const info = describeKafkaError(error);
      if (info.kind === 'unknown_topic') {
        if (this.config.create_topics) return 'missing';
        return {
          ok: false,
          failure: {
            retriable: false,
            code: 'KAFKA_UNKNOWN_TOPIC_OR_PARTITION',
            message: `topic ${topic} does not exist and create_topics is off (${info.message})`,
          },
        };
      }
      if (info.kind === 'fatal') return { ok: false, failure: { retriable: false, code: info.code, message: `topic ${topic}: ${info.message}` } };
      return { ok: false, failure: { retriable: true, code: info.code, message: `metadata of topic ${topic}: ${info.message}` } };
    }
  }

  /**
   * Takes a creation slot for a missing topic if create_topics_pattern and max_topics allow it;
   * otherwise the refusal for its events (logged once per name).
   */
  private admitCreation(topic: string): TopicState | undefined {
    if (this.creating.has(topic)) return undefined;
    const refusal = this.creation.reserve(topic);
    if (!refusal) return undefined;
    const { log, suppressed } = this.refusals.take(topic);
    if (log) {
      this.logger.warn(
        {
          code: 'KAFKA_TOPIC_LIMIT',
          topic,
          reason: refusal.reason,
          created: this.creation.createdCount,
          maxTopics: this.creation.maxTopics,
          pattern: this.creation.patternText,
          ...(suppressed > 0 ? { notLogged: suppressed } : {}),
        },
        `${refusal.message}; its events are dead-lettered` + (suppressed > 0 ? ` (${suppressed} other refused topic name(s) not logged)` : ''),
      );
    }
    return { ok: false, refused: true, failure: { retriable: false, code: 'KAFKA_TOPIC_LIMIT', message: refusal.message } };
  }

  /** Creates a topic admitCreation let through; gives the slot back unless this sink created it. */
  private createReserved(topic: string): Promise<TopicState> {
    // One creation per name at a time (connect's check and a flush may meet); the slot is that creation's.
    let creation = this.creating.get(topic);
    if (!creation) {
      creation = this.createTopic(topic)
        .then((state) => {
          if (!state.ok || !state.created) this.creation.release(topic);
          return state;
        })
        .finally(() => this.creating.delete(topic));
      this.creating.set(topic, creation);
    }
    return creation;
  }

  private async createTopic(topic: string): Promise<TopicState & { created?: boolean }> {
    const admin = await this.ensureAdmin();
    try {
      const created = await this.adminCall(() =>
        admin.createTopics({
          topics: [
            {
              topic,
              numPartitions: this.config.topic_partitions,
              replicationFactor: this.config.topic_replication_factor,
              configEntries: Object.entries(this.config.topic_config).map(([name, value]) => ({ name, value })),
            },
          ],
          waitForLeaders: true,
          timeout: this.config.request_timeout_ms,
        }),
      );
      if (created) {
        this.ctx.count('topics_created');
        this.logger.info({ code: 'KAFKA_TOPIC_CREATED', topic, created: this.creation.createdCount, maxTopics: this.creation.maxTopics }, `created kafka topic ${topic}`);
      }
      this.knownTopics.set(topic, Date.now() + this.config.metadata_max_age_ms);
      return { ok: true, created };
    } catch (error) {
      const info = describeKafkaError(error);
      if (info.type === 'TOPIC_ALREADY_EXISTS') {
        this.knownTopics.set(topic, Date.now() + this.config.metadata_max_age_ms);
        return { ok: true };
      }
      const retriable = info.kind === 'retriable' || info.kind === 'unknown_topic';
      return { ok: false, failure: { retriable, code: info.code, message: `cannot create topic ${topic}: ${info.message}` } };
    }
  }

  // ---- clients -------------------------------------------------------------------------------

  private async ensureProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.kafka.producer({
      idempotent: this.config.idempotent,
      maxInFlightRequests: this.config.idempotent ? 1 : 5,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      metadataMaxAge: this.config.metadata_max_age_ms,
      retry: CLIENT_RETRY,
    });
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = producer;
    return producer;
  }

  private async resetProducer(reason: KafkaErrorInfo): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (!producer) return;
    this.ctx.count('producer_resets');
    this.logger.info({ code: 'KAFKA_PRODUCER_RESET', errorCode: reason.code, err: reason.message }, 'kafka producer replaced after a failed request');
    await producer.disconnect().catch(() => undefined);
  }

  private ensureAdmin(): Promise<Admin> {
    if (this.admin) return Promise.resolve(this.admin);
    this.adminConnecting ??= (async () => {
      const admin = this.kafka.admin({ retry: CLIENT_RETRY });
      try {
        await admin.connect();
      } catch (error) {
        await admin.disconnect().catch(() => undefined);
        throw error;
      }
      this.admin = admin;
      return admin;
    })().finally(() => {
      this.adminConnecting = undefined;
    });
    return this.adminConnecting;
  }

  /** Runs an admin request; a connection-level failure drops the admin client so the next call reconnects. */
  private async adminCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const info = describeKafkaError(error);
      if (!info.fromBroker) {
        const admin = this.admin;
        this.admin = undefined;
        await admin?.disconnect().catch(() => undefined);
      }
      throw error;
    }
  }
}

function fatal(code: string, message: string): { failure: Omit<ItemFailure, 'index'> } {
  return { failure: { retriable: false, code, message } };
}

/** Consecutive requests of at most maxBytes each (a record larger than that goes alone). */
function cut(records: readonly PendingRecord[], maxBytes: number): PendingRecord[][] {
  const requests: PendingRecord[][] = [];
  let current: PendingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    if (current.length > 0 && bytes + r.bytes > maxBytes) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += r.bytes;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/** Records an outcome for the records not settled yet (a record is settled once). */
function failRecords(records: readonly PendingRecord[], failure: Omit<ItemFailure, 'index'>): void {
  for (const r of records) {
    if (r.settled) continue;
    r.settled = true;
    r.job.failures.push({ index: r.index, ...failure });
  }
}

function tlsOptions(config: KafkaSinkConfig, configDir: string): ConnectionOptions | undefined {
  try {
    return kafkaTlsOptions(config.tls, configDir);
  } catch (error) {
    if (error instanceof KafkaConfigError) throw new FatalError(error.message, { code: error.code, cause: error.cause });
    throw error;
  }
}
