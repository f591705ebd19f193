/**
 * What every queue backend provides, whatever stores the events: the local SQLite queue
 * (src/queue/local), the shared Kafka topic (src/queue/kafka) and the in-memory queue of the
 * engine tests (src/queue/memory.ts). `openQueue` (src/queue/open.ts) is the only place that picks
 * one; ingest and the delivery engine (src/delivery/engine.ts) see only these interfaces.
 *
 * INVARIANTS COMMON TO EVERY BACKEND
 * 1. `append` resolves only once the event is durable in the backend (ingest answers 200 after
 *    it); a refusal is a QueueUnavailableError (ingest answers 503). Never a 200 for an event the
 *    backend does not have.
 * 2. A sink's source offers its events in queue order (per conversation, the order of the
 *    callbacks), each at least once; it offers no more than the consumer's room().
 * 3. An event leaves a sink's backlog only through `ack` (delivered) or `deadLetter` (stored in the
 *    dead-letter store). `deadLetter` resolves only once the dead letters are stored; on a
 *    rejection the engine keeps the events and tries again. Until one of the two, a restart (or a
 *    rebalance) offers the event again, with the same id.
 * 4. `revoke` (a shared queue gave the events to another instance) withdraws offered events that
 *    are not in flight; their later acks are ignored by the source.
 */
import type { CanonicalEvent } from '../normalize/event.js';
import type { AppendRecord, StoreStats } from './store.js';
import type { QuarantineStore } from '../ingest/quarantine.js';
import type { Logger } from 'pino';

/** Why the queue refuses appends (ingest answers 503 with this code). */
export type QueueRefusal = 'QUEUE_FULL_EVENTS' | 'QUEUE_FULL_BYTES' | 'QUEUE_FULL_DEAD_LETTERS' | 'QUEUE_DISK_FULL' | 'QUEUE_WRITE_FAILED' | 'QUEUE_CLOSED';

/** Append refused: ingest answers 503 with `code`. */
export class QueueUnavailableError extends Error {
  readonly code: QueueRefusal;
  constructor(code: QueueRefusal, message: string) {
    super(message);
    this.name = 'QueueUnavailableError';
    this.code = code;
  }
}

export interface QueueHealth {
  writable: boolean;
  reason?: string;
  code?: QueueRefusal;
}

/** What ingest needs from a queue. */
export interface IngestQueue {
  append(record: AppendRecord, event?: CanonicalEvent): Promise<number>;
  health(): QueueHealth;
  close(): Promise<void>;
}

/** One event of a sink's backlog, as the engine holds it. */
export interface QueuedEvent {
  /** The source's handle for the event (local: its seq). Opaque to the engine. */
  readonly ref: number;
  readonly id: string;
  readonly subject: string;
  /** Canonical event JSON as stored. */
  readonly body: string;
  readonly bytes: number;
  /** Parsed event, when it came straight from ingest (shared, read-only). */
  event?: CanonicalEvent;
}

export interface DeadLetterItem {
  event: QueuedEvent;
  attempts: number;
  code: string;
  error: string;
}

/** The engine's side, as a source sees it. */
export interface DeliveryConsumer {
  /** Events in queue order. Called only with what fits in room(). */
  offer(events: QueuedEvent[]): void;
  /** Withdraws offered events that are not in flight (a shared queue moved them elsewhere); returns them. */
  revoke(match: (event: QueuedEvent) => boolean): QueuedEvent[];
  /** How much more the engine's window holds. */
  room(): { events: number; bytes: number };
  /** Shutting down: offer nothing more. */
  readonly draining: boolean;
}

/** One sink's backlog in a queue backend. */
export interface DeliverySource {
  /** Starts offering events to the consumer. */
  open(consumer: DeliveryConsumer): void;
  /** The consumer has room again: offer more, if there is more. */
  pull(): void;
  /** Delivered: leaves the sink's backlog (local: with the next group commit; kafka: offsets). */
  ack(events: readonly QueuedEvent[]): Promise<void>;
  /** Resolves once stored in the dead-letter store; rejects when it could not be. */
  deadLetter(items: readonly DeadLetterItem[]): Promise<void>;
  /** Stops offering and releases what the source holds (kafka: commits, leaves the group). */
  close(): Promise<void>;
  /** Reads (or fetches) that filled the window: bounded work while a sink fails. */
  readonly fills: number;
}

export interface SourceContext {
  logger: Logger;
}

/** The queue part of /readyz. */
export interface QueueReadiness extends QueueHealth {
  events: number;
  bytes: number;
  deadLetters?: { events: number; bytes: number };
}

export interface QueueBackend extends IngestQueue, QuarantineStore {
  readonly type: 'local' | 'kafka' | 'memory';
  /**
   * This instance's own directory (lock, reload status, gap state). Undefined for a queue shared by
   * several instances, where no instance sees every callback.
   */
  readonly stateDir: string | undefined;
  /** The backlog of one sink. One source per running sink; a reload makes a new one. */
  source(sink: string, context: SourceContext): DeliverySource;
  readiness(): QueueReadiness;
  /** Stored totals and per-sink depths; undefined when the backend has none (kafka: consumer lag is Kafka's). */
  stats(): Promise<StoreStats | undefined>;
  /** Quarantined requests evicted by the retention rules since start (0 where there are none). */
  readonly quarantineEvicted: number;
}
