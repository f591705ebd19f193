/**
 * The delivery engine for one sink: queue → batches → plugin, then ack or dead-letter.
 *
 * - Reads the sink's pending events from the durable queue in seq order into a bounded window
 *   (the backlog stays on disk; memory is bounded by the window, not by the backlog).
 * - Builds batches by count, bytes and time (`batch.*`), at most `max_in_flight` at once. Subjects
 *   are hashed onto `max_in_flight` lanes and each lane has at most one new batch in flight, so a
 *   batch never swallows every conversation and leaves the other slots idle.
 * - Per-conversation ordering: while any event of a subject is in flight or waiting for a retry,
 *   later events of that subject are held back; other subjects keep flowing. A retried batch is
 *   re-sent as the same set of events in the same order.
 * - Retries with exponential backoff and jitter up to `retry.max_attempts`, honouring a sink's
 *   retry-after; fatal errors and exhausted retries go to the dead-letter store. A partial batch
 *   acks the delivered events and handles each failed one by its own class.
 */
import type { Logger } from 'pino';
import type { CanonicalEvent, ItemFailure } from '../sink/api.js';
import { rememberEventJson } from '../sink/event-json.js';
import type { CommitNotice, DurableQueue, StoredEvent } from '../queue/index.js';
import type { SinkRunner } from '../sink/runner.js';
import type { Metrics } from '../telemetry/metrics.js';
import { backoffDelay } from '../sink/backoff.js';

interface Item {
  seq: number;
  id: string;
  subject: string;
  /** Dispatch lane: hash(subject) mod max_in_flight. */
  lane: number;
  body: string;
  bytes: number;
  attempts: number;
  /** Parsed event, when it came straight from ingest (shared, read-only). */
  event?: CanonicalEvent;
  lastCode?: string;
  lastError?: string;
}

interface RetryGroup {
  items: Item[];
  timer: NodeJS.Timeout | undefined;
}

export interface DispatcherStats {
  inFlight: number;
  window: number;
  waitingRetry: number;
  delivered: number;
  deadLettered: number;
  retried: number;
  /** Ready events looked at while building batches: work that must stay bounded while a sink fails. */
  examined: number;
  /** Times the window was (re)filled from disk, reads or not: also bounded while a sink fails. */
  fills: number;
}

const MAX_WINDOW_EVENTS = 10_000;
const MAX_WINDOW_BYTES = 16 * 1024 * 1024;
const READ_CHUNK = 500;
const POLL_INTERVAL_MS = 1000;

export class SinkDispatcher {
  /** Events waiting for a batch, per lane, in seq order. */
  private readonly ready: Item[][];
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
  private readCursor = 0;
  private windowCount = 0;
  private windowBytes = 0;
  /** Moving mean of event sizes read from disk, to size reads by bytes. */
  private meanEventBytes = 2048;
  private moreOnDisk = true;
  private notifyVersion = 0;
  private filling = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Monotonic (performance.now): a wall-clock jump must not stall or rush batching. */
  private lingerUntil = 0;
  private stopping = false;
  /** Shutting down: send what is in memory at once, read nothing more from disk. */
  private draining = false;
  private readonly pollTimer: NodeJS.Timeout;
  private readonly windowLimit: number;
  readonly counters = { delivered: 0, deadLettered: 0, retried: 0, examined: 0, fills: 0 };

  constructor(
    private readonly queue: DurableQueue,
    private readonly runner: SinkRunner,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    const { batch, max_in_flight } = runner.config;
    this.windowLimit = Math.min(MAX_WINDOW_EVENTS, Math.max(2000, batch.max_events * max_in_flight * 4));
    this.laneBusy = new Array<boolean>(max_in_flight).fill(false);
    this.ready = Array.from({ length: max_in_flight }, () => []);
    this.runnable = new Array<number>(max_in_flight).fill(0);
    this.pollTimer = setInterval(() => this.notify(), POLL_INTERVAL_MS);
    this.pollTimer.unref();
  }

  get name(): string {
    return this.runner.name;
  }

  start(): void {
    void this.runner.connect().then(() => {
      this.notify();
    });
    this.notify();
  }

  /**
   * A group commit. When this sink is caught up (nothing left on disk, cursor right before the
   * commit, room in the window) its events are taken from memory: no read back, no parse.
   * Otherwise the sink falls back to reading the queue. The cursor only ever moves forward past
   * seqs that are known to hold nothing more for this sink, so nothing can be skipped.
   */
  onCommitted(notice: CommitNotice): void {
    if (this.stopping || this.draining) return;
    const mine = notice.events.filter((c) => c.record.sinks.includes(this.name));
    const caughtUp =
      notice.contiguous &&
      !this.filling &&
      !this.moreOnDisk &&
      this.readCursor === notice.firstSeq - 1 &&
      this.windowCount + mine.length <= this.windowLimit &&
      this.windowBytes < MAX_WINDOW_BYTES;
    if (!caughtUp) {
      if (mine.length > 0) this.notify();
      return;
    }
    // While the sink is failing, events may wait long: keep only their JSON, not the parsed
    // objects (several times larger), so that a window of waiting events stays small.
    const keepParsed = this.retryGroups.size === 0 && this.dueRetries.length === 0;
    for (const { seq, record, event } of mine) {
      const bytes = record.body.length;
      this.addReady({ seq, id: record.id, subject: record.subject, lane: laneOf(record.subject, this.laneBusy.length), body: record.body, bytes, attempts: 0, event: keepParsed ? event : undefined });
      this.windowCount++;
      this.windowBytes += bytes;
    }
    this.readCursor = notice.lastSeq;
    if (mine.length > 0) {
      if (this.lingerUntil === 0) this.lingerUntil = performance.now() + this.runner.config.batch.max_wait_ms;
      this.pump();
    }
  }

  /** New events for this sink were committed (or may have been, e.g. by `dlq replay`). */
  notify(): void {
    this.notifyVersion++;
    this.moreOnDisk = true;
    void this.fill();
  }

  stats(): DispatcherStats {
    let waiting = 0;
    for (const g of this.retryGroups) waiting += g.items.length;
    for (const g of this.dueRetries) waiting += g.length;
    return { inFlight: this.inFlight, window: this.windowCount, waitingRetry: waiting, ...this.counters };
  }

  /**
   * Flushes what is already batched in memory (no linger), waits for in-flight batches, bounded by
   * the deadline, then closes the sink. Whatever is not delivered stays queued on disk.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.pollTimer);
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    for (const g of this.retryGroups) if (g.timer) clearTimeout(g.timer);
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
    await this.runner.close(Math.max(1000, deadlineMs - Date.now()));
  }

  private async fill(): Promise<void> {
    if (this.filling || this.stopping || this.draining) return;
    this.filling = true;
    this.counters.fills++;
    let rounds = 0;
    try {
      while (this.moreOnDisk && !this.stopping && this.windowCount < this.windowLimit && this.windowBytes < MAX_WINDOW_BYTES) {
        rounds++;
        const version = this.notifyVersion;
        // Every commit acknowledged before this read is visible to it.
        const horizon = this.queue.maxSeq;
        // Bounded by bytes too (by the mean size read so far): 500 large events are a lot of memory.
        const roomByBytes = Math.max(1, Math.floor((MAX_WINDOW_BYTES - this.windowBytes) / this.meanEventBytes));
        const want = Math.min(READ_CHUNK, this.windowLimit - this.windowCount, roomByBytes);
        let rows: StoredEvent[];
        try {
          rows = await this.queue.read(this.name, this.readCursor, want);
        } catch (error) {
          this.logger.error({ code: 'QUEUE_READ_FAILED', err: (error as Error).message }, `cannot read queue for sink ${this.name}`);
          break;
        }
        for (const row of rows) {
          const bytes = row.body.length;
          this.meanEventBytes += (bytes - this.meanEventBytes) / 64;
          this.addReady({ seq: row.seq, id: row.id, subject: row.subject, lane: laneOf(row.subject, this.laneBusy.length), body: row.body, bytes, attempts: 0 });
          this.windowCount++;
          this.windowBytes += bytes;
          this.readCursor = row.seq;
        }
        if (rows.length > 0 && this.lingerUntil === 0) this.lingerUntil = performance.now() + this.runner.config.batch.max_wait_ms;
        if (rows.length < want && version === this.notifyVersion) {
          this.moreOnDisk = false;
          // Caught up: seqs up to the horizon hold nothing more for this sink.
          if (horizon > this.readCursor) this.readCursor = horizon;
        }
        this.pump();
      }
    } finally {
      this.filling = false;
    }
    // Only after a read: pump() may call fill() again, and a fill that reads nothing must not
    // bounce between the two synchronously (that overflowed the stack once the window was full).
    if (rounds > 0) this.pump();
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
    if (this.moreOnDisk && !this.filling && !this.draining && this.windowCount < this.windowLimit && this.windowBytes < MAX_WINDOW_BYTES) void this.fill();
  }

  private armLinger(): void {
    if (this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.pump();
    }, Math.max(0, this.lingerUntil - performance.now()));
  }

  /** The lane's next batch in seq order, skipping subjects that are held (and everything after them). */
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
          const event = item.event ?? (JSON.parse(item.body) as CanonicalEvent);
          rememberEventJson(event, item.body);
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
      switch (outcome.kind) {
        case 'ok':
          await this.ack(sendable);
          break;
        case 'fatal':
          for (const item of sendable) {
            item.attempts++;
            item.lastCode = outcome.code;
            item.lastError = outcome.message;
          }
          await this.deadLetter(sendable);
          break;
        case 'retry':
          this.failAll(sendable, outcome.code, outcome.message, outcome.retryAfterMs);
          break;
        case 'partial':
          await this.partial(sendable, outcome.failures);
          break;
      }
    } finally {
      if (lane >= 0) this.laneBusy[lane] = false;
      this.inFlight--;
      for (const done of this.inFlightDone) done();
      this.inFlightDone.clear();
      this.pump();
    }
  }

  private async partial(items: Item[], failures: readonly ItemFailure[]): Promise<void> {
    const byIndex = new Map<number, ItemFailure>();
    for (const f of failures) byIndex.set(f.index, f);
    const delivered: Item[] = [];
    const fatal: Item[] = [];
    const retry: Item[] = [];
    let retryAfterMs = 0;
    items.forEach((item, index) => {
      const failure = byIndex.get(index);
      if (!failure) return delivered.push(item);
      if (!failure.notAttempted) item.attempts++;
      item.lastCode = failure.code;
      item.lastError = failure.message;
      if (!failure.retriable) return fatal.push(item);
      retryAfterMs = Math.max(retryAfterMs, failure.retryAfterMs ?? 0);
      retry.push(item);
    });
    await this.ack(delivered);
    await this.deadLetter(fatal);
    if (retry.length) this.scheduleRetry(retry, retryAfterMs, retry[0]!.lastCode!, retry[0]!.lastError!);
  }

  private failAll(items: Item[], code: string, message: string, retryAfterMs?: number): void {
    for (const item of items) {
      item.attempts++;
      item.lastCode = code;
      item.lastError = message;
    }
    this.scheduleRetry(items, retryAfterMs ?? 0, code, message);
  }

  private scheduleRetry(items: Item[], retryAfterMs: number, code: string, message: string): void {
    const { max_attempts, initial_backoff_ms, max_backoff_ms } = this.runner.config.retry;
    const exhausted = items.filter((i) => i.attempts >= max_attempts);
    const again = items.filter((i) => i.attempts < max_attempts);
    if (exhausted.length) {
      for (const item of exhausted) {
        item.lastCode = `RETRIES_EXHAUSTED:${item.lastCode}`;
      }
      void this.deadLetter(exhausted);
    }
    if (again.length === 0) return;
    // A failing sink may keep these for a long time: hold their JSON only (re-parsed on retry).
    for (const item of again) item.event = undefined;
    this.metrics.retried.inc({ sink: this.name, code }, again.length);
    this.counters.retried += again.length;
    // Held-back events (not attempted) may share the group: back off by the most-tried event.
    let attempts = 0;
    for (const item of again) attempts = Math.max(attempts, item.attempts);
    const delay = Math.max(retryAfterMs, backoffDelay(attempts, initial_backoff_ms, max_backoff_ms));
    this.logger.warn(
      { code: 'SINK_WRITE_RETRY', errorCode: code, err: message, events: again.length, attempt: attempts, retryInMs: delay },
      `sink ${this.name}: ${again.length} event(s) failed (${code}); retry ${attempts + 1}/${max_attempts} in ${delay} ms`,
    );
    const group: RetryGroup = { items: again, timer: undefined };
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
      await this.queue.ack(
        this.name,
        items.map((i) => i.seq),
      );
    } catch (error) {
      // Delivered but not recorded: they will be redelivered after a restart (same ids).
      this.logger.error({ code: 'QUEUE_ACK_FAILED', err: (error as Error).message, events: items.length }, `cannot record delivery for sink ${this.name}`);
    }
    this.counters.delivered += items.length;
    this.metrics.delivered.inc({ sink: this.name }, items.length);
    this.release(items);
  }

  private async deadLetter(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    try {
      await this.queue.deadLetter(
        this.name,
        items.map((i) => ({ seq: i.seq, attempts: i.attempts, code: i.lastCode ?? 'UNKNOWN', error: i.lastError ?? '' })),
      );
    } catch (error) {
      this.logger.error({ code: 'QUEUE_DEAD_LETTER_FAILED', err: (error as Error).message, events: items.length }, `cannot dead-letter for sink ${this.name}`);
    }
    for (const item of items) {
      this.metrics.deadLettered.inc({ sink: this.name, code: item.lastCode ?? 'UNKNOWN' });
      this.logger.error(
        { code: 'EVENT_DEAD_LETTERED', eventId: item.id, subject: item.subject, errorCode: item.lastCode, err: item.lastError, attempts: item.attempts },
        `sink ${this.name}: event ${item.id} dead-lettered (${item.lastCode})`,
      );
    }
    this.counters.deadLettered += items.length;
    this.release(items);
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
