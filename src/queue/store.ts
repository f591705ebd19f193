/**
 * The synchronous SQLite store behind the durable queue. It runs inside the queue worker thread
 * (worker.ts) for the daemon, and directly in the CLI (`dlq`, `queue stats`). The design —
 * invariants, record format, fsync and ack rules, recovery — is described in ./index.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export const QUEUE_DB_FILE = 'queue.db';
const SCHEMA_VERSION = 2;

export interface AppendRecord {
  id: string;
  subject: string;
  /** The canonical event, serialized. */
  body: string;
  /** Sinks the event must reach. Empty: straight to the dead-letter store as "unmatched". */
  sinks: string[];
  /** UTF-8 length of body, when the caller already knows it. */
  bytes?: number;
}

/** An append as the store takes it: the body may be its UTF-8 bytes already (wire.ts). */
export type StoreRecord = Omit<AppendRecord, 'body'> & { body: string | Uint8Array };

export interface StoredEvent {
  seq: number;
  id: string;
  subject: string;
  body: string;
  enqueuedMs: number;
}

export interface DeadLetterInput {
  seq: number;
  attempts: number;
  code: string;
  error: string;
}

export interface QuarantineInput {
  reason: string;
  code: string;
  /** The request as received: method, url without Sign, headers of interest, and the body as text (or base64 when not UTF-8). */
  request: Record<string, unknown>;
}

export interface DeadLetterRow {
  dlqId: number;
  kind: 'event' | 'request' | 'unmatched';
  sink: string | null;
  eventId: string | null;
  subject: string | null;
  attempts: number;
  errorCode: string;
  error: string;
  failedMs: number;
  body: string;
  /** UTF-8 size of body. */
  bytes?: number;
}

export interface SinkDepth {
  sink: string;
  depth: number;
  bytes: number;
  oldestMs: number | null;
}

export interface StoreStats {
  events: number;
  bytes: number;
  /** Rows in the dead-letter store, all kinds. */
  deadLetters: number;
  /** Acknowledged events in the dead-letter store (kinds event and unmatched): never evicted. */
  deadLetterEvents: number;
  deadLetterBytes: number;
  /** Quarantined requests (kind request, never acknowledged): bounded by size and age, evicted oldest first. */
  quarantined: number;
  quarantinedBytes: number;
  sinks: SinkDepth[];
}

/** Bounds of the quarantine (kind request); see QueueStore.quarantine. */
export interface QuarantineLimits {
  maxBytes: number;
  maxAgeMs: number;
}

interface LiveCounters {
  events: number;
  bytes: number;
  deadLetters: number;
  deadLetterEvents: number;
  deadLetterBytes: number;
  quarantined: number;
  quarantinedBytes: number;
  sinks: Map<string, { depth: number; bytes: number }>;
  /** PRAGMA data_version when counted: it changes when another connection commits. */
  dataVersion: number;
}

export interface RecoveryReport {
  cleanShutdown: boolean;
  integrity: 'ok' | 'skipped' | 'recovered-fresh';
  detail?: string;
  events: number;
  bytes: number;
  maxSeq: number;
}

/** One sink's progress through the events (see CURSORS in ./index.ts). */
interface SinkCursor {
  /** Every event at or below this seq is done for the sink, except those with a pending row. */
  doneThrough: number;
  /** Events beyond doneThrough the sink already has (delivered out of order): memory only. */
  done: Set<number>;
  /** doneThrough as last written to `cursors`, and when. */
  persisted: number;
  persistedMs: number;
}

/** An event still pending this long that holds back done ones is spilled to a pending row. */
const SPILL_AFTER_MS = 1000;
/** Rows a cursor may move over in one commit (the rest waits for the next), and per query. */
const CURSOR_SCAN_ROWS = 8192;
// Small: a caught-up sink's cursor stops at the first event it has not delivered yet.
const CURSOR_SCAN_CHUNK = 64;
/**
 * Write-behind: a commit writes a cursor, and deletes the events behind the cursors, once they have
 * moved this far or this long ago; settle() (the queue calls it once commits stop for a moment)
 * writes what is left. Each costs page writes of its own, which a commit with a few events (half
 * load: many small commits, most of them acks only) used to pay every time.
 */
const WRITE_BEHIND_EVENTS = 256;
const WRITE_BEHIND_MS = 1000;

/** The `sinks` column: `,a,b,` (sink names have no commas), so that `,a,` finds one exactly. */
function sinkList(sinks: readonly string[]): string {
  return `,${sinks.join(',')},`;
}

/** What a cursor needs of a row it moves over (advance): its routing, size and age. */
interface CursorRow {
  seq: number;
  sinks: string;
  bytes: number;
  enqueuedMs: number;
}

/**
 * Rows kept by AppendedTail (in the queue worker): ~1.3 MB of heap when full. A sink that keeps up
 * has its cursor within the delivery window of the newest event, far less than this; one that is
 * behind by more reads its rows from SQLite, as it would anyway.
 */
const APPENDED_TAIL_ROWS = 16_384;

/**
 * The last events this connection inserted, in seq order and without a gap, so that advance()
 * need not read back the rows it has just written (it was 15 % of the queue worker's CPU).
 *
 * INVARIANT: every row held is in `events` with the routing, size and time held, the rows held
 * are all the events between the first and the last held seq, and the last is the last event of
 * the table (so a tail that ends before a read's limit means there is nothing more). It holds
 * because every insert goes through insertEvent(); rows beyond the lowest cursor are never
 * updated or deleted (reclamation deletes only at or below it, and rows at or below it are dropped
 * from here first); an insert that does not follow the last one starts the tail anew; and the
 * tail is emptied when a transaction rolls back (its seqs are given again) or another connection
 * has written (data_version). Rows outside it are read from SQLite, as before: the tail only
 * saves reads, it never decides what is on disk.
 */
class AppendedTail {
  private rows: CursorRow[] = [];
  private head = 0;

  constructor(private readonly maxRows: number) {}

  push(row: CursorRow): void {
    if (this.maxRows <= 0) return;
    const last = this.rows.length > this.head ? this.rows[this.rows.length - 1]! : undefined;
    if (last && row.seq !== last.seq + 1) this.clear();
    // Most events share their routing: one string for a run of them, not one each.
    else if (last && row.sinks === last.sinks) row.sinks = last.sinks;
    this.rows.push(row);
    if (this.rows.length - this.head > this.maxRows) this.head++;
    this.compact();
  }

  /** Up to `limit` rows after `afterSeq`, or undefined when the tail does not hold the next one. */
  after(afterSeq: number, limit: number): CursorRow[] | undefined {
    if (this.rows.length === this.head) return undefined;
    const at = this.head + (afterSeq + 1 - this.rows[this.head]!.seq);
    if (at < this.head || at >= this.rows.length) return undefined;
    return this.rows.slice(at, at + limit);
  }

  /** Forgets the rows at or below `seq` (every cursor is past them). */
  dropThrough(seq: number): void {
    while (this.head < this.rows.length && this.rows[this.head]!.seq <= seq) this.head++;
    this.compact();
  }

  clear(): void {
    this.rows = [];
    this.head = 0;
  }

  private compact(): void {
    if (this.head === this.rows.length) this.clear();
    else if (this.head >= 1024 && this.head * 2 >= this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.head = 0;
    }
  }
}

export class QueueStore {
  readonly db: Database.Database;
  readonly file: string;
  readonly recovery: RecoveryReport;
  private readonly stmts;
  /** Totals kept up to date by this connection's own writes (see liveStats). */
  private live: LiveCounters | undefined;

  private readonly quarantineLimits: QuarantineLimits | undefined;
  /** Each sink's cursor (see CURSORS in ./index.ts), loaded at open, kept by this connection's writes. */
  private readonly cursors = new Map<string, SinkCursor>();
  /** Every event at or below this seq is deleted or has a pending (exception) row. */
  private reclaimedThrough = 0;
  private reclaimedMs = 0;
  /** PRAGMA data_version when the cursors were read: another connection (the CLI) may add or move some. */
  private cursorsVersion = -1;
  /** The last events this connection inserted, for advance() (see AppendedTail). */
  private readonly appended: AppendedTail;

  constructor(
    dir: string,
    options: { readonly?: boolean; checkIntegrity?: 'auto' | 'always' | 'never'; quarantine?: QuarantineLimits; appendedTailRows?: number } = {},
  ) {
    this.quarantineLimits = options.quarantine;
    this.appended = new AppendedTail(options.appendedTailRows ?? APPENDED_TAIL_ROWS);
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, QUEUE_DB_FILE);
    const opened = openWithRecovery(this.file, options);
    this.db = opened.db;
    const db = this.db;
    this.stmts = {
      // CAST: a body given as UTF-8 bytes (wire.ts) is stored as the TEXT it is; a string is unchanged.
      insertEvent: db.prepare('INSERT INTO events (id, subject, bytes, enqueued_ms, sinks, body) VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT))'),
      insertException: db.prepare('INSERT OR IGNORE INTO pending (sink, seq) VALUES (?, ?)'),
      insertDead: db.prepare(
        'INSERT INTO dead_letters (kind, sink, event_id, subject, attempts, error_code, error, failed_ms, body, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?)',
      ),
      readExceptions: db.prepare(
        'SELECT p.seq AS seq, e.id AS id, e.subject AS subject, e.body AS body, e.enqueued_ms AS enqueuedMs FROM pending p JOIN events e ON e.seq = p.seq WHERE p.sink = ? AND p.seq > ? ORDER BY p.seq LIMIT ?',
      ),
      readRouted: db.prepare('SELECT seq, id, subject, body, enqueued_ms AS enqueuedMs FROM events WHERE seq > ? AND instr(sinks, ?) > 0 ORDER BY seq LIMIT ?'),
      /** The rows a cursor moves over: their routing, size and age, not their bodies' use. */
      beyondCursor: db.prepare('SELECT seq, sinks, bytes, enqueued_ms AS enqueuedMs FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
      deleteException: db.prepare('DELETE FROM pending WHERE sink = ? AND seq = ?'),
      exceptionsOf: db.prepare('SELECT sink FROM pending WHERE seq = ?'),
      setCursor: db.prepare('INSERT INTO cursors (sink, done_through) VALUES (?, ?) ON CONFLICT(sink) DO UPDATE SET done_through = max(done_through, excluded.done_through)'),
      allCursors: db.prepare('SELECT sink, done_through AS doneThrough FROM cursors'),
      reclaimRange: db.prepare('DELETE FROM events WHERE seq > ? AND seq <= ? AND seq NOT IN (SELECT seq FROM pending WHERE seq > ? AND seq <= ?) RETURNING bytes'),
      reclaimAll: db.prepare('DELETE FROM events WHERE seq > ? AND seq <= ? RETURNING bytes'),
      anyException: db.prepare('SELECT 1 FROM pending LIMIT 1'),
      unroutedAfter: db.prepare('SELECT 1 FROM events WHERE seq > ? AND seq <= ? AND instr(sinks, ?) = 0 LIMIT 1'),
      reclaimOne: db.prepare('DELETE FROM events WHERE seq = ? RETURNING bytes'),
      evictOld: db.prepare("DELETE FROM dead_letters WHERE kind = 'request' AND failed_ms < ? RETURNING bytes"),
      evictOldest: db.prepare("DELETE FROM dead_letters WHERE dlq_id IN (SELECT dlq_id FROM dead_letters WHERE kind = 'request' ORDER BY failed_ms, dlq_id LIMIT 64) RETURNING bytes"),
      eventBySeq: db.prepare('SELECT id, subject, body, bytes, sinks FROM events WHERE seq = ?'),
      oldestException: db.prepare('SELECT e.enqueued_ms AS ms FROM pending p JOIN events e ON e.seq = p.seq WHERE p.sink = ? ORDER BY p.seq LIMIT 1'),
      oldestRouted: db.prepare('SELECT enqueued_ms AS ms FROM events WHERE seq > ? AND instr(sinks, ?) > 0 ORDER BY seq LIMIT 1'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
    };
    const totals = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b, COALESCE(MAX(seq), 0) AS m, MIN(seq) AS first FROM events').get() as { n: number; b: number; m: number; first: number | null };
    this.recovery = { ...opened.report, events: totals.n, bytes: totals.b, maxSeq: totals.m };
    this.loadCursors();
    // Every event below the first one left is gone. Write-behind may have left done events at or
    // below the lowest cursor (a crash, or a cursor written before its range was deleted): the
    // first commit deletes them (WRITE_BEHIND_MS has passed since reclaimedMs = 0).
    const lowestCursor = this.cursors.size > 0 ? Math.min(...[...this.cursors.values()].map((c) => c.doneThrough)) : totals.m;
    this.reclaimedThrough = Math.min(lowestCursor, (totals.first ?? totals.m + 1) - 1);
    if (!options.readonly) this.stmts.setMeta.run('clean_shutdown', '0');
  }

  /** One transaction = one fsync (synchronous=FULL): the group commit. Returns the seq of each record. */
  append(records: readonly StoreRecord[], nowMs: number): number[] {
    return this.commit(records, [], nowMs).seqs;
  }

  /**
   * The group commit: appends and the deliveries recorded since the last commit, in one
   * transaction and so one fsync. Acks ride along instead of paying an fsync of their own. One row
   * write per event: its sinks are a column, each sink's progress is its cursor (see CURSORS).
   */
  commit(records: readonly StoreRecord[], acks: ReadonlyArray<readonly [string, readonly number[]]>, nowMs: number, settle = false): { seqs: number[]; events: number; bytes: number; behind: boolean } {
    const seqs: number[] = new Array(records.length);
    let reclaimed = { events: 0, bytes: 0 };
    const live = this.live;
    this.guarded(() => {
      this.refreshCursors();
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        const size = r.bytes ?? Buffer.byteLength(r.body);
        if (r.sinks.length === 0) {
          this.stmts.insertDead.run('unmatched', null, r.id, r.subject, 0, 'ROUTE_UNMATCHED', 'no route matched the event', nowMs, r.body, size);
          this.countDead('unmatched', 1, size);
          seqs[i] = 0;
          continue;
        }
        const seq = this.insertEvent(r.id, r.subject, size, nowMs, sinkList(r.sinks), r.body);
        for (const sink of r.sinks) {
          this.cursorOf(sink, seq - 1, nowMs);
          this.countPending(sink, 1, size);
        }
        if (live) {
          live.events++;
          live.bytes += size;
        }
        seqs[i] = seq;
      }
      for (const [sink, ackSeqs] of acks) for (const seq of ackSeqs) this.markDone(sink, seq);
      reclaimed = this.advance(nowMs, settle);
    });
    return { seqs, ...reclaimed, behind: this.progressBehind() };
  }

  /**
   * Writes the progress write-behind left in memory (cursors, deletions). The queue calls it when
   * no commit came for a moment, so that on-disk state (`queue stats`, another process) catches up.
   */
  settle(nowMs: number): { events: number; bytes: number } {
    let reclaimed = { events: 0, bytes: 0 };
    this.guarded(() => {
      this.refreshCursors();
      reclaimed = this.advance(nowMs, true);
    });
    return reclaimed;
  }

  /** Whether a cursor, or the deletion of done events, is behind what memory knows. */
  private progressBehind(): boolean {
    let lowest = Number.POSITIVE_INFINITY;
    for (const cursor of this.cursors.values()) {
      if (cursor.doneThrough !== cursor.persisted) return true;
      lowest = Math.min(lowest, cursor.doneThrough);
    }
    return lowest !== Number.POSITIVE_INFINITY && lowest > this.reclaimedThrough;
  }

  /**
   * Records that `sink` has `seq` (delivered or dead-lettered). Beyond the cursor: remembered in
   * memory until the cursor passes it. At or below it: the event was spilled (a pending row), which
   * goes now; the event too when no other sink holds it.
   */
  private markDone(sink: string, seq: number): void {
    const cursor = this.cursors.get(sink);
    if (!cursor) return;
    if (seq > cursor.doneThrough) {
      cursor.done.add(seq);
      return;
    }
    if (this.stmts.deleteException.run(sink, seq).changes === 0) return;
    const row = this.stmts.eventBySeq.get(seq) as { bytes: number } | undefined;
    this.countPending(sink, -1, -(row?.bytes ?? 0));
    if (row && seq <= this.reclaimedThrough && this.stmts.exceptionsOf.get(seq) === undefined) {
      const gone = this.stmts.reclaimOne.get(seq) as { bytes: number } | undefined;
      if (gone) this.reclaimedNow.events++, (this.reclaimedNow.bytes += gone.bytes);
    }
  }

  /** Reclaimed in the current transaction (markDone's single events; advance adds the ranges). */
  private reclaimedNow = { events: 0, bytes: 0 };

  /**
   * Moves every cursor forward over the events that are done for its sink (not routed to it, or
   * delivered), spilling an old event that blocks progress to a pending row; writes the cursors that
   * moved; deletes the events every cursor has passed. Bounded per commit (CURSOR_SCAN_ROWS).
   */
  private advance(nowMs: number, settle: boolean): { events: number; bytes: number } {
    const spillBefore = nowMs - SPILL_AFTER_MS;
    for (const [sink, cursor] of this.cursors) {
      let spilled = false;
      const tag = `,${sink},`;
      let scanned = 0;
      // The first read asks for what the sink has out of order and one more: in order, that is
      // exactly the rows the cursor passes and the one it stops at.
      let chunk = Math.min(CURSOR_SCAN_CHUNK, cursor.done.size + 2);
      scan: while (scanned < CURSOR_SCAN_ROWS) {
        const rows = this.rowsBeyond(cursor.doneThrough, chunk);
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!;
          scanned++;
          if (!row.sinks.includes(tag)) {
            cursor.doneThrough = row.seq;
          } else if (cursor.done.delete(row.seq)) {
            cursor.doneThrough = row.seq;
            this.countPending(sink, -1, -row.bytes);
          } else if (row.enqueuedMs <= spillBefore && this.blocksProgress(row.seq, tag, cursor.done)) {
            // Still pending, for a while now, and holding back events that are done: it becomes a
            // pending row so that the cursor, and reclamation, can go on.
            this.stmts.insertException.run(sink, row.seq);
            cursor.doneThrough = row.seq;
            spilled = true;
          } else break scan;
        }
        if (rows.length < chunk) break;
        chunk = CURSOR_SCAN_CHUNK;
      }
      for (const seq of cursor.done) if (seq <= cursor.doneThrough) cursor.done.delete(seq);
      // Written when it moved far enough or long enough ago, past a spilled event (whose pending row
      // must never be beyond the cursor on disk), and at settle: one page less per commit otherwise.
      // A crash may lose the rest: those deliveries are made again (at least once).
      if (cursor.doneThrough !== cursor.persisted && (spilled || settle || cursor.doneThrough - cursor.persisted >= WRITE_BEHIND_EVENTS || nowMs - cursor.persistedMs >= WRITE_BEHIND_MS)) this.persistCursor(sink, cursor, nowMs);
    }
    const reclaimed = this.reclaimedNow;
    this.reclaimedNow = { events: 0, bytes: 0 };
    let lowest = Number.POSITIVE_INFINITY;
    for (const cursor of this.cursors.values()) lowest = Math.min(lowest, cursor.doneThrough);
    if (lowest !== Number.POSITIVE_INFINITY) this.appended.dropThrough(lowest);
    // Events are deleted in runs (WRITE_BEHIND_*): a page emptied at once is freed once, rather than
    // rewritten each commit as its rows go. settle() and the operators' commands delete what is done.
    if (lowest !== Number.POSITIVE_INFINITY && lowest > this.reclaimedThrough && (settle || lowest - this.reclaimedThrough >= WRITE_BEHIND_EVENTS || nowMs - this.reclaimedMs >= WRITE_BEHIND_MS)) {
      const rows = this.stmts.anyException.get() === undefined ? this.stmts.reclaimAll.all(this.reclaimedThrough, lowest) : this.stmts.reclaimRange.all(this.reclaimedThrough, lowest, this.reclaimedThrough, lowest);
      for (const row of rows as Array<{ bytes: number }>) {
        reclaimed.events++;
        reclaimed.bytes += row.bytes;
      }
      this.reclaimedThrough = lowest;
      this.reclaimedMs = nowMs;
    }
    if (this.live) {
      this.live.events -= reclaimed.events;
      this.live.bytes -= reclaimed.bytes;
    }
    return reclaimed;
  }

  /** Inserts an event row; its seq is remembered with its routing for advance(). */
  private insertEvent(id: string, subject: string, bytes: number, enqueuedMs: number, sinks: string, body: string | Uint8Array): number {
    const seq = Number(this.stmts.insertEvent.run(id, subject, bytes, enqueuedMs, sinks, body).lastInsertRowid);
    this.appended.push({ seq, sinks, bytes, enqueuedMs });
    return seq;
  }

  /** The next `limit` event rows after `afterSeq`, in seq order: from memory where it has them, else from SQLite. */
  private rowsBeyond(afterSeq: number, limit: number): readonly CursorRow[] {
    return this.appended.after(afterSeq, limit) ?? (this.stmts.beyondCursor.all(afterSeq, limit) as CursorRow[]);
  }

  /**
   * Whether moving past the pending event `seq` would let the cursor go on: the sink has events
   * after it already, or one of the next CURSOR_SCAN_CHUNK × 8 events is not routed to it.
   */
  private blocksProgress(seq: number, tag: string, done: ReadonlySet<number>): boolean {
    return done.size > 0 || this.stmts.unroutedAfter.get(seq, seq + CURSOR_SCAN_CHUNK * 8, tag) !== undefined;
  }

  private persistCursor(sink: string, cursor: SinkCursor, nowMs: number): void {
    this.stmts.setCursor.run(sink, cursor.doneThrough);
    cursor.persisted = cursor.doneThrough;
    cursor.persistedMs = nowMs;
  }

  /** The sink's cursor; a sink seen for the first time starts right before its first event. */
  private cursorOf(sink: string, before: number, nowMs: number): SinkCursor {
    let cursor = this.cursors.get(sink);
    if (!cursor) {
      cursor = { doneThrough: before, done: new Set(), persisted: before, persistedMs: nowMs };
      this.cursors.set(sink, cursor);
      this.stmts.setCursor.run(sink, before);
    }
    return cursor;
  }

  private loadCursors(): void {
    this.cursorsVersion = this.stmts.dataVersion.get() as number;
    for (const row of this.stmts.allCursors.all() as Array<{ sink: string; doneThrough: number }>) {
      const cursor = this.cursors.get(row.sink);
      // persistedMs 0: a cursor that moves is written by the first commit after the open.
      if (!cursor) this.cursors.set(row.sink, { doneThrough: row.doneThrough, done: new Set(), persisted: row.doneThrough, persistedMs: 0 });
      else if (row.doneThrough > cursor.doneThrough) cursor.doneThrough = cursor.persisted = row.doneThrough;
    }
  }

  /** Another connection committed (`dlq replay`, `queue move`): take its cursors into account. */
  private refreshCursors(): void {
    if ((this.stmts.dataVersion.get() as number) !== this.cursorsVersion) {
      this.appended.clear();
      this.loadCursors();
    }
  }

  /**
   * Moves the WAL into the database file and truncates it. After SQLITE_FULL this is what gives
   * space back: deleted (delivered) rows free pages in the database, but the WAL only shrinks here.
   */
  checkpoint(): { freedPages: number } {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    if (free > 0) {
      // auto_vacuum=INCREMENTAL: hand the pages of delivered events back to the file system.
      this.db.pragma('incremental_vacuum');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    return { freedPages: free };
  }

  /**
   * The sink's pending events after `afterSeq`, in seq order: its pending rows (spilled events) and
   * the events routed to it beyond its cursor that it does not have yet. Returns fewer than `limit`
   * only when there are no more (the local source takes that as "caught up").
   */
  read(sink: string, afterSeq: number, limit: number): StoredEvent[] {
    const spilled = this.stmts.readExceptions.all(sink, afterSeq, limit) as StoredEvent[];
    const cursor = this.cursors.get(sink);
    let routed: StoredEvent[] = [];
    if (cursor) {
      // At most done.size rows are left out below: ask for that many more.
      routed = this.stmts.readRouted.all(Math.max(afterSeq, cursor.doneThrough), `,${sink},`, limit + cursor.done.size) as StoredEvent[];
      if (cursor.done.size > 0) routed = routed.filter((e) => !cursor.done.has(e.seq));
    }
    if (spilled.length === 0) return routed.length > limit ? routed.slice(0, limit) : routed;
    const merged: StoredEvent[] = [];
    let a = 0;
    let b = 0;
    while (merged.length < limit && (a < spilled.length || b < routed.length)) {
      if (b >= routed.length || (a < spilled.length && spilled[a]!.seq < routed[b]!.seq)) merged.push(spilled[a++]!);
      else merged.push(routed[b++]!);
    }
    return merged;
  }

  /** Marks events delivered to one sink; reclaims events no sink still needs. Returns reclaimed counts. */
  ack(sink: string, seqs: readonly number[]): { events: number; bytes: number } {
    const { events, bytes } = this.commit([], [[sink, seqs]], Date.now(), true);
    return { events, bytes };
  }

  /** Moves events of one sink to the dead-letter store (body copied), then acks them for that sink. */
  deadLetter(sink: string, items: readonly DeadLetterInput[], nowMs: number): { events: number; bytes: number; deadEvents: number; deadBytes: number } {
    let reclaimed = { events: 0, bytes: 0 };
    let deadEvents = 0;
    let deadBytes = 0;
    this.guarded(() => {
      this.refreshCursors();
      for (const item of items) {
        const row = this.stmts.eventBySeq.get(item.seq) as { id: string; subject: string; body: string; bytes: number } | undefined;
        if (!row) continue;
        this.stmts.insertDead.run('event', sink, row.id, row.subject, item.attempts, item.code, item.error, nowMs, row.body, row.bytes);
        this.countDead('event', 1, row.bytes);
        deadEvents++;
        deadBytes += row.bytes;
        this.markDone(sink, item.seq);
      }
      reclaimed = this.advance(nowMs, true);
    });
    return { ...reclaimed, deadEvents, deadBytes };
  }

  /**
   * Keeps a request that was refused (never acknowledged) for inspection, then evicts quarantined
   * requests beyond the limits, oldest first: over `maxBytes` in total or older than `maxAgeMs`.
   * Only kind `request` is ever evicted; acknowledged events are deleted only by an operator.
   * Returns the new row's id and how many rows were evicted (the caller counts and logs them).
   */
  quarantine(input: QuarantineInput, nowMs: number): { id: number; evicted: number } {
    let id = 0;
    let evicted = 0;
    this.guarded(() => {
      const text = JSON.stringify(input.request);
      const size = Buffer.byteLength(text);
      id = Number(this.stmts.insertDead.run('request', null, null, null, 0, input.code, input.reason, nowMs, text, size).lastInsertRowid);
      this.countDead('request', 1, size);
      evicted = this.evictQuarantine(nowMs);
    });
    return { id, evicted };
  }

  /** Age-based eviction when no new request arrives (called periodically). */
  sweepQuarantine(nowMs: number): { evicted: number } {
    let evicted = 0;
    this.guarded(() => (evicted = this.evictQuarantine(nowMs)));
    return { evicted };
  }

  private evictQuarantine(nowMs: number): number {
    const limits = this.quarantineLimits;
    if (!limits) return 0;
    let evicted = 0;
    for (const row of this.stmts.evictOld.all(nowMs - limits.maxAgeMs) as Array<{ bytes: number }>) {
      this.countDead('request', -1, -row.bytes);
      evicted++;
    }
    let total = this.quarantinedBytes();
    while (total > limits.maxBytes) {
      const rows = this.stmts.evictOldest.all() as Array<{ bytes: number }>;
      if (rows.length === 0) break;
      for (const row of rows) {
        this.countDead('request', -1, -row.bytes);
        total -= row.bytes;
        evicted++;
      }
    }
    return evicted;
  }

  private quarantinedBytes(): number {
    if (this.live) return this.live.quarantinedBytes;
    return (this.db.prepare("SELECT COALESCE(SUM(bytes), 0) AS b FROM dead_letters WHERE kind = 'request'").get() as { b: number }).b;
  }

  /** The one place that keeps the dead-letter counters (rows and bytes per class). */
  private countDead(kind: string, rows: number, bytes: number): void {
    const live = this.live;
    if (!live) return;
    live.deadLetters += rows;
    if (kind === 'request') {
      live.quarantined += rows;
      live.quarantinedBytes += bytes;
    } else {
      live.deadLetterEvents += rows;
      live.deadLetterBytes += bytes;
    }
  }

  listDeadLetters(filter: { sink?: string; sinceMs?: number; kind?: string; limit?: number } = {}): DeadLetterRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.sink) (where.push('sink = ?'), args.push(filter.sink));
    if (filter.kind) (where.push('kind = ?'), args.push(filter.kind));
    if (filter.sinceMs !== undefined) (where.push('failed_ms >= ?'), args.push(filter.sinceMs));
    const sql = `SELECT dlq_id AS dlqId, kind, sink, event_id AS eventId, subject, attempts, error_code AS errorCode, error, failed_ms AS failedMs, body, bytes FROM dead_letters ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY dlq_id LIMIT ?`;
    args.push(filter.limit ?? 1_000_000);
    return this.db.prepare(sql).all(...args) as DeadLetterRow[];
  }

  getDeadLetter(dlqId: number): DeadLetterRow | undefined {
    return this.db
      .prepare('SELECT dlq_id AS dlqId, kind, sink, event_id AS eventId, subject, attempts, error_code AS errorCode, error, failed_ms AS failedMs, body FROM dead_letters WHERE dlq_id = ?')
      .get(dlqId) as DeadLetterRow | undefined;
  }

  /**
   * Puts dead-lettered events back in the queue for their sink (or `toSink`), keeping their ids.
   * Unmatched events need `toSink`. Quarantined requests cannot be replayed as events.
   */
  replay(filter: { sink?: string; sinceMs?: number; ids?: number[]; toSink?: string; knownSinks?: readonly string[] }, nowMs: number): { replayed: number; skipped: number; unknownSinks: string[] } {
    let replayed = 0;
    let skipped = 0;
    const unknownSinks = new Set<string>();
    const live = this.live;
    this.guarded(() => {
      this.refreshCursors();
      let rows = this.listDeadLetters({ sink: filter.sink, sinceMs: filter.sinceMs });
      if (filter.ids) rows = rows.filter((r) => filter.ids!.includes(r.dlqId));
      for (const row of rows) {
        const target = filter.toSink ?? row.sink;
        if (row.kind === 'request' || !target || !row.eventId) {
          skipped++;
          continue;
        }
        // Never strand an event under a sink no delivery engine reads: it would count toward the limits
        // and no tool could move it.
        if (filter.knownSinks && !filter.knownSinks.includes(target)) {
          unknownSinks.add(target);
          skipped++;
          continue;
        }
        const size = Buffer.byteLength(row.body);
        const seq = this.insertEvent(row.eventId, row.subject ?? '', size, nowMs, sinkList([target]), row.body);
        this.cursorOf(target, seq - 1, nowMs);
        this.db.prepare('DELETE FROM dead_letters WHERE dlq_id = ?').run(row.dlqId);
        this.countDead(row.kind, -1, -(row.bytes ?? size));
        this.countPending(target, 1, size);
        if (live) {
          live.events++;
          live.bytes += size;
        }
        replayed++;
      }
    });
    return { replayed, skipped, unknownSinks: [...unknownSinks] };
  }

  /**
   * Moves the events queued for one sink (e.g. one removed from the config) to another sink, or to
   * the dead-letter store (code SINK_REMOVED). Each event is queued again under a new seq, after
   * everything already queued: a running daemon's delivery engine reads forward from its cursor, so rows
   * with old seqs would not be seen. Order within the moved set is kept. One transaction.
   */
  moveQueued(fromSink: string, to: { sink: string } | { deadLetter: true }, nowMs: number): { moved: number; bytes: number } {
    let moved = 0;
    let bytes = 0;
    const live = this.live;
    this.guarded(() => {
      this.refreshCursors();
      const cursor = this.cursors.get(fromSink);
      if (!cursor) return;
      const queued = this.pendingOf(fromSink, cursor);
      const end = Math.max(cursor.doneThrough, ...queued.map((q) => q.seq));
      for (const { seq } of queued) {
        const row = this.stmts.eventBySeq.get(seq) as { id: string; subject: string; body: string; bytes: number } | undefined;
        if (!row) continue;
        if ('sink' in to) {
          const next = this.insertEvent(row.id, row.subject, row.bytes, nowMs, sinkList([to.sink]), row.body);
          this.cursorOf(to.sink, next - 1, nowMs);
          this.countPending(to.sink, 1, row.bytes);
          if (live) {
            live.events++;
            live.bytes += row.bytes;
          }
        } else {
          this.stmts.insertDead.run('event', fromSink, row.id, row.subject, 0, 'SINK_REMOVED', `moved out of the queue of sink "${fromSink}" by an operator`, nowMs, row.body, row.bytes);
          this.countDead('event', 1, row.bytes);
        }
        // A spilled one loses its pending row; the others are passed by the cursor below.
        if (seq <= cursor.doneThrough) this.markDone(fromSink, seq);
        else this.countPending(fromSink, -1, -row.bytes);
        moved++;
        bytes += row.bytes;
      }
      // Everything the sink had is done now. Set here, not by advance(), which is bounded per
      // commit and keeps out-of-order progress in memory: the CLI process ends after this.
      cursor.doneThrough = end;
      for (const seq of cursor.done) if (seq <= end) cursor.done.delete(seq);
      this.persistCursor(fromSink, cursor, nowMs);
      this.advance(nowMs, true);
    });
    return { moved, bytes };
  }

  /** A sink's pending events, oldest first: its pending rows and the routed events beyond its cursor it does not have. */
  private pendingOf(sink: string, cursor: SinkCursor): Array<{ seq: number; bytes: number; enqueuedMs: number }> {
    const spilled = this.db.prepare('SELECT p.seq AS seq, e.bytes AS bytes, e.enqueued_ms AS enqueuedMs FROM pending p JOIN events e ON e.seq = p.seq WHERE p.sink = ? ORDER BY p.seq').all(sink) as Array<{ seq: number; bytes: number; enqueuedMs: number }>;
    const routed = (this.db.prepare('SELECT seq, bytes, enqueued_ms AS enqueuedMs FROM events WHERE seq > ? AND instr(sinks, ?) > 0 ORDER BY seq').all(cursor.doneThrough, `,${sink},`) as Array<{ seq: number; bytes: number; enqueuedMs: number }>).filter((r) => !cursor.done.has(r.seq));
    return [...spilled, ...routed];
  }

  purgeDeadLetters(filter: { sink?: string; beforeMs?: number; ids?: number[] } = {}): number {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.sink) (where.push('sink = ?'), args.push(filter.sink));
    if (filter.beforeMs !== undefined) (where.push('failed_ms < ?'), args.push(filter.beforeMs));
    if (filter.ids?.length) (where.push(`dlq_id IN (${filter.ids.map(() => '?').join(',')})`), args.push(...filter.ids));
    const rows = this.db.prepare(`DELETE FROM dead_letters ${where.length ? 'WHERE ' + where.join(' AND ') : ''} RETURNING kind, bytes`).all(...args) as Array<{ kind: string; bytes: number }>;
    for (const row of rows) this.countDead(row.kind, -1, -row.bytes);
    return rows.length;
  }

  stats(): StoreStats {
    const totals = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM events').get() as { n: number; b: number };
    const dead = { deadLetters: 0, deadLetterEvents: 0, deadLetterBytes: 0, quarantined: 0, quarantinedBytes: 0 };
    for (const row of this.db.prepare('SELECT kind, COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM dead_letters GROUP BY kind').all() as Array<{ kind: string; n: number; b: number }>) {
      dead.deadLetters += row.n;
      if (row.kind === 'request') (dead.quarantined += row.n), (dead.quarantinedBytes += row.b);
      else (dead.deadLetterEvents += row.n), (dead.deadLetterBytes += row.b);
    }
    // Per sink: its pending rows, and the events routed to it beyond its cursor (less those this
    // connection knows it has, out of order). Another process's out-of-order progress is not seen.
    this.refreshCursors();
    const spilled = this.db.prepare('SELECT p.sink AS sink, COUNT(*) AS depth, COALESCE(SUM(e.bytes), 0) AS bytes, MIN(e.enqueued_ms) AS oldestMs FROM pending p JOIN events e ON e.seq = p.seq GROUP BY p.sink').all() as SinkDepth[];
    const routed = this.db.prepare('SELECT COUNT(*) AS depth, COALESCE(SUM(bytes), 0) AS bytes, MIN(enqueued_ms) AS oldestMs FROM events WHERE seq > ? AND instr(sinks, ?) > 0');
    const sinks: SinkDepth[] = [];
    for (const name of [...new Set([...this.cursors.keys(), ...spilled.map((r) => r.sink)])].sort()) {
      const a = spilled.find((r) => r.sink === name);
      const cursor = this.cursors.get(name);
      const b = cursor ? (routed.get(cursor.doneThrough, `,${name},`) as SinkDepth) : undefined;
      const ahead = this.doneAhead(name);
      const depth = (a?.depth ?? 0) + (b?.depth ?? 0) - ahead.events;
      const bytes = (a?.bytes ?? 0) + (b?.bytes ?? 0) - ahead.bytes;
      if (depth <= 0) continue;
      const oldest = [a?.oldestMs, b?.oldestMs].filter((x): x is number => typeof x === 'number');
      sinks.push({ sink: name, depth, bytes, oldestMs: oldest.length ? Math.min(...oldest) : null });
    }
    return { events: totals.n, bytes: totals.b, ...dead, sinks };
  }

  /**
   * The same figures as stats() without scanning the backlog: the daemon asks every few seconds
   * and on each /metrics scrape, and a scan of a million queued events held the worker (and so
   * every commit) for seconds. Counted once, then kept up to date by this connection's writes;
   * counted again when another process (e.g. `im-bridge dlq replay`) has written meanwhile.
   */
  liveStats(): StoreStats {
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (!this.live || this.live.dataVersion !== version) {
      const full = this.stats();
      this.live = {
        events: full.events,
        bytes: full.bytes,
        deadLetters: full.deadLetters,
        deadLetterEvents: full.deadLetterEvents,
        deadLetterBytes: full.deadLetterBytes,
        quarantined: full.quarantined,
        quarantinedBytes: full.quarantinedBytes,
        sinks: new Map(full.sinks.map((s) => [s.sink, { depth: s.depth, bytes: s.bytes }])),
        dataVersion: version,
      };
      return full;
    }
    const sinks: SinkDepth[] = [];
    for (const [sink, count] of [...this.live.sinks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      // The counters drop an event when the sink's cursor passes it; those it has out of order
      // (a handful: see SPILL_AFTER_MS) are taken off here.
      const ahead = this.doneAhead(sink);
      const depth = count.depth - ahead.events;
      if (depth <= 0) continue;
      sinks.push({ sink, depth, bytes: count.bytes - ahead.bytes, oldestMs: this.oldestPending(sink) });
    }
    const { events, bytes, deadLetters, deadLetterEvents, deadLetterBytes, quarantined, quarantinedBytes } = this.live;
    return { events, bytes, deadLetters, deadLetterEvents, deadLetterBytes, quarantined, quarantinedBytes, sinks };
  }

  /** Events the sink has beyond its cursor (out of order), and their bytes. */
  private doneAhead(sink: string): { events: number; bytes: number } {
    const cursor = this.cursors.get(sink);
    let events = 0;
    let bytes = 0;
    for (const seq of cursor?.done ?? []) {
      const row = this.stmts.eventBySeq.get(seq) as { bytes: number } | undefined;
      if (!row) continue;
      events++;
      bytes += row.bytes;
    }
    return { events, bytes };
  }

  /** Enqueue time of the sink's oldest pending event: a pending row, or the first routed event beyond its cursor it does not have. */
  private oldestPending(sink: string): number | null {
    const spilled = this.stmts.oldestException.get(sink) as { ms: number } | undefined;
    if (spilled) return spilled.ms;
    const cursor = this.cursors.get(sink);
    if (!cursor) return null;
    if (cursor.done.size === 0) return (this.stmts.oldestRouted.get(cursor.doneThrough, `,${sink},`) as { ms: number } | undefined)?.ms ?? null;
    const rows = this.db.prepare('SELECT seq, enqueued_ms AS ms FROM events WHERE seq > ? AND instr(sinks, ?) > 0 ORDER BY seq LIMIT ?').all(cursor.doneThrough, `,${sink},`, cursor.done.size + 1) as Array<{ seq: number; ms: number }>;
    return rows.find((r) => !cursor.done.has(r.seq))?.ms ?? null;
  }

  private countPending(sink: string, depth: number, bytes: number): void {
    if (!this.live) return;
    let count = this.live.sinks.get(sink);
    if (!count) this.live.sinks.set(sink, (count = { depth: 0, bytes: 0 }));
    count.depth += depth;
    count.bytes += bytes;
  }

  /** A write transaction; if it fails, the live counters may be off: count again next time. */
  private guarded(body: () => void): void {
    try {
      this.db.transaction(body)();
    } catch (error) {
      this.live = undefined;
      // Rolled back: its seqs are given again (AUTOINCREMENT is transactional), to other events.
      this.appended.clear();
      throw error;
    }
  }

  close(): void {
    if (this.db.open) {
      if (!this.db.readonly) {
        // What write-behind holds goes to disk; if that fails (disk full), the next open deletes
        // the done events and the sinks get the rest again.
        try {
          if (this.progressBehind()) this.settle(Date.now());
        } catch {
          for (const [sink, cursor] of this.cursors) if (cursor.doneThrough !== cursor.persisted) this.persistCursor(sink, cursor, Date.now());
        }
        this.stmts.setMeta.run('clean_shutdown', '1');
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      }
      this.db.close();
    }
  }
}

function openWithRecovery(
  file: string,
  options: { readonly?: boolean; checkIntegrity?: 'auto' | 'always' | 'never' },
): { db: Database.Database; report: Omit<RecoveryReport, 'events' | 'bytes' | 'maxSeq'> } {
  const existed = fs.existsSync(file);
  let db = open(file, options.readonly ?? false);
  const clean = !existed || readMeta(db, 'clean_shutdown') !== '0';
  const mode = options.checkIntegrity ?? 'auto';
  if (options.readonly || mode === 'never' || (mode === 'auto' && clean)) {
    return { db, report: { cleanShutdown: clean, integrity: 'skipped' } };
  }
  // After an unclean stop SQLite has already replayed or discarded the WAL tail (torn frames fail
  // their checksum and are cut). quick_check confirms the pages themselves are sound.
  const result = db.pragma('quick_check', { simple: true }) as string;
  if (result === 'ok') return { db, report: { cleanShutdown: clean, integrity: 'ok' } };
  db.close();
  const aside = `${file}.corrupt-${Date.now()}`;
  for (const suffix of ['', '-wal', '-shm']) if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, aside + suffix);
  db = open(file, false);
  return { db, report: { cleanShutdown: clean, integrity: 'recovered-fresh', detail: `quick_check: ${result}; moved to ${aside}` } };
}

/**
 * Schema 2: sink cursors. A store of schema 1 kept one pending row per event and sink; those rows
 * stay, as pending rows behind a cursor that every sink holding some starts at the highest seq, which
 * says exactly what they said: pending where a row is, done everywhere else. Events gain their sinks
 * column (empty for the old ones, whose routing is all in their rows). One transaction, once.
 */
function migrateToCursors(db: Database.Database): void {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cursors'").get()) return;
  db.transaction(() => {
    const columns = db.prepare('PRAGMA table_info(events)').all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'sinks')) db.exec("ALTER TABLE events ADD COLUMN sinks TEXT NOT NULL DEFAULT ''");
    db.exec('CREATE TABLE cursors (sink TEXT PRIMARY KEY, done_through INTEGER NOT NULL) WITHOUT ROWID');
    db.exec('INSERT INTO cursors (sink, done_through) SELECT DISTINCT sink, (SELECT COALESCE(MAX(seq), 0) FROM events) FROM pending');
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run('schema_version', String(SCHEMA_VERSION));
  })();
}

/**
 * Dead letters carry their size (`bytes`) so that budgets and stats add up without reading bodies.
 * Stores written before that column existed get it, filled from the bodies, once. The index covers
 * the per-kind sums and the oldest-first eviction of quarantined requests.
 */
function migrateDeadLetterBytes(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(dead_letters)').all() as Array<{ name: string }>;
  if (!columns.some((c) => c.name === 'bytes')) {
    db.exec('ALTER TABLE dead_letters ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0');
    db.exec('UPDATE dead_letters SET bytes = length(CAST(body AS BLOB))');
  }
  db.exec('CREATE INDEX IF NOT EXISTS dead_letters_by_kind ON dead_letters (kind, failed_ms, bytes)');
}

/** True when dead_letters is of a store written before its ids became AUTOINCREMENT. */
/** The dead_letters table, for new stores and for the migration of old ones (one copy). */
const DEAD_LETTER_COLUMNS = `
  dlq_id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  sink TEXT,
  event_id TEXT,
  subject TEXT,
  attempts INTEGER NOT NULL,
  error_code TEXT NOT NULL,
  error TEXT NOT NULL,
  failed_ms INTEGER NOT NULL,
  body TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0
`;

function deadLetterIdsReusable(db: Database.Database): boolean {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'dead_letters'").get() as { sql: string } | undefined;
  return row !== undefined && !/AUTOINCREMENT/i.test(row.sql);
}

/**
 * Dead-letter ids are what operators note down and pass to `dlq purge --id`: without AUTOINCREMENT
 * SQLite hands the highest id out again once it is deleted, so a noted id could later name another
 * entry. Older stores get the table rebuilt once, keeping every id (sqlite_sequence then starts at the
 * highest one kept).
 */
function migrateDeadLetterIds(db: Database.Database): void {
  if (!deadLetterIdsReusable(db)) return;
  db.transaction(() => {
    db.exec(`
      CREATE TABLE dead_letters_v2 (${DEAD_LETTER_COLUMNS});
      INSERT INTO dead_letters_v2 (dlq_id, kind, sink, event_id, subject, attempts, error_code, error, failed_ms, body, bytes)
        SELECT dlq_id, kind, sink, event_id, subject, attempts, error_code, error, failed_ms, body, bytes FROM dead_letters;
      DROP TABLE dead_letters;
      ALTER TABLE dead_letters_v2 RENAME TO dead_letters;
      CREATE INDEX IF NOT EXISTS dead_letters_by_sink ON dead_letters (sink, failed_ms);
      CREATE INDEX IF NOT EXISTS dead_letters_by_kind ON dead_letters (kind, failed_ms, bytes);
    `);
  })();
}

function readMeta(db: Database.Database, key: string): string | undefined {
  try {
    return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  } catch {
    return undefined;
  }
}

function open(file: string, readonly: boolean): Database.Database {
  if (readonly) {
    const db = new Database(file, { readonly, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const columns = db.prepare('PRAGMA table_info(dead_letters)').all() as Array<{ name: string }>;
    const hasCursors = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cursors'").get() !== undefined;
    if (columns.length === 0 || (columns.some((c) => c.name === 'bytes') && !deadLetterIdsReusable(db) && hasCursors)) return db;
    // A store of an older version that no daemon of this one has opened yet: migrate it first.
    db.close();
    open(file, false).close();
    return open(file, true);
  }
  const db = new Database(file, { readonly, fileMustExist: readonly });
  db.pragma('busy_timeout = 5000');
  // Must precede table creation to take effect on a new database; lets checkpoint() shrink the file.
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  // FULL in WAL mode: every commit fsyncs the WAL. This is what makes an ack durable.
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 1000');
  db.pragma('journal_size_limit = 16777216');
  db.pragma('cache_size = -8000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL,
      subject TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      enqueued_ms INTEGER NOT NULL,
      sinks TEXT NOT NULL DEFAULT '',
      body TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS pending (
      sink TEXT NOT NULL,
      seq INTEGER NOT NULL,
      PRIMARY KEY (sink, seq)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS pending_by_seq ON pending (seq);
    CREATE TABLE IF NOT EXISTS dead_letters (${DEAD_LETTER_COLUMNS});
    CREATE INDEX IF NOT EXISTS dead_letters_by_sink ON dead_letters (sink, failed_ms);
  `);
  migrateToCursors(db);
  migrateDeadLetterBytes(db);
  migrateDeadLetterIds(db);
  db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
  return db;
}
