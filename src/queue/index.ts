/**
 * Durable local queue.
 *
 * WHY SQLITE: better-sqlite3@12 in WAL mode with synchronous=FULL. It is a proven crash-safe store
 * (checksummed WAL frames, atomic commits), and group commit is simply "many appends in one
 * transaction". Chosen by measurement (bench/lib/queue-store.js, `npm run bench`: an event's whole
 * life — append, then its delivery recorded in the next commit — at the batch sizes ingest produces;
 * 2026-12-01, ~1.3 KB events, CPU per event / records per second):
 *
 *   batch   schema 1 (4 row ops/event)   schema 2 (1 insert, cursors)   CRC-framed segment log (JS)
 *       8        31.4 µs / 23k/s               15.6 µs / 40k/s                15.7 µs / 36k/s
 *      32        16.5 µs / 51k/s                8.1 µs / 91k/s                11.1 µs / 65k/s
 *     128        15.3 µs / 58k/s                7.2 µs / 113k/s               10.7 µs / 76k/s
 *
 * One insert per event halves the store's CPU; a hand-written log costs as much in JavaScript
 * (framing, CRC) as SQLite does in C, without SQLite's recovery, so the store stays SQLite. (lmdb was
 * measured for issue #22 at 27 µs per event for the four operations, better-sqlite3 14 µs.)
 * better-sqlite3 is synchronous, so the write connection lives in a worker thread (worker.ts): fsync
 * never blocks the HTTP event loop. A commit's appends reach it as UTF-8 in one transferred buffer
 * (wire.ts), written as they are appended, and the body is stored from those bytes as they are.
 *
 * INVARIANTS
 * 1. An append resolves (and ingest answers 200) only after the transaction holding the event is
 *    committed with synchronous=FULL, i.e. the WAL is fsync'd. A failed commit rejects every
 *    append of the batch: no 200 for an event that is not on disk.
 * 2. An event is stored once (`events`, one row) with the sinks it must reach in its `sinks`
 *    column. For each sink the event is pending until the sink delivered it or it was copied to
 *    `dead_letters` for that sink (see CURSORS for how that is recorded).
 * 3. An event row is reclaimed once it is done for every sink in its `sinks`: by the commit that
 *    finds 256 such events behind every cursor, or 1 s after the last deletion (WRITE_BEHIND_* in
 *    store.ts: a page emptied at once is freed once), or by the `settle` transaction that follows
 *    the last commit by 100 ms once commits stop (SETTLE_AFTER_MS), or at close. Done events left
 *    by a crash are deleted by the first commit after the next open.
 * 4. Per sink, events are read in `seq` order (= commit order), which is the order the delivery
 *    engine keeps per conversation (subject).
 *
 * RECORD FORMAT (SQLite tables, see store.ts), schema 2
 *   events(seq INTEGER PK AUTOINCREMENT, id, subject, bytes, enqueued_ms, sinks, body)
 *                                       seq is never reused (cursors only move forward)
 *                                       sinks = ",a,b," (sink names have no commas)
 *                                       body = canonical event JSON
 *   cursors(sink PK, done_through) WITHOUT ROWID                        one row per sink
 *   pending(sink, seq) WITHOUT ROWID, index on seq                      spilled events (CURSORS)
 *   dead_letters(dlq_id, kind event|unmatched|request, sink, event_id, subject, attempts,
 *                error_code, error, failed_ms, body)
 *   meta(key, value)                                                 schema_version, clean_shutdown
 *   Schema 1 (one pending row per event and sink) is migrated at open, once: its rows stay as
 *   pending rows, every cursor starts at the highest seq.
 *
 * CURSORS
 *   A sink's cursor `done_through` says: every event at or below it is done for the sink — not
 *   routed to it, delivered, or dead-lettered — except those with a `pending` row. Events above it
 *   that are routed to it are pending, except those the sink already has out of order, which the
 *   store remembers in memory only. Each commit moves every cursor forward over done events (at most
 *   8192 rows per commit) and deletes the events below the lowest cursor that have no pending row.
 *   The rows a cursor moves over are read from memory when this connection appended them (their
 *   routing, size and time: AppendedTail in store.ts, emptied on a rollback or another writer's
 *   commit), else from SQLite.
 *   A cursor is written once it moved 256 events or 1 s after it was last written (and always past
 *   a spilled event, at settle and at close): a crash forgets at most that much progress, which is
 *   delivered again.
 *   An event still pending after SPILL_AFTER_MS (1 s) that holds back done events (a conversation
 *   waiting for a retry, a sink that is down but gets only some events) becomes a `pending` row
 *   and the cursor goes on: so one held event never keeps other events on disk, and what is kept
 *   in memory stays small. Its delivery deletes the row (and the event, when no sink holds it).
 *
 * FSYNC AND ACK RULES
 *   Appends arriving while commits are in flight are gathered and committed together (natural
 *   group commit: one fsync for many requests). At most two commits are in flight: the worker runs
 *   them one after the other, so while one is fsync'd the next is already waiting. An idle queue
 *   commits after `queue.max_wait_ms` (1 ms by default: at half load a few appends share an fsync,
 *   where each used to pay one; under full load commits follow each other without waiting), or at
 *   the next turn of the event loop when it is 0. At most
 *   `queue.max_batch_events` events share one transaction. Deliveries (acks) recorded by sinks
 *   ride along in the next group commit instead of paying an fsync of their own; losing one in a
 *   crash only means redelivery (at-least-once, same event id). Dead-letters are their own
 *   transactions (they copy the event first).
 *
 * CAPACITY
 *   `queue.max_events`, `queue.max_bytes` (stored event bytes) and `queue.min_free_bytes` (disk)
 *   are checked before an append; when exceeded the append is refused with a QueueUnavailableError
 *   (ingest answers 503) and readiness turns false. A commit that fails (SQLITE_FULL, I/O error)
 *   refuses its whole batch the same way; the next append simply tries again. While space is
 *   short, the worker checkpoints and truncates the WAL and runs an incremental vacuum
 *   (auto_vacuum=INCREMENTAL) each second, so the pages of delivered events go back to the file
 *   system and the queue recovers by itself. Keep min_free_bytes > 0: with no headroom at all,
 *   SQLite cannot even record deliveries, and an operator must free space.
 *
 * RECOVERY
 *   SQLite replays the WAL on open and cuts a torn tail (frames whose checksum fails). After an
 *   unclean stop (meta.clean_shutdown = 0) `PRAGMA quick_check` verifies the pages; a database that
 *   fails it is moved aside (`queue.db.corrupt-<ms>`), reported, and a fresh one started, so a
 *   corrupt file never causes a crash loop. Every sink then resumes from its first pending row;
 *   events whose ack was lost are redelivered with their ids — so are those a sink had delivered
 *   out of order beyond its cursor (memory only; bounded by the 1 s spill rule).
 *
 *   Every byte on disk counts. Acknowledged events in the dead-letter store (a sink dead-lettered
 *   them, or no route matched) have their own budget, `queue.dead_letter_max_bytes` /
 *   `dead_letter_max_events`: when it is full, appends are refused (QUEUE_FULL_DEAD_LETTERS, 503) until
 *   an operator replays or purges — they are never evicted. A sink may still dead-letter events
 *   already queued (they were acknowledged; refusing would strand them), so the dead-letter store can
 *   exceed its budget by at most what the queue itself holds. Readiness asks for headroom: one more
 *   event of `headroom_bytes` (2 × listen.body_limit_bytes) must fit, so /readyz never says ready while
 *   typical callbacks get 503.
 *
 * RETENTION
 *   Events live until every routed sink has them. Dead letters of kinds event and unmatched live
 *   until `im-bridge dlq purge`. Quarantined requests (kind request: refused, never acknowledged) are
 *   bounded by `queue.quarantine_max_bytes` and `quarantine_max_age_ms`: the oldest are evicted,
 *   counted (im_bridge_requests_quarantine_evicted_total) and logged.
 */
import fs from 'node:fs';
import { compiledSibling } from '../util/compiled-sibling.js';
import { Worker } from 'node:worker_threads';
import type { AppendRecord, DeadLetterInput, DeadLetterRow, QuarantineInput, RecoveryReport, StoredEvent, StoreStats } from './store.js';
import type { QueueConfig } from '../config/schema.js';
import type { CanonicalEvent } from '../normalize/event.js';

export type { AppendRecord, StoredEvent, StoreStats, DeadLetterRow, RecoveryReport } from './store.js';

export { QueueUnavailableError, type QueueRefusal, type QueueHealth } from './queue.js';
import { QueueUnavailableError, type QueueRefusal, type QueueHealth } from './queue.js';
import { WORKER_YOUNG_GENERATION_MB } from '../util/heap.js';
import { WireBatch, WirePool } from './wire.js';

/** Events of one group commit, handed to the delivery engine so it need not read them back. */
export interface CommitNotice {
  events: Array<{ seq: number; record: AppendRecord; event: CanonicalEvent | undefined }>;
  firstSeq: number;
  lastSeq: number;
  /** No other writer (e.g. `im-bridge dlq replay`) committed between our previous commit and this one. */
  contiguous: boolean;
}

interface PendingAppend {
  record: AppendRecord;
  bytes: number;
  event: CanonicalEvent | undefined;
  resolve: (seq: number) => void;
  reject: (error: Error) => void;
}

/** Appends not yet posted to the worker, written into one commit's wire (at most max_batch_events). */
interface OpenBatch {
  wire: WireBatch;
  appends: PendingAppend[];
}

interface PendingAck {
  sink: string;
  seqs: readonly number[];
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Two commits may be in flight: the worker runs them one after the other, but while it fsyncs one,
 * the next batch is already posted and waiting, so the disk never idles while the event loop
 * gathers. More would only split batches (more fsyncs) without shortening the wait.
 */
const MAX_COMMITS_IN_FLIGHT = 2;
/** Quiet time after a commit before write-behind progress is written on its own (settleSoon). */
const SETTLE_AFTER_MS = 100;

export interface QueueOptions
  extends Pick<QueueConfig, 'dir' | 'max_bytes' | 'max_events' | 'max_wait_ms' | 'max_batch_events' | 'min_free_bytes'>,
    Partial<Pick<QueueConfig, 'dead_letter_max_bytes' | 'dead_letter_max_events' | 'quarantine_max_bytes' | 'quarantine_max_age_ms'>> {
  checkIntegrity?: 'auto' | 'always' | 'never';
  /** Readiness: the queue must be able to take one more event of this size (default 0). */
  headroom_bytes?: number;
}

export class DurableQueue {
  /** Events and bytes currently stored (not counting dead letters). */
  events = 0;
  bytes = 0;
  maxSeq = 0;
  readonly recovery: RecoveryReport;
  private readonly worker: Worker;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextCallId = 1;
  /** Appends not yet posted, oldest first; the first is the next commit's. */
  private open: OpenBatch[] = [];
  private openAppends = 0;
  private readonly wirePool = new WirePool();
  private acks: PendingAck[] = [];
  /** Commits posted to the worker and not yet answered (see MAX_COMMITS_IN_FLIGHT). */
  private commitsInFlight = 0;
  private flushTimer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** Armed when a commit leaves write-behind progress in memory; fires if no commit follows. */
  private settleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private diskFree = Number.POSITIVE_INFINITY;
  private lastWriteError: string | undefined;
  private readonly diskTimer: NodeJS.Timeout;
  private readonly committedListeners: Array<(notice: CommitNotice) => void> = [];
  /** Appends committed since start, for metrics. */
  committedBatches = 0;
  /** Acknowledged events in the dead-letter store and their bytes (refreshed from disk by refreshTotals). */
  deadLetterEvents = 0;
  deadLetterBytes = 0;
  /** Quarantined requests evicted since start (by size or age). */
  quarantineEvicted = 0;
  private readonly sweepTimer: NodeJS.Timeout;

  private constructor(
    private readonly options: QueueOptions,
    worker: Worker,
    recovery: RecoveryReport,
  ) {
    this.worker = worker;
    this.recovery = recovery;
    this.events = recovery.events;
    this.bytes = recovery.bytes;
    this.maxSeq = recovery.maxSeq;
    worker.on('message', (message: { id: number; ok: boolean; result?: unknown; error?: { message: string; code?: string }; buffer?: ArrayBuffer }) => {
      if (message.buffer) this.wirePool.give(message.buffer);
      const call = this.calls.get(message.id);
      if (!call) return;
      this.calls.delete(message.id);
      if (message.ok) call.resolve(message.result);
      else call.reject(Object.assign(new Error(message.error?.message ?? 'queue worker error'), { code: message.error?.code }));
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => this.failAll(new Error(`queue worker exited with code ${code}`)));
    this.checkDisk();
    this.diskTimer = setInterval(() => this.checkDisk(), 1000);
    this.diskTimer.unref();
    this.sweepTimer = setInterval(() => {
      if (!this.closed) this.call('sweepQuarantine').then((r) => (this.quarantineEvicted += (r as { evicted: number }).evicted), () => undefined);
    }, 60_000);
    this.sweepTimer.unref();
  }

  static async open(options: QueueOptions): Promise<DurableQueue> {
    fs.mkdirSync(options.dir, { recursive: true });
    const quarantine = { maxBytes: options.quarantine_max_bytes ?? Number.POSITIVE_INFINITY, maxAgeMs: options.quarantine_max_age_ms ?? Number.POSITIVE_INFINITY };
    const worker = new Worker(workerUrl(), {
      // The worker's objects live for one commit (the records it binds, the seqs it returns): V8's
      // default young generation (up to 3 × 16 MB) only held ~12 MB more RSS (bench case 4).
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      workerData: { dir: options.dir, checkIntegrity: options.checkIntegrity, quarantine },
    });
    const recovery = await new Promise<RecoveryReport>((resolve, reject) => {
      const onMessage = (message: { id: number; ok: boolean; result?: RecoveryReport; error?: { message: string } }) => {
        if (message.id !== 0) return;
        worker.off('message', onMessage);
        if (message.ok) resolve(message.result!);
        else reject(new Error(`cannot open queue in ${options.dir}: ${message.error?.message}`));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    return new DurableQueue(options, worker, recovery);
  }

  /** Listen for group commits (the events, their seqs, and whether the seq range is contiguous). */
  onCommitted(listener: (notice: CommitNotice) => void): () => void {
    this.committedListeners.push(listener);
    return () => {
      const at = this.committedListeners.indexOf(listener);
      if (at >= 0) this.committedListeners.splice(at, 1);
    };
  }

  health(): QueueHealth {
    const refusal = this.refusal(1, this.options.headroom_bytes ?? 0);
    if (refusal) return { writable: false, reason: refusal.message, code: refusal.code };
    if (this.lastWriteError) return { writable: false, reason: this.lastWriteError, code: 'QUEUE_WRITE_FAILED' };
    return { writable: true };
  }

  /**
   * Resolves with the event's seq once it is fsync'd (0 for an unmatched event kept as a dead
   * letter). `event`, the parsed form of record.body, lets caught-up sinks skip a read and a parse.
   */
  append(record: AppendRecord, event?: CanonicalEvent): Promise<number> {
    let batch = this.open[this.open.length - 1];
    if (batch === undefined || batch.appends.length >= this.options.max_batch_events) {
      batch = { wire: new WireBatch(this.wirePool), appends: [] };
      this.open.push(batch);
    }
    // Written now: the UTF-8 size is what the capacity checks need, and writing it costs what measuring it did.
    const bytes = batch.wire.add(record);
    record.bytes = bytes;
    const refusal = this.refusal(1 + this.openAppends, bytes);
    if (refusal) {
      batch.wire.dropLast();
      if (batch.appends.length === 0) {
        this.open.pop();
        batch.wire.release();
      }
      return Promise.reject(refusal);
    }
    return new Promise<number>((resolve, reject) => {
      batch.appends.push({ record, bytes, event, resolve, reject });
      this.openAppends++;
      if (this.open[0]!.appends.length >= this.options.max_batch_events && this.commitsInFlight < MAX_COMMITS_IN_FLIGHT) this.flush();
      else this.scheduleFlush();
    });
  }

  read(sink: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.call('read', sink, afterSeq, limit) as Promise<StoredEvent[]>;
  }

  /** Records deliveries; they are committed with the next group commit (no fsync of their own). */
  ack(sink: string, seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new QueueUnavailableError('QUEUE_CLOSED', 'the queue is closed'));
    return new Promise<void>((resolve, reject) => {
      this.acks.push({ sink, seqs, resolve, reject });
      this.scheduleFlush();
    });
  }

  async deadLetter(sink: string, items: readonly DeadLetterInput[]): Promise<void> {
    if (items.length === 0) return;
    const reclaimed = (await this.call('deadLetter', sink, items)) as { events: number; bytes: number; deadEvents: number; deadBytes: number };
    this.events -= reclaimed.events;
    this.bytes -= reclaimed.bytes;
    this.deadLetterEvents += reclaimed.deadEvents;
    this.deadLetterBytes += reclaimed.deadBytes;
  }

  async quarantine(input: QuarantineInput): Promise<number> {
    const { id, evicted } = (await this.call('quarantine', input)) as { id: number; evicted: number };
    this.quarantineEvicted += evicted;
    return id;
  }

  /** Depth, bytes and oldest event per sink, from counters (no scan of the backlog). */
  stats(): Promise<StoreStats> {
    return this.call('liveStats') as Promise<StoreStats>;
  }

  listDeadLetters(filter: { sink?: string; sinceMs?: number; kind?: string; limit?: number } = {}): Promise<DeadLetterRow[]> {
    return this.call('listDeadLetters', filter) as Promise<DeadLetterRow[]>;
  }

  async replay(filter: { sink?: string; sinceMs?: number; ids?: number[]; toSink?: string }): Promise<{ replayed: number; skipped: number }> {
    const result = (await this.call('replay', filter)) as { replayed: number; skipped: number };
    await this.refreshTotals();
    return result;
  }

  /** Re-reads totals from disk (another process, e.g. `im-bridge dlq replay`, may have written). */
  async refreshTotals(): Promise<StoreStats> {
    const stats = await this.stats();
    this.events = stats.events;
    this.bytes = stats.bytes;
    this.deadLetterEvents = stats.deadLetterEvents;
    this.deadLetterBytes = stats.deadLetterBytes;
    return stats;
  }

  /** Commits what is gathered, then stops the worker (marking a clean shutdown). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.diskTimer);
    clearInterval(this.sweepTimer);
    clearTimeout(this.settleTimer);
    while (this.openAppends > 0 || this.acks.length > 0 || this.commitsInFlight > 0) {
      if (this.commitsInFlight < MAX_COMMITS_IN_FLIGHT) this.flush();
      await new Promise((r) => setTimeout(r, 1));
    }
    try {
      await this.call('close');
    } finally {
      await this.worker.terminate();
    }
  }

  private refusal(extraEvents: number, extraBytes: number): QueueUnavailableError | undefined {
    if (this.closed) return new QueueUnavailableError('QUEUE_CLOSED', 'the queue is closed (shutting down)');
    if (this.events + extraEvents > this.options.max_events) {
      return new QueueUnavailableError('QUEUE_FULL_EVENTS', `queue is full: ${this.events} events stored, limit queue.max_events=${this.options.max_events}`);
    }
    if (this.bytes + extraBytes > this.options.max_bytes) {
      return new QueueUnavailableError('QUEUE_FULL_BYTES', `queue is full: ${this.bytes} bytes stored, limit queue.max_bytes=${this.options.max_bytes}`);
    }
    // Unmatched events go straight to the dead-letter store; every other event may end there.
    const maxDeadEvents = this.options.dead_letter_max_events ?? Number.POSITIVE_INFINITY;
    const maxDeadBytes = this.options.dead_letter_max_bytes ?? Number.POSITIVE_INFINITY;
    if (this.deadLetterEvents >= maxDeadEvents || this.deadLetterBytes >= maxDeadBytes) {
      return new QueueUnavailableError(
        'QUEUE_FULL_DEAD_LETTERS',
        `dead-letter store is full: ${this.deadLetterEvents} events, ${this.deadLetterBytes} bytes, limits queue.dead_letter_max_events=${maxDeadEvents}, dead_letter_max_bytes=${maxDeadBytes}; inspect with \`im-bridge dlq list\`, then replay or purge`,
      );
    }
    if (this.diskFree - extraBytes < this.options.min_free_bytes) {
      return new QueueUnavailableError('QUEUE_DISK_FULL', `disk almost full: ${this.diskFree} bytes free in ${this.options.dir}, below queue.min_free_bytes=${this.options.min_free_bytes}`);
    }
    return undefined;
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.commitsInFlight >= MAX_COMMITS_IN_FLIGHT) return;
    this.flushTimer =
      this.options.max_wait_ms > 0 ? setTimeout(() => this.flush(), this.options.max_wait_ms) : setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer as NodeJS.Timeout);
      clearImmediate(this.flushTimer as NodeJS.Immediate);
      this.flushTimer = undefined;
    }
    if (this.commitsInFlight >= MAX_COMMITS_IN_FLIGHT || (this.openAppends === 0 && this.acks.length === 0)) return;
    const batch = this.open.shift();
    const taken = batch?.appends ?? [];
    this.openAppends -= taken.length;
    const acks = this.acks.splice(0);
    const ackArgs = acks.map((a) => [a.sink, a.seqs]);
    this.commitsInFlight++;
    (batch ? this.callWire(batch.wire, ackArgs) : this.call('commit', [], ackArgs)).then(
      (result) => {
        const { seqs, events: reclaimedEvents, bytes: reclaimedBytes, behind } = result as { seqs: number[]; events: number; bytes: number; behind: boolean };
        this.events -= reclaimedEvents;
        this.bytes -= reclaimedBytes;
        if (behind) this.settleSoon();
        for (const a of acks) a.resolve();
        this.committedBatches++;
        this.lastWriteError = undefined;
        const previousMax = this.maxSeq;
        const committed: CommitNotice['events'] = [];
        let max = this.maxSeq;
        let committedBytes = 0;
        for (let i = 0; i < taken.length; i++) {
          const seq = seqs[i]!;
          const { record, event, bytes } = taken[i]!;
          committedBytes += bytes;
          if (seq > 0) {
            this.events++;
            this.bytes += bytes;
            if (seq > max) max = seq;
            committed.push({ seq, record, event });
          } else {
            this.deadLetterEvents++;
            this.deadLetterBytes += bytes;
          }
          taken[i]!.resolve(seq);
        }
        this.maxSeq = max;
        // statfs runs once a second; until then assume each byte costs two (WAL, then database).
        this.diskFree -= 2 * committedBytes;
        this.afterCommit();
        if (committed.length > 0) {
          const notice: CommitNotice = { events: committed, firstSeq: committed[0]!.seq, lastSeq: max, contiguous: committed[0]!.seq === previousMax + 1 };
          for (const listener of [...this.committedListeners]) listener(notice);
        }
      },
      (error: Error & { code?: string }) => {
        const refusal = new QueueUnavailableError(error.code === 'SQLITE_FULL' ? 'QUEUE_DISK_FULL' : 'QUEUE_WRITE_FAILED', this.writeFailed(error));
        for (const p of taken) p.reject(refusal);
        for (const a of acks) a.reject(refusal);
        this.afterCommit();
      },
    );
  }

  /**
   * Write-behind (store.ts) keeps some progress in memory while commits follow each other; once they
   * stop for SETTLE_AFTER_MS, one more transaction writes it, so that the files (read by `queue
   * stats`, `dlq`, a restart) catch up with what was delivered.
   */
  private settleSoon(): void {
    if (this.settleTimer) {
      this.settleTimer.refresh();
      return;
    }
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      if (this.closed) return;
      if (this.openAppends > 0 || this.acks.length > 0 || this.commitsInFlight > 0) return this.settleSoon();
      this.call('settle').then(
        (result) => {
          const { events, bytes } = result as { events: number; bytes: number };
          this.events -= events;
          this.bytes -= bytes;
          this.lastWriteError = undefined;
        },
        (error: Error & { code?: string }) => {
          // Nothing is lost: the progress stays in memory and is written by the next commit (which
          // arms this again) or at close. Like a failed commit, it makes the queue unready and
          // shows in /readyz; on a full disk the worker checkpoints to give space back.
          this.writeFailed(error);
        },
      );
    }, SETTLE_AFTER_MS);
    this.settleTimer.unref();
  }

  /** A transaction failed: the queue is unready until one succeeds; a full disk gets a checkpoint. */
  private writeFailed(error: Error & { code?: string }): string {
    const reason = `queue write failed: ${error.code ?? ''} ${error.message}`.trim();
    this.lastWriteError = reason;
    if (error.code === 'SQLITE_FULL') this.call('checkpoint').catch(() => undefined);
    return reason;
  }

  private afterCommit(): void {
    this.commitsInFlight--;
    if (this.openAppends > 0 || this.acks.length > 0) this.flush();
  }

  /** A commit whose appends travel as a transferred buffer (wire.ts); the worker sends it back. */
  private callWire(wire: WireBatch, acks: unknown[]): Promise<unknown> {
    const id = this.nextCallId++;
    const sealed = wire.seal();
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ id, op: 'commitWire', args: [sealed, acks] }, [sealed.buffer]);
    });
  }

  private call(op: string, ...args: unknown[]): Promise<unknown> {
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  private failAll(error: Error): void {
    for (const call of this.calls.values()) call.reject(error);
    this.calls.clear();
    for (const batch of this.open.splice(0)) {
      for (const p of batch.appends) p.reject(new QueueUnavailableError('QUEUE_WRITE_FAILED', error.message));
      batch.wire.release();
    }
    this.openAppends = 0;
    for (const a of this.acks.splice(0)) a.reject(new QueueUnavailableError('QUEUE_WRITE_FAILED', error.message));
  }

  private checkDisk(): void {
    fs.statfs(this.options.dir, (error, stats) => {
      if (!error) this.diskFree = stats.bavail * stats.bsize;
    });
    // After a failed write (e.g. disk full), give the WAL's space back so that appends can resume
    // once sinks have drained; the next append then clears lastWriteError.
    if ((this.lastWriteError || this.diskFree < this.options.min_free_bytes) && !this.closed) this.call('checkpoint').catch(() => undefined);
  }
}

/** Source runs (tests through ts-node) use the compiled worker: a worker thread cannot load .ts. */
function workerUrl(): URL {
  return compiledSibling(import.meta.url, './worker.js');
}
