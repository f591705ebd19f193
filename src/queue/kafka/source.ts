/**
 * queue.type: kafka — one sink's backlog: a consumer in the group `<group_prefix>.<sink>` per
 * instance, so that across all instances each event reaches the sink once (at-least-once: after a
 * crash or rebalance an event is offered again with its id).
 *
 * - Fetched records are offered to the delivery engine in partition order, as far as its window
 *   has room; a partition's fetch waits (heartbeating) while the window is full, so the backlog
 *   stays in Kafka. Records whose `im_sinks` header does not name this sink are skipped (routing
 *   was decided at ingest).
 * - The engine settles events out of order (each conversation on its own), so offsets are
 *   committed per partition only up to the lowest event not yet delivered or dead-lettered
 *   (offsets.ts). `resolveOffset` only moves the fetch position; commits are manual
 *   (autoCommit: false), every COMMIT_INTERVAL_MS and on close.
 * - A rebalance (GROUP_JOIN) starts a new generation: Kafka will fetch from the committed offsets
 *   again, so every offered event that is not in flight is revoked, and acks of the old
 *   generation are not committed (their events come back and are delivered again, same id).
 * - Dead letters go to the dead-letter topic; the engine tries again when that produce fails.
 */
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { DeadLetterItem, DeliveryConsumer, DeliverySource, QueuedEvent, SourceContext } from '../queue.js';
import { HEADER_ID, HEADER_SINKS, HEADER_SUBJECT, type KafkaQueue } from './index.js';
import { PartitionOffsets } from './offsets.js';
import { sleep } from '../../sink/backoff.js';

const COMMIT_INTERVAL_MS = 500;
const HEARTBEAT_SLICE_MS = 1000;
const RESTART_DELAY_MS = 2000;
const CLOSE_STEP_MS = 5000;

interface Position {
  partition: number;
  offset: number;
  generation: number;
}

export class KafkaSource implements DeliverySource {
  private consumer: Consumer | undefined;
  private engine: DeliveryConsumer | undefined;
  private readonly abort = new AbortController();
  private starting: Promise<void> | undefined;
  private generation = 0;
  private offsets = new Map<number, PartitionOffsets>();
  private readonly positions = new Map<number, Position>();
  private nextRef = 1;
  private roomWaiters: Array<() => void> = [];
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  fills = 0;

  constructor(
    private readonly queue: KafkaQueue,
    private readonly sink: string,
    private readonly context: SourceContext,
  ) {}

  get groupId(): string {
    return `${this.queue.config.group_prefix}.${this.sink}`;
  }

  open(engine: DeliveryConsumer): void {
    this.engine = engine;
    this.commitTimer = setInterval(() => void this.commit(), COMMIT_INTERVAL_MS);
    this.commitTimer.unref();
    this.starting = (async () => {
      while (!this.abort.signal.aborted) {
        try {
          await this.run();
          return;
        } catch (error) {
          this.context.logger.error({ code: 'KAFKA_CONSUMER_START_FAILED', err: (error as Error).message, group: this.groupId }, `sink ${this.sink}: cannot start the kafka consumer; retrying`);
          await this.consumer?.disconnect().catch(() => undefined);
          this.consumer = undefined;
          await sleep(RESTART_DELAY_MS, this.abort.signal);
        }
      }
    })();
  }

  pull(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  async ack(events: readonly QueuedEvent[]): Promise<void> {
    this.settle(events);
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<void> {
    await this.queue.deadLetter(items.map((i) => ({ sink: this.sink, id: i.event.id, subject: i.event.subject, body: i.event.body, code: i.code, error: i.error, attempts: i.attempts })));
    this.settle(items.map((i) => i.event));
  }

  /**
   * Commits what is settled, then leaves the group (the partitions move to the other instances).
   * Each step is bounded: with Kafka unreachable a shutdown must not wait for request timeouts; what
   * was not committed is delivered again by the next owner (same ids).
   */
  async close(): Promise<void> {
    this.abort.abort();
    this.pull();
    if (this.commitTimer) clearInterval(this.commitTimer);
    const bounded = (step: Promise<unknown>) => Promise.race([step.catch(() => undefined), sleep(CLOSE_STEP_MS)]);
    // Twice: a commit already in flight may not hold the last settled offsets.
    await bounded(this.commit().then(() => this.commit()));
    const consumer = this.consumer;
    if (consumer) await bounded(consumer.disconnect());
    await bounded(this.starting ?? Promise.resolve());
  }

  private async run(): Promise<void> {
    const cfg = this.queue.config;
    const consumer = this.queue.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: cfg.session_timeout_ms,
      heartbeatInterval: Math.max(500, Math.floor(cfg.session_timeout_ms / 10)),
      rebalanceTimeout: Math.max(60_000, cfg.session_timeout_ms * 2),
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.newGeneration(e.payload.memberAssignment[cfg.topic] ?? []));
    await consumer.connect();
    await consumer.subscribe({ topic: cfg.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, cfg.partitions),
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.context.logger.info({ code: 'KAFKA_CONSUMER_STARTED', group: this.groupId, topic: cfg.topic }, `sink ${this.sink}: consuming ${cfg.topic} as ${this.groupId}`);
  }

  /** Kafka fetches from the committed offsets again: what was offered and is not in flight goes back. */
  private newGeneration(assigned: number[]): void {
    this.generation++;
    this.offsets = new Map();
    const stale = this.generation;
    const revoked = this.engine?.revoke((event) => (this.positions.get(event.ref)?.generation ?? stale) < stale) ?? [];
    for (const event of revoked) this.positions.delete(event.ref);
    this.context.logger.info({ code: 'KAFKA_PARTITIONS_ASSIGNED', group: this.groupId, partitions: assigned, generation: this.generation }, `sink ${this.sink}: partitions ${assigned.join(',') || '(none)'} assigned`);
  }

  private alive(payload: EachBatchPayload, generation: number): boolean {
    return !this.abort.signal.aborted && generation === this.generation && payload.isRunning() && !payload.isStale() && !this.engine!.draining;
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const engine = this.engine!;
    const generation = this.generation;
    let offsets = this.offsets.get(batch.partition);
    if (!offsets) this.offsets.set(batch.partition, (offsets = new PartitionOffsets()));
    let chunk: QueuedEvent[] = [];
    let room = engine.room();
    let chunkBytes = 0;
    /** The last offset handed to the engine or skipped: the fetch resumes after it. */
    let done: string | undefined;
    const flush = () => {
      if (chunk.length > 0) {
        this.fills++;
        engine.offer(chunk);
      }
      chunk = [];
      chunkBytes = 0;
    };
    // Whatever happens, the next fetch of this partition starts after what was offered: offering
    // an event twice would deliver it twice and stall the commit point.
    const finish = async () => {
      flush();
      if (done !== undefined && generation === this.generation && !payload.isStale()) {
        payload.resolveOffset(done);
        await payload.heartbeat().catch(() => undefined);
      }
    };
    for (const message of batch.messages) {
      if (!this.alive(payload, generation)) return finish();
      const offset = Number(message.offset);
      if (offsets.seen(offset)) continue;
      const event = this.eventOf(message, batch.partition, offset, generation);
      if (!event) {
        offsets.skip(offset);
        done = message.offset;
        continue;
      }
      while (chunk.length >= room.events || (chunk.length > 0 && chunkBytes + event.bytes > room.bytes)) {
        flush();
        room = engine.room();
        if (room.events > 0 && room.bytes > 0) break;
        if (!(await this.waitForRoom(payload, generation))) {
          this.positions.delete(event.ref);
          return finish();
        }
        room = engine.room();
      }
      offsets.track(offset);
      chunk.push(event);
      chunkBytes += event.bytes;
      done = message.offset;
    }
    await finish();
  }

  /** Waits until the engine has room again, heartbeating; false when the batch should stop. */
  private async waitForRoom(payload: EachBatchPayload, generation: number): Promise<boolean> {
    while (this.alive(payload, generation)) {
      const room = this.engine!.room();
      if (room.events > 0 && room.bytes > 0) return true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, HEARTBEAT_SLICE_MS);
        this.roomWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      try {
        await payload.heartbeat();
      } catch {
        // A rebalance (or a lost coordinator): stop waiting, so that the group can move on.
        return false;
      }
    }
    return false;
  }

  private eventOf(message: KafkaMessage, partition: number, offset: number, generation: number): QueuedEvent | undefined {
    const sinks = header(message, HEADER_SINKS);
    if (sinks === undefined || !sinks.split(',').includes(this.sink)) return undefined;
    const ref = this.nextRef++;
    this.positions.set(ref, { partition, offset, generation });
    const body = message.value?.toString() ?? '';
    return { ref, id: header(message, HEADER_ID) ?? '', subject: header(message, HEADER_SUBJECT) ?? message.key?.toString() ?? '', body, bytes: body.length };
  }

  private settle(events: readonly QueuedEvent[]): void {
    for (const event of events) {
      const position = this.positions.get(event.ref);
      if (!position) continue;
      this.positions.delete(event.ref);
      // An event of an earlier generation: Kafka offers it again from the committed offset.
      if (position.generation !== this.generation) continue;
      this.offsets.get(position.partition)?.settle(position.offset);
    }
  }

  private commit(): Promise<void> {
    this.committing ??= (async () => {
      const consumer = this.consumer;
      if (!consumer) return;
      const generation = this.generation;
      const points: Array<{ partition: number; offset: number; tracker: PartitionOffsets }> = [];
      for (const [partition, tracker] of this.offsets) {
        const offset = tracker.takeCommit();
        if (offset !== undefined) points.push({ partition, offset, tracker });
      }
      if (points.length === 0) return;
      try {
        await consumer.commitOffsets(points.map((p) => ({ topic: this.queue.config.topic, partition: p.partition, offset: String(p.offset) })));
      } catch (error) {
        if (generation === this.generation) for (const p of points) p.tracker.uncommit(p.offset);
        this.context.logger.warn({ code: 'KAFKA_COMMIT_FAILED', err: (error as Error).message, group: this.groupId }, `sink ${this.sink}: cannot commit offsets; trying again (a restart meanwhile delivers those events again)`);
      }
    })().finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }
}

function header(message: KafkaMessage, name: string): string | undefined {
  const value = message.headers?.[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value[0] : value)?.toString();
}
