/**
 * One sink's backlog in the local queue (src/queue/index.ts), offered to the delivery engine.
 *
 * - Reads the sink's pending rows in seq order from a read cursor, as far as the engine has room
 *   (by events, and by bytes using the mean event size read so far).
 * - Fast path: when the sink is caught up (nothing left on disk, cursor right before the commit,
 *   room in the window) the events of a group commit are taken from memory, parsed objects
 *   included: no read back, no parse.
 * - The cursor only moves forward past seqs known to hold nothing more for this sink (a read that
 *   returned less than asked, with no commit noticed meanwhile, up to the horizon sampled before
 *   it), so nothing is skipped. A poll each second catches writers that do not notify (dlq replay).
 * - Acks ride along with the next group commit; dead letters are their own transaction.
 */
import type { CommitNotice, DurableQueue, StoredEvent } from '../index.js';
import type { DeadLetterItem, DeliveryConsumer, DeliverySource, QueuedEvent, SourceContext } from '../queue.js';

const READ_CHUNK = 500;
const POLL_INTERVAL_MS = 1000;

export class LocalSource implements DeliverySource {
  private consumer: DeliveryConsumer | undefined;
  private readCursor = 0;
  private moreOnDisk = true;
  private notifyVersion = 0;
  private filling = false;
  private closed = false;
  /** Moving mean of event sizes read from disk, to size reads by bytes. */
  private meanEventBytes = 2048;
  private pollTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  fills = 0;

  constructor(
    private readonly queue: DurableQueue,
    private readonly sink: string,
    private readonly context: SourceContext,
  ) {}

  open(consumer: DeliveryConsumer): void {
    this.consumer = consumer;
    this.unsubscribe = this.queue.onCommitted((notice) => this.onCommitted(notice));
    this.pollTimer = setInterval(() => this.notify(), POLL_INTERVAL_MS);
    this.pollTimer.unref();
    this.notify();
  }

  pull(): void {
    if (this.moreOnDisk && !this.filling) void this.fill();
  }

  ack(events: readonly QueuedEvent[]): Promise<void> {
    return this.queue.ack(
      this.sink,
      events.map((e) => e.ref),
    );
  }

  deadLetter(items: readonly DeadLetterItem[]): Promise<void> {
    return this.queue.deadLetter(
      this.sink,
      items.map((i) => ({ seq: i.event.ref, attempts: i.attempts, code: i.code, error: i.error })),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.unsubscribe?.();
  }

  /** New events for this sink were committed (or may have been, e.g. by `dlq replay`). */
  private notify(): void {
    this.notifyVersion++;
    this.moreOnDisk = true;
    void this.fill();
  }

  private onCommitted(notice: CommitNotice): void {
    const consumer = this.consumer;
    if (this.closed || !consumer || consumer.draining) return;
    const mine = notice.events.filter((c) => c.record.sinks.includes(this.sink));
    const room = consumer.room();
    const caughtUp = notice.contiguous && !this.filling && !this.moreOnDisk && this.readCursor === notice.firstSeq - 1 && room.events >= mine.length && room.bytes > 0;
    if (!caughtUp) {
      if (mine.length > 0) this.notify();
      return;
    }
    this.readCursor = notice.lastSeq;
    if (mine.length > 0) consumer.offer(mine.map(({ seq, record, event }) => ({ ref: seq, id: record.id, subject: record.subject, body: record.body, bytes: record.body.length, event })));
  }

  private async fill(): Promise<void> {
    const consumer = this.consumer;
    if (this.filling || this.closed || !consumer || consumer.draining) return;
    this.filling = true;
    this.fills++;
    try {
      for (let room = consumer.room(); this.moreOnDisk && !this.closed && room.events > 0 && room.bytes > 0; room = consumer.room()) {
        const version = this.notifyVersion;
        // Every commit acknowledged before this read is visible to it.
        const horizon = this.queue.maxSeq;
        // Bounded by bytes too (by the mean size read so far): 500 large events are a lot of memory.
        const want = Math.min(READ_CHUNK, room.events, Math.max(1, Math.floor(room.bytes / this.meanEventBytes)));
        let rows: StoredEvent[];
        try {
          rows = await this.queue.read(this.sink, this.readCursor, want);
        } catch (error) {
          this.context.logger.error({ code: 'QUEUE_READ_FAILED', err: (error as Error).message }, `cannot read queue for sink ${this.sink}`);
          break;
        }
        if (this.closed) break;
        const events: QueuedEvent[] = [];
        for (const row of rows) {
          const bytes = row.body.length;
          this.meanEventBytes += (bytes - this.meanEventBytes) / 64;
          events.push({ ref: row.seq, id: row.id, subject: row.subject, body: row.body, bytes });
          this.readCursor = row.seq;
        }
        if (rows.length < want && version === this.notifyVersion) {
          this.moreOnDisk = false;
          // Caught up: seqs up to the horizon hold nothing more for this sink.
          if (horizon > this.readCursor) this.readCursor = horizon;
        }
        // Still `filling`: a pull() from the engine's pump() during the offer is left to this loop,
        // which looks at the room again (a fill that reads nothing must not bounce synchronously
        // between the two: that overflowed the stack once, with a window full by bytes).
        consumer.offer(events);
      }
    } finally {
      this.filling = false;
    }
  }
}
