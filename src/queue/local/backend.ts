/**
 * queue.type: local as a QueueBackend: the SQLite queue of src/queue/index.ts (its header has the
 * invariants and recovery rules), held under the exclusive lock of src/queue/lock.ts for the life
 * of the daemon, with one LocalSource per sink.
 */
import type { CanonicalEvent } from '../../normalize/event.js';
import type { QuarantineInput } from '../store.js';
import type { AppendRecord, DurableQueue, StoreStats } from '../index.js';
import type { QueueLock } from '../lock.js';
import type { DeliverySource, QueueBackend, QueueHealth, QueueReadiness, SourceContext } from '../queue.js';
import { LocalSource } from './source.js';

export class LocalQueueBackend implements QueueBackend {
  readonly type = 'local';

  constructor(
    /** The store itself, for the operations only the local queue has (dlq, replay, move). */
    readonly store: DurableQueue,
    private readonly lock: QueueLock,
  ) {}

  get stateDir(): string {
    return this.lock.dir;
  }

  get quarantineEvicted(): number {
    return this.store.quarantineEvicted;
  }

  append(record: AppendRecord, event?: CanonicalEvent): Promise<number> {
    return this.store.append(record, event);
  }

  quarantine(input: QuarantineInput): Promise<number> {
    return this.store.quarantine(input);
  }

  health(): QueueHealth {
    return this.store.health();
  }

  source(sink: string, context: SourceContext): DeliverySource {
    return new LocalSource(this.store, sink, context);
  }

  readiness(): QueueReadiness {
    const q = this.store;
    return { ...q.health(), events: q.events, bytes: q.bytes, deadLetters: { events: q.deadLetterEvents, bytes: q.deadLetterBytes } };
  }

  stats(): Promise<StoreStats> {
    return this.store.refreshTotals();
  }

  async close(): Promise<void> {
    try {
      await this.store.close();
    } finally {
      this.lock.release();
    }
  }
}
