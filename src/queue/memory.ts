/**
 * An in-memory QueueBackend: the delivery engine's behaviour tests run on it (beside the local and
 * Kafka backends), and so can a development setup that does not care about restarts.
 *
 * INVARIANTS: those of src/queue/queue.ts, without durability: everything is lost with the process.
 * Appends are "committed" together at the next turn of the event loop (like a group commit);
 * a sink's events are offered in seq order; an event is dropped once every routed sink acked or
 * dead-lettered it.
 */
import type { CanonicalEvent } from '../normalize/event.js';
import type { AppendRecord, QuarantineInput, StoreStats } from './store.js';
import { QueueUnavailableError, type DeadLetterItem, type DeliveryConsumer, type DeliverySource, type QueueBackend, type QueueHealth, type QueueReadiness, type QueuedEvent } from './queue.js';

interface MemoryEvent {
  seq: number;
  record: AppendRecord;
  event: CanonicalEvent | undefined;
  /** Sinks that still have to take it. */
  waiting: Set<string>;
}

export interface MemoryDeadLetter {
  kind: 'event' | 'unmatched' | 'request';
  sink: string;
  eventId: string;
  subject: string;
  code: string;
  error: string;
  attempts: number;
  body: string;
}

export class MemoryQueue implements QueueBackend {
  readonly type = 'memory';
  readonly stateDir = undefined;
  readonly quarantineEvicted = 0;
  readonly deadLetters: MemoryDeadLetter[] = [];
  /** Dead-letter writes to refuse (a full or failing store), for tests of that path. */
  refuseDeadLetters = 0;
  private readonly events = new Map<number, MemoryEvent>();
  private maxSeq = 0;
  private closed = false;
  private readonly sources = new Set<MemorySource>();
  private notifying = false;

  append(record: AppendRecord, event?: CanonicalEvent): Promise<number> {
    if (this.closed) return Promise.reject(new QueueUnavailableError('QUEUE_CLOSED', 'the queue is closed'));
    if (record.sinks.length === 0) {
      this.deadLetters.push({ kind: 'unmatched', sink: '', eventId: record.id, subject: record.subject, code: 'ROUTE_UNMATCHED', error: 'no route matched', attempts: 0, body: record.body });
      return Promise.resolve(0);
    }
    const seq = ++this.maxSeq;
    this.events.set(seq, { seq, record, event, waiting: new Set(record.sinks) });
    this.scheduleNotify();
    return Promise.resolve(seq);
  }

  quarantine(input: QuarantineInput): Promise<number> {
    this.deadLetters.push({ kind: 'request', sink: '', eventId: '', subject: '', code: input.code, error: input.reason, attempts: 0, body: JSON.stringify(input.request) });
    return Promise.resolve(0);
  }

  health(): QueueHealth {
    return this.closed ? { writable: false, reason: 'the queue is closed', code: 'QUEUE_CLOSED' } : { writable: true };
  }

  readiness(): QueueReadiness {
    let bytes = 0;
    for (const e of this.events.values()) bytes += e.record.body.length;
    return { ...this.health(), events: this.events.size, bytes };
  }

  /** Events still waiting for at least one sink. */
  get size(): number {
    return this.events.size;
  }

  async stats(): Promise<StoreStats> {
    const depth = new Map<string, { depth: number; bytes: number }>();
    for (const e of this.events.values()) {
      for (const sink of e.waiting) {
        const d = depth.get(sink) ?? { depth: 0, bytes: 0 };
        d.depth++;
        d.bytes += e.record.body.length;
        depth.set(sink, d);
      }
    }
    const { events, bytes } = this.readiness();
    const deadEvents = this.deadLetters.filter((d) => d.kind !== 'request');
    return {
      events,
      bytes,
      deadLetters: this.deadLetters.length,
      deadLetterEvents: deadEvents.length,
      deadLetterBytes: deadEvents.reduce((n, d) => n + d.body.length, 0),
      quarantined: this.deadLetters.length - deadEvents.length,
      quarantinedBytes: 0,
      sinks: [...depth].map(([sink, d]) => ({ sink, depth: d.depth, bytes: d.bytes, oldestMs: null })),
    };
  }

  source(sink: string): DeliverySource {
    const source = new MemorySource(this, sink);
    this.sources.add(source);
    return source;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The sink's events after `afterSeq`, in seq order, at most `limit`. */
  pendingAfter(sink: string, afterSeq: number, limit: number): MemoryEvent[] {
    const out: MemoryEvent[] = [];
    for (let seq = afterSeq + 1; seq <= this.maxSeq && out.length < limit; seq++) {
      const e = this.events.get(seq);
      if (e?.waiting.has(sink)) out.push(e);
    }
    return out;
  }

  settle(sink: string, seq: number): void {
    const e = this.events.get(seq);
    if (!e) return;
    e.waiting.delete(sink);
    if (e.waiting.size === 0) this.events.delete(seq);
  }

  forget(source: MemorySource): void {
    this.sources.delete(source);
  }

  private scheduleNotify(): void {
    if (this.notifying) return;
    this.notifying = true;
    setImmediate(() => {
      this.notifying = false;
      for (const source of this.sources) source.pull();
    });
  }
}

class MemorySource implements DeliverySource {
  private consumer: DeliveryConsumer | undefined;
  private cursor = 0;
  fills = 0;

  constructor(
    private readonly queue: MemoryQueue,
    private readonly sink: string,
  ) {}

  open(consumer: DeliveryConsumer): void {
    this.consumer = consumer;
    this.pull();
  }

  pull(): void {
    const consumer = this.consumer;
    if (!consumer || consumer.draining) return;
    const room = consumer.room();
    if (room.events === 0 || room.bytes === 0) return;
    let bytes = 0;
    const events: QueuedEvent[] = [];
    for (const e of this.queue.pendingAfter(this.sink, this.cursor, room.events)) {
      if (events.length > 0 && bytes + e.record.body.length > room.bytes) break;
      events.push({ ref: e.seq, id: e.record.id, subject: e.record.subject, body: e.record.body, bytes: e.record.body.length, event: e.event });
      bytes += e.record.body.length;
      this.cursor = e.seq;
    }
    if (events.length === 0) return;
    this.fills++;
    consumer.offer(events);
  }

  async ack(events: readonly QueuedEvent[]): Promise<void> {
    for (const e of events) this.queue.settle(this.sink, e.ref);
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<void> {
    if (this.queue.refuseDeadLetters > 0) {
      this.queue.refuseDeadLetters--;
      throw new Error('dead-letter store refused the write (test)');
    }
    for (const i of items) {
      this.queue.deadLetters.push({ kind: 'event', sink: this.sink, eventId: i.event.id, subject: i.event.subject, code: i.code, error: i.error, attempts: i.attempts, body: i.event.body });
      this.queue.settle(this.sink, i.event.ref);
    }
  }

  async close(): Promise<void> {
    this.queue.forget(this);
  }
}
