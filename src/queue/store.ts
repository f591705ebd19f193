/**
 * The synchronous SQLite store behind the durable queue. It runs inside the queue worker thread
 * (worker.ts) for the daemon, and directly in the CLI (`dlq`, `queue stats`). The design —
 * invariants, record format, fsync and ack rules, recovery — is described in ./index.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export const QUEUE_DB_FILE = 'queue.db';
const SCHEMA_VERSION = 1;

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

export class QueueStore {
  readonly db: Database.Database;
  readonly file: string;
  readonly recovery: RecoveryReport;
  private readonly stmts;
  /** Totals kept up to date by this connection's own writes (see liveStats). */
  private live: LiveCounters | undefined;

  private readonly quarantineLimits: QuarantineLimits | undefined;

  constructor(dir: string, options: { readonly?: boolean; checkIntegrity?: 'auto' | 'always' | 'never'; quarantine?: QuarantineLimits } = {}) {
    this.quarantineLimits = options.quarantine;
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, QUEUE_DB_FILE);
    const opened = openWithRecovery(this.file, options);
    this.db = opened.db;
    const db = this.db;
    this.stmts = {
      insertEvent: db.prepare('INSERT INTO events (id, subject, bytes, enqueued_ms, body) VALUES (?, ?, ?, ?, ?)'),
      insertPending: db.prepare('INSERT INTO pending (sink, seq) VALUES (?, ?)'),
      insertDead: db.prepare(
        'INSERT INTO dead_letters (kind, sink, event_id, subject, attempts, error_code, error, failed_ms, body, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      read: db.prepare(
        'SELECT p.seq AS seq, e.id AS id, e.subject AS subject, e.body AS body, e.enqueued_ms AS enqueuedMs FROM pending p JOIN events e ON e.seq = p.seq WHERE p.sink = ? AND p.seq > ? ORDER BY p.seq LIMIT ?',
      ),
      deletePending: db.prepare('DELETE FROM pending WHERE sink = ? AND seq = ?'),
      evictOld: db.prepare("DELETE FROM dead_letters WHERE kind = 'request' AND failed_ms < ? RETURNING bytes"),
      evictOldest: db.prepare("DELETE FROM dead_letters WHERE dlq_id IN (SELECT dlq_id FROM dead_letters WHERE kind = 'request' ORDER BY failed_ms, dlq_id LIMIT 64) RETURNING bytes"),
      reclaim: db.prepare('DELETE FROM events WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM pending WHERE seq = ?) RETURNING bytes'),
      eventBySeq: db.prepare('SELECT id, subject, body, bytes FROM events WHERE seq = ?'),
      bytesBySeq: db.prepare('SELECT bytes FROM events WHERE seq = ?'),
      oldestForSink: db.prepare('SELECT e.enqueued_ms AS ms FROM pending p JOIN events e ON e.seq = p.seq WHERE p.sink = ? ORDER BY p.seq LIMIT 1'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    };
    const totals = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b, COALESCE(MAX(seq), 0) AS m FROM events').get() as { n: number; b: number; m: number };
    this.recovery = { ...opened.report, events: totals.n, bytes: totals.b, maxSeq: totals.m };
    if (!options.readonly) this.stmts.setMeta.run('clean_shutdown', '0');
  }

  /** One transaction = one fsync (synchronous=FULL): the group commit. Returns the seq of each record. */
  append(records: readonly AppendRecord[], nowMs: number): number[] {
    return this.commit(records, [], nowMs).seqs;
  }

  /**
   * The group commit: appends and the deliveries recorded since the last commit, in one
   * transaction and so one fsync. Acks ride along instead of paying an fsync of their own.
   */
  commit(records: readonly AppendRecord[], acks: ReadonlyArray<readonly [string, readonly number[]]>, nowMs: number): { seqs: number[]; events: number; bytes: number } {
    const seqs: number[] = new Array(records.length);
    let events = 0;
    let bytes = 0;
    const live = this.live;
    this.guarded(() => {
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        if (r.sinks.length === 0) {
          const size = r.bytes ?? Buffer.byteLength(r.body);
          this.stmts.insertDead.run('unmatched', null, r.id, r.subject, 0, 'ROUTE_UNMATCHED', 'no route matched the event', nowMs, r.body, size);
          this.countDead('unmatched', 1, size);
          seqs[i] = 0;
          continue;
        }
        const size = r.bytes ?? Buffer.byteLength(r.body);
        const seq = Number(this.stmts.insertEvent.run(r.id, r.subject, size, nowMs, r.body).lastInsertRowid);
        for (const sink of r.sinks) this.stmts.insertPending.run(sink, seq);
        if (live) {
          live.events++;
          live.bytes += size;
          for (const sink of r.sinks) this.countPending(sink, 1, size);
        }
        seqs[i] = seq;
      }
      for (const [sink, ackSeqs] of acks) {
        for (const seq of ackSeqs) {
          const removed = this.stmts.deletePending.run(sink, seq).changes > 0;
          const gone = this.stmts.reclaim.get(seq, seq) as { bytes: number } | undefined;
          if (removed && live) {
            // Reclaimed: its size came back; still needed by another sink: look it up.
            const size = gone ? gone.bytes : ((this.stmts.bytesBySeq.get(seq) as { bytes: number } | undefined)?.bytes ?? 0);
            this.countPending(sink, -1, -size);
          }
          if (gone) {
            events++;
            bytes += gone.bytes;
          }
        }
      }
      if (live) {
        live.events -= events;
        live.bytes -= bytes;
      }
    });
    return { seqs, events, bytes };
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

  read(sink: string, afterSeq: number, limit: number): StoredEvent[] {
    return this.stmts.read.all(sink, afterSeq, limit) as StoredEvent[];
  }

  /** Marks events delivered to one sink; reclaims events no sink still needs. Returns reclaimed counts. */
  ack(sink: string, seqs: readonly number[]): { events: number; bytes: number } {
    const { events, bytes } = this.commit([], [[sink, seqs]], 0);
    return { events, bytes };
  }

  /** Moves events of one sink to the dead-letter store (body copied), then acks them for that sink. */
  deadLetter(sink: string, items: readonly DeadLetterInput[], nowMs: number): { events: number; bytes: number; deadEvents: number; deadBytes: number } {
    let events = 0;
    let bytes = 0;
    let deadEvents = 0;
    let deadBytes = 0;
    const live = this.live;
    this.guarded(() => {
      for (const item of items) {
        const row = this.stmts.eventBySeq.get(item.seq) as { id: string; subject: string; body: string; bytes: number } | undefined;
        if (!row) continue;
        this.stmts.insertDead.run('event', sink, row.id, row.subject, item.attempts, item.code, item.error, nowMs, row.body, row.bytes);
        this.countDead('event', 1, row.bytes);
        deadEvents++;
        deadBytes += row.bytes;
        if (this.stmts.deletePending.run(sink, item.seq).changes > 0) this.countPending(sink, -1, -row.bytes);
        const gone = this.stmts.reclaim.get(item.seq, item.seq) as { bytes: number } | undefined;
        if (gone) {
          events++;
          bytes += gone.bytes;
        }
      }
      if (live) {
        live.events -= events;
        live.bytes -= bytes;
      }
    });
    return { events, bytes, deadEvents, deadBytes };
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
        const seq = Number(this.stmts.insertEvent.run(row.eventId, row.subject ?? '', size, nowMs, row.body).lastInsertRowid);
        this.stmts.insertPending.run(target, seq);
        this.db.prepare('DELETE FROM dead_letters WHERE dlq_id = ?').run(row.dlqId);
        this.countDead(row.kind, -1, -(row.bytes ?? size));
        if (live) {
          live.events++;
          live.bytes += size;
          this.countPending(target, 1, size);
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
      const seqs = (this.db.prepare('SELECT seq FROM pending WHERE sink = ? ORDER BY seq').all(fromSink) as Array<{ seq: number }>).map((r) => r.seq);
      for (const seq of seqs) {
        const row = this.stmts.eventBySeq.get(seq) as { id: string; subject: string; body: string; bytes: number } | undefined;
        this.stmts.deletePending.run(fromSink, seq);
        if (!row) continue;
        if ('sink' in to) {
          const next = Number(this.stmts.insertEvent.run(row.id, row.subject, row.bytes, nowMs, row.body).lastInsertRowid);
          this.stmts.insertPending.run(to.sink, next);
          if (live) {
            live.events++;
            live.bytes += row.bytes;
            this.countPending(to.sink, 1, row.bytes);
          }
        } else {
          this.stmts.insertDead.run('event', fromSink, row.id, row.subject, 0, 'SINK_REMOVED', `moved out of the queue of sink "${fromSink}" by an operator`, nowMs, row.body, row.bytes);
          this.countDead('event', 1, row.bytes);
        }
        const gone = this.stmts.reclaim.get(seq, seq) as { bytes: number } | undefined;
        if (live) {
          this.countPending(fromSink, -1, -row.bytes);
          if (gone) {
            live.events--;
            live.bytes -= gone.bytes;
          }
        }
        moved++;
        bytes += row.bytes;
      }
    });
    return { moved, bytes };
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
    const sinks = this.db
      .prepare(
        'SELECT p.sink AS sink, COUNT(*) AS depth, COALESCE(SUM(e.bytes), 0) AS bytes, MIN(e.enqueued_ms) AS oldestMs FROM pending p JOIN events e ON e.seq = p.seq GROUP BY p.sink ORDER BY p.sink',
      )
      .all() as SinkDepth[];
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
      if (count.depth <= 0) continue;
      const oldest = this.stmts.oldestForSink.get(sink) as { ms: number } | undefined;
      sinks.push({ sink, depth: count.depth, bytes: count.bytes, oldestMs: oldest?.ms ?? null });
    }
    const { events, bytes, deadLetters, deadLetterEvents, deadLetterBytes, quarantined, quarantinedBytes } = this.live;
    return { events, bytes, deadLetters, deadLetterEvents, deadLetterBytes, quarantined, quarantinedBytes, sinks };
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
      throw error;
    }
  }

  close(): void {
    if (this.db.open) {
      if (!this.db.readonly) {
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
    if (columns.length === 0 || (columns.some((c) => c.name === 'bytes') && !deadLetterIdsReusable(db))) return db;
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
  migrateDeadLetterBytes(db);
  migrateDeadLetterIds(db);
  db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
  return db;
}
