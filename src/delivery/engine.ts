/**
 * The delivery engine of one sink: its backlog in the queue → batches → plugin → ack or dead
 * letter. One engine for every queue backend (src/queue/queue.ts): the backend's DeliverySource
 * offers the sink's events in queue order, as far as the engine's window has room.
 *
 * - The window is bounded by events and bytes; the backlog stays in the queue.
 * - Batches by count, bytes and time (`batch.*`), at most `max_in_flight` at once. Subjects are
 *   hashed onto `max_in_flight` lanes and each lane has at most one new batch in flight, so a batch
 *   never swallows every conversation and leaves the other slots idle.
 * - Per-conversation ordering: while any event of a subject is in flight, waiting for a retry or
 *   for its dead letter to be stored, later events of that subject are held back; other subjects
 *   keep flowing. A retried batch is re-sent as the same events in the same order.
 * - What an outcome means per event is src/delivery/outcome.ts (notAttempted, exhaustion, backoff).
 * - A dead letter the queue cannot store is tried again with backoff (QUEUE_DEAD_LETTER_FAILED);
 *   its events stay held and are counted dead-lettered only once stored. On shutdown they stay in
 *   the backlog, so the next start offers them again.
 */
import type { Logger } from 'pino';
import type { CanonicalEvent } from '../sink/api.js';
import { rememberEventJson } from '../sink/event-json.js';
import type { SinkRunner } from '../sink/runner.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { DeliveryConsumer, DeliverySource, QueuedEvent } from '../queue/queue.js';
import { deadLetterRetryDelay, settle, type Attempted } from './outcome.js';

interface Item extends Attempted {
  queued: QueuedEvent;
  subject: string;
  /** Dispatch lane: hash(subject) mod max_in_flight. */
  lane: number;
  bytes: number;
}

interface RetryGroup {
  items: Item[];
  timer: NodeJS.Timeout | undefined;
}

export interface DeliveryStats {
  inFlight: number;
  window: number;
  waitingRetry: number;
  delivered: number;
  deadLettered: number;
  retried: number;
  /** Ready events looked at while building batches: work that must stay bounded while a sink fails. */
  examined: number;
  /** Times the source filled the window: also bounded while a sink fails. */
  fills: number;
}

const MAX_WINDOW_EVENTS = 10_000;
export const MAX_WINDOW_BYTES = 16 * 1024 * 1024;

export class DeliveryEngine implements DeliveryConsumer {
  /** Events waiting for a batch, per lane, in queue order. */
  private ready: Item[][];
  private readyTotal = 0;
  /** Ready events per subject, to keep `runnable` right when a subject is held or released. */
  private readonly readyBySubject = new Map<string, number>();
  /**
   * Per lane: ready events whose subject is not held. While a sink fails, every subject in the
   * window ends up held; this count lets pump() skip such a lane without scanning it (a scan of the
   * whole window per commit made ingest crawl while a sink was down).
   */
  private readonly runnable: number[];
  private dueRetries: Item[][] = [];
  private readonly retryGroups = new Set<RetryGroup>();
  private readonly held = new Map<string, number>();
  private inFlight = 0;
  private readonly laneBusy: boolean[];
  private readonly inFlightDone = new Set<() => void>();
  private windowCount = 0;
  private windowBytes = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Monotonic (performance.now): a wall-clock jump must not stall or rush batching. */
  private lingerUntil = 0;
  private stopping = false;
  /** Shutting down: send what is in memory at once, take nothing more from the source. */
  draining = false;
  private readonly windowLimit: number;
  /** Dead-letter writes waiting for a retry after the queue refused them. */
  private readonly deadLetterTimers = new Set<NodeJS.Timeout>();
  private readonly counters = { delivered: 0, deadLettered: 0, retried: 0, examined: 0 };

  constructor(
    private readonly source: DeliverySource,
    private readonly runner: SinkRunner,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    const { batch, max_in_flight } = runner.config;
    this.windowLimit = Math.min(MAX_WINDOW_EVENTS, Math.max(2000, batch.max_events * max_in_flight * 4));
    this.laneBusy = new Array<boolean>(max_in_flight).fill(false);
    this.ready = Array.from({ length: max_in_flight }, () => []);
    this.runnable = new Array<number>(max_in_flight).fill(0);
  }

  get name(): string {
    return this.runner.name;
  }

  start(): void {
    void this.runner.connect().then(() => this.pump());
    this.source.open(this);
  }

  room(): { events: number; bytes: number } {
    return { events: Math.max(0, this.windowLimit - this.windowCount), bytes: Math.max(0, MAX_WINDOW_BYTES - this.windowBytes) };
  }

  offer(events: QueuedEvent[]): void {
    if (this.stopping || events.length === 0) return;
    // While the sink is failing, events may wait long: keep only their JSON, not the parsed
    // objects (several times larger), so that a window of waiting events stays small.
    const keepParsed = this.retryGroups.size === 0 && this.dueRetries.length === 0;
    const lanes = this.laneBusy.length;
    for (const queued of events) {
      if (!keepParsed) queued.event = undefined;
      this.addReady({ queued, subject: queued.subject, lane: laneOf(queued.subject, lanes), bytes: queued.bytes, attempts: 0 });
      this.windowCount++;
      this.windowBytes += queued.bytes;
    }
    if (this.lingerUntil === 0) this.lingerUntil = performance.now() + this.runner.config.batch.max_wait_ms;
    this.pump();
  }

  revoke(match: (event: QueuedEvent) => boolean): QueuedEvent[] {
    const revoked: QueuedEvent[] = [];
    for (let lane = 0; lane < this.ready.length; lane++) {
      const keep: Item[] = [];
      for (const item of this.ready[lane]!) {
        if (!match(item.queued)) {
          keep.push(item);
          continue;
        }
        revoked.push(item.queued);
        this.readyTotal--;
        const n = this.readyBySubject.get(item.subject)! - 1;
        if (n === 0) this.readyBySubject.delete(item.subject);
        else this.readyBySubject.set(item.subject, n);
        if (!this.held.has(item.subject)) this.runnable[lane]!--;
        this.windowCount--;
        this.windowBytes -= item.bytes;
      }
      this.ready[lane] = keep;
    }
    // Events waiting for a retry hold their subject: releasing them lets it move on.
    const withdraw = (items: Item[]): Item[] => {
      const keep: Item[] = [];
      const gone: Item[] = [];
      for (const item of items) (match(item.queued) ? gone : keep).push(item);
      this.release(gone);
      for (const item of gone) revoked.push(item.queued);
      return keep;
    };
    for (const group of this.retryGroups) {
      group.items = withdraw(group.items);
      if (group.items.length === 0) {
        if (group.timer) clearTimeout(group.timer);
        this.retryGroups.delete(group);
      }
    }
    this.dueRetries = this.dueRetries.map(withdraw).filter((g) => g.length > 0);
    if (revoked.length > 0) this.logger.info({ code: 'DELIVERY_REVOKED', events: revoked.length }, `sink ${this.name}: ${revoked.length} queued event(s) handed back to the queue (another instance may take them)`);
    this.pump();
    return revoked;
  }

  stats(): DeliveryStats {
    let waiting = 0;
    for (const g of this.retryGroups) waiting += g.items.length;
    for (const g of this.dueRetries) waiting += g.length;
    return { inFlight: this.inFlight, window: this.windowCount, waitingRetry: waiting, ...this.counters, fills: this.source.fills };
  }

  /**
   * Flushes what is already batched in memory (no linger), waits for in-flight batches, bounded by
   * the deadline, then closes the source and the sink. What is not delivered stays in the queue.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.draining = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    for (const g of this.retryGroups) if (g.timer) clearTimeout(g.timer);
    for (const timer of this.deadLetterTimers) clearTimeout(timer);
    this.pump();
    while (this.inFlight > 0 && Date.now() < deadlineMs) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadlineMs - Date.now()));
        this.inFlightDone.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.stopping = true;
    await this.source.close();
    await this.runner.close(Math.max(1000, deadlineMs - Date.now()));
  }

  private pump(): void {
    if (this.stopping || !this.runner.connected) return;
    const { max_in_flight, batch } = this.runner.config;
    while (this.inFlight < max_in_flight) {
      const retry = this.dueRetries.shift();
      if (!retry) break;
      void this.send(retry, true, -1);
    }
    if (this.readyTotal > 0 && this.inFlight < max_in_flight) {
      const full = this.draining || this.readyTotal >= batch.max_events || this.windowCount >= this.windowLimit;
      if (!full && performance.now() < this.lingerUntil) {
        this.armLinger();
      } else {
        for (let lane = 0; lane < this.laneBusy.length && this.inFlight < max_in_flight; lane++) {
          if (this.laneBusy[lane] || this.runnable[lane] === 0) continue;
          const items = this.takeBatch(lane);
          if (items.length === 0) continue;
          this.laneBusy[lane] = true;
          void this.send(items, false, lane);
        }
      }
    }
    if (this.readyTotal === 0) this.lingerUntil = 0;
    if (!this.draining && this.windowCount < this.windowLimit && this.windowBytes < MAX_WINDOW_BYTES) this.source.pull();
  }

  private armLinger(): void {
    if (this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.pump();
    }, Math.max(0, this.lingerUntil - performance.now()));
  }

  /** The lane's next batch in queue order, skipping subjects that are held (and everything after them). */
  private takeBatch(lane: number): Item[] {
    const { max_events, max_bytes } = this.runner.config.batch;
    const queue = this.ready[lane]!;
    this.counters.examined += queue.length;
    const taken: Item[] = [];
    const rest: Item[] = [];
    let bytes = 0;
    let full = false;
    for (const item of queue) {
      if (full || this.held.has(item.subject)) {
        rest.push(item);
        continue;
      }
      if (taken.length > 0 && (taken.length >= max_events || bytes + item.bytes > max_bytes)) {
        full = true;
        rest.push(item);
        continue;
      }
      taken.push(item);
      bytes += item.bytes;
    }
    if (taken.length > 0) {
      this.ready[lane] = rest;
      this.readyTotal -= taken.length;
      this.runnable[lane]! -= taken.length;
      for (const item of taken) {
        const n = this.readyBySubject.get(item.subject)! - 1;
        if (n === 0) this.readyBySubject.delete(item.subject);
        else this.readyBySubject.set(item.subject, n);
      }
      this.lingerUntil = this.readyTotal > 0 ? performance.now() + this.runner.config.batch.max_wait_ms : 0;
    }
    return taken;
  }

  private addReady(item: Item): void {
    this.ready[item.lane]!.push(item);
    this.readyTotal++;
    this.readyBySubject.set(item.subject, (this.readyBySubject.get(item.subject) ?? 0) + 1);
    if (!this.held.has(item.subject)) this.runnable[item.lane]!++;
  }

  private hold(items: readonly Item[]): void {
    for (const item of items) {
      const n = this.held.get(item.subject) ?? 0;
      // From now on the subject's ready events wait: they no longer count as runnable.
      if (n === 0) this.runnable[item.lane]! -= this.readyBySubject.get(item.subject) ?? 0;
      this.held.set(item.subject, n + 1);
    }
  }

  /** The events left the window (delivered, dead-lettered or revoked): their subjects may move on. */
  private release(items: readonly Item[]): void {
    for (const item of items) {
      const n = (this.held.get(item.subject) ?? 1) - 1;
      if (n <= 0) {
        this.held.delete(item.subject);
        this.runnable[item.lane]! += this.readyBySubject.get(item.subject) ?? 0;
      } else this.held.set(item.subject, n);
      this.windowCount--;
      this.windowBytes -= item.bytes;
    }
  }

  private async send(items: Item[], isRetry: boolean, lane: number): Promise<void> {
    this.inFlight++;
    if (!isRetry) this.hold(items);
    try {
      const events: CanonicalEvent[] = [];
      const sendable: Item[] = [];
      const corrupt: Item[] = [];
      for (const item of items) {
        try {
          const event = item.queued.event ?? (JSON.parse(item.queued.body) as CanonicalEvent);
          rememberEventJson(event, item.queued.body);
          events.push(event);
          sendable.push(item);
        } catch (error) {
          item.lastCode = 'EVENT_CORRUPT';
          item.lastError = `stored event is not valid JSON: ${(error as Error).message}`;
          corrupt.push(item);
        }
      }
      if (corrupt.length) await this.deadLetter(corrupt);
      if (sendable.length === 0) return;
      this.metrics.batchSize.observe({ sink: this.name }, sendable.length);
      const outcome = await this.runner.write(events);
      const settled = settle(sendable, outcome, this.runner.config.retry);
      await this.ack(settled.ack);
      await this.deadLetter(settled.deadLetter);
      if (settled.retry.length) this.scheduleRetry(settled.retry, settled.delayMs, settled.attempts, settled.code, settled.message);
    } finally {
      if (lane >= 0) this.laneBusy[lane] = false;
      this.inFlight--;
      for (const done of this.inFlightDone) done();
      this.inFlightDone.clear();
      this.pump();
    }
  }

  private scheduleRetry(items: Item[], delay: number, attempts: number, code: string, message: string): void {
    // A failing sink may keep these for a long time: hold their JSON only (re-parsed on retry).
    for (const item of items) item.queued.event = undefined;
    this.metrics.retried.inc({ sink: this.name, code }, items.length);
    this.counters.retried += items.length;
    const { max_attempts } = this.runner.config.retry;
    this.logger.warn(
      { code: 'SINK_WRITE_RETRY', errorCode: code, err: message, events: items.length, attempt: attempts, retryInMs: delay },
      `sink ${this.name}: ${items.length} event(s) failed (${code}); retry ${attempts + 1}/${max_attempts} in ${delay} ms`,
    );
    const group: RetryGroup = { items, timer: undefined };
    group.timer = setTimeout(() => {
      this.retryGroups.delete(group);
      this.dueRetries.push(group.items);
      this.pump();
    }, delay);
    this.retryGroups.add(group);
  }

  private async ack(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    try {
      await this.source.ack(items.map((i) => i.queued));
    } catch (error) {
      // Delivered but not recorded: offered again after a restart (same ids).
      this.logger.error({ code: 'QUEUE_ACK_FAILED', err: (error as Error).message, events: items.length }, `cannot record delivery for sink ${this.name}`);
    }
    this.counters.delivered += items.length;
    this.metrics.delivered.inc({ sink: this.name }, items.length);
    this.release(items);
  }

  /**
   * Stores the dead letters, trying again with backoff while the queue refuses them; the events
   * stay held (and in the window) until they are stored. Resolves after the first attempt: a
   * refused write must not keep the batch's lane busy.
   */
  private async deadLetter(items: Item[], attempt = 1): Promise<void> {
    if (items.length === 0 || this.stopping) return;
    try {
      await this.source.deadLetter(items.map((i) => ({ event: i.queued, attempts: i.attempts, code: i.lastCode ?? 'UNKNOWN', error: i.lastError ?? '' })));
    } catch (error) {
      const delay = deadLetterRetryDelay(attempt);
      this.logger.error(
        { code: 'QUEUE_DEAD_LETTER_FAILED', err: (error as Error).message, events: items.length, attempt, retryInMs: delay },
        `cannot dead-letter ${items.length} event(s) for sink ${this.name}; trying again in ${delay} ms (they stay queued)`,
      );
      if (this.draining) return; // they stay in the backlog: the next start offers them again
      const timer = setTimeout(() => {
        this.deadLetterTimers.delete(timer);
        void this.deadLetter(items, attempt + 1);
      }, delay);
      this.deadLetterTimers.add(timer);
      return;
    }
    for (const item of items) {
      this.metrics.deadLettered.inc({ sink: this.name, code: item.lastCode ?? 'UNKNOWN' });
      this.logger.error(
        { code: 'EVENT_DEAD_LETTERED', eventId: item.queued.id, subject: item.subject, errorCode: item.lastCode, err: item.lastError, attempts: item.attempts },
        `sink ${this.name}: event ${item.queued.id} dead-lettered (${item.lastCode})`,
      );
    }
    this.counters.deadLettered += items.length;
    this.release(items);
    if (attempt > 1) this.pump();
  }
}

/** FNV-1a over the subject: cheap, stable, well spread. */
function laneOf(subject: string, lanes: number): number {
  if (lanes <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) {
    hash ^= subject.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % lanes;
}
