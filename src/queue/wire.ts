/**
 * How a group commit's appends travel from the event loop to the queue worker: their id, subject
 * and body as UTF-8 in one ArrayBuffer that is transferred (moved, not copied), a small layout
 * array, and each distinct routing once. The worker binds each body as a slice of that buffer
 * (`CAST(? AS TEXT)` in store.ts: SQLite takes the bytes as the text they are, no conversion) and
 * sends the buffer back for the next commit.
 *
 * Why: posting the records as objects cost the event loop ~3 µs per event (V8's structured clone
 * of each record and its ~2.7 KB body, many of them two-byte strings), and the worker paid again to
 * rebuild the strings and to turn each one into UTF-8 for SQLite. Writing the body as UTF-8 costs
 * what Buffer.byteLength(body) cost before (the queue needs the size for its capacity checks), and
 * the copy happens once.
 *
 * FORMAT (per record, in append order; offsets relative to the buffer's start)
 *   bytes  [start, idEnd)        id, UTF-8
 *          [idEnd, subjectEnd)   subject, UTF-8
 *          [subjectEnd, end)     body (the canonical event JSON), UTF-8; the next record starts at end
 *   layout [idEnd, subjectEnd, end, route] for each record, route an index into `routes`
 *   routes the record's sinks joined by ',' (sink names have no commas; '' = no sink: unmatched)
 */
import type { AppendRecord, StoreRecord } from './store.js';

export interface Wire {
  buffer: ArrayBuffer;
  layout: number[];
  routes: string[];
}

/** Buffers smaller than this are not worth keeping; larger ones are not kept (a batch of 100 KB bodies). */
const MIN_BUFFER = 64 * 1024;
const MAX_POOLED_BUFFER = 1024 * 1024;
const MAX_POOLED = 3;

/** The buffers the worker sent back, reused by the next batches. */
export class WirePool {
  private readonly free: ArrayBuffer[] = [];

  take(minBytes: number): ArrayBuffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      if (this.free[i]!.byteLength >= minBytes) return this.free.splice(i, 1)[0]!;
    }
    return new ArrayBuffer(Math.max(MIN_BUFFER, nextPowerOfTwo(minBytes)));
  }

  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength > MAX_POOLED_BUFFER || buffer.byteLength === 0 || this.free.length >= MAX_POOLED) return;
    this.free.push(buffer);
  }
}

/** One commit's appends, written as they arrive (main thread). */
export class WireBatch {
  private bytes: Buffer;
  private end = 0;
  private readonly layout: number[] = [];
  private readonly routes: string[] = [];
  private readonly routeIndex = new Map<string, number>();

  constructor(private readonly pool: WirePool) {
    this.bytes = Buffer.from(pool.take(MIN_BUFFER));
  }

  get count(): number {
    return this.layout.length >> 2;
  }

  /** Writes one record; returns the UTF-8 size of its body. */
  add(record: AppendRecord): number {
    const { id, subject, body } = record;
    if (typeof body !== 'string') throw new TypeError('WireBatch.add: body must be a string');
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.reserve(3 * (id.length + subject.length + body.length));
    const b = this.bytes;
    const idEnd = this.end + b.write(id, this.end);
    const subjectEnd = idEnd + b.write(subject, idEnd);
    const end = subjectEnd + b.write(body, subjectEnd);
    this.end = end;
    this.layout.push(idEnd, subjectEnd, end, this.route(record.sinks));
    return end - subjectEnd;
  }

  /** Takes back the last add() (an append the queue refused). */
  dropLast(): void {
    this.layout.length -= 4;
    this.end = this.layout.length === 0 ? 0 : this.layout[this.layout.length - 2]!;
  }

  /** An empty or abandoned batch: its buffer goes back to the pool. */
  release(): void {
    this.pool.give(this.bytes.buffer as ArrayBuffer);
  }

  /** Hands the batch over (the buffer is to be transferred, not used again here). */
  seal(): Wire {
    return { buffer: this.bytes.buffer as ArrayBuffer, layout: this.layout, routes: this.routes };
  }

  private route(sinks: readonly string[]): number {
    const key = sinks.join(',');
    let index = this.routeIndex.get(key);
    if (index === undefined) {
      index = this.routes.push(key) - 1;
      this.routeIndex.set(key, index);
    }
    return index;
  }

  private reserve(extra: number): void {
    if (this.end + extra <= this.bytes.length) return;
    const grown = Buffer.from(this.pool.take(this.end + extra));
    this.bytes.copy(grown, 0, 0, this.end);
    this.pool.give(this.bytes.buffer as ArrayBuffer);
    this.bytes = grown;
  }
}

/** The records of a wire (worker thread): bodies are views of the buffer, valid until it is sent back. */
export function readWire(wire: Wire): StoreRecord[] {
  const bytes = Buffer.from(wire.buffer);
  const sinksOf = wire.routes.map((route) => (route === '' ? [] : route.split(',')));
  const { layout } = wire;
  const records: StoreRecord[] = new Array(layout.length >> 2);
  let start = 0;
  for (let i = 0, r = 0; i < layout.length; i += 4, r++) {
    const idEnd = layout[i]!;
    const subjectEnd = layout[i + 1]!;
    const end = layout[i + 2]!;
    records[r] = {
      id: bytes.toString('utf8', start, idEnd),
      subject: bytes.toString('utf8', idEnd, subjectEnd),
      body: bytes.subarray(subjectEnd, end),
      sinks: sinksOf[layout[i + 3]!]!,
      bytes: end - subjectEnd,
    };
    start = end;
  }
  return records;
}

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}
