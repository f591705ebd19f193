/**
 * gaps.db: the gap tracker's state, one row per conversation (app, group, topic), in the queue
 * directory next to the queue's own database. A separate file because the queue's database is
 * written by its worker thread; this one is written by the main thread in batches (one transaction
 * per flush interval), never per request: a destroyed group's rows go with the next batch too.
 * synchronous=NORMAL: the state is advisory (a crash loses at most the last flush interval, see
 * README "When callbacks are lost"), the events are not in it.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stateKey, type MissingRange, type SeqState } from './tracker.js';

export const GAPS_DB_FILE = 'gaps.db';

interface Row {
  key: string;
  sdk_app_id: string;
  group_id: string;
  topic_id: string;
  group_type: string;
  base: number;
  high: number;
  max: number;
  ranges: string;
  updated_ms: number;
}

export interface StoredTotals {
  conversations: number;
  gaps: number;
  missing: number;
}

export class GapStore {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly byKey: Database.Statement;
  private readonly inGroup: Database.Statement;
  private readonly allInGroup: Database.Statement;
  private readonly removeGroup: Database.Statement;

  private constructor(db: Database.Database, readonly file: string) {
    this.db = db;
    this.upsert = db.prepare(
      `INSERT INTO group_seq (key, sdk_app_id, group_id, topic_id, group_type, base, high, max, ranges, gaps, missing, updated_ms)
       VALUES (@key, @sdkAppId, @groupId, @topicId, @groupType, @base, @high, @max, @ranges, @gaps, @missing, @updatedMs)
       ON CONFLICT(key) DO UPDATE SET group_type=excluded.group_type, base=excluded.base, high=excluded.high, max=excluded.max, ranges=excluded.ranges,
         gaps=excluded.gaps, missing=excluded.missing, updated_ms=excluded.updated_ms`,
    );
    this.byKey = db.prepare('SELECT * FROM group_seq WHERE key = ?');
    this.inGroup = db.prepare("SELECT * FROM group_seq WHERE key >= ? AND key < ? AND ranges <> '[]' ORDER BY key");
    // A group's conversations are a range of the primary key (app NUL group NUL topic): no scan.
    this.allInGroup = db.prepare('SELECT * FROM group_seq WHERE key >= ? AND key < ?');
    this.removeGroup = db.prepare('DELETE FROM group_seq WHERE key >= ? AND key < ?');
  }

  /** Opens (creating) dir/gaps.db for the daemon. */
  static open(dir: string): GapStore {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, GAPS_DB_FILE);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE IF NOT EXISTS group_seq (
      key TEXT PRIMARY KEY, sdk_app_id TEXT NOT NULL, group_id TEXT NOT NULL, topic_id TEXT NOT NULL, group_type TEXT NOT NULL,
      base INTEGER NOT NULL, high INTEGER NOT NULL, max INTEGER NOT NULL,
      ranges TEXT NOT NULL, gaps INTEGER NOT NULL, missing INTEGER NOT NULL, updated_ms INTEGER NOT NULL)`);
    db.exec('CREATE INDEX IF NOT EXISTS group_seq_updated ON group_seq (updated_ms)');
    return new GapStore(db, file);
  }

  /** Opens an existing gaps.db read-only (the CLI, while the daemon may be writing it); undefined if absent. */
  static openReadOnly(dir: string): GapStore | undefined {
    const file = path.join(dir, GAPS_DB_FILE);
    if (!fs.existsSync(file)) return undefined;
    return new GapStore(new Database(file, { readonly: true, fileMustExist: true }), file);
  }

  /**
   * One transaction for a batch: the destroyed groups' rows go first, then the changed states (a
   * group re-created under the same id after its destruction keeps its new state).
   */
  write(states: Iterable<SeqState>, destroyedGroups: Iterable<readonly [sdkAppId: string, groupId: string]> = []): void {
    this.db.transaction(() => {
      for (const [sdkAppId, groupId] of destroyedGroups) this.removeGroup.run(...groupKeyRange(sdkAppId, groupId));
      for (const s of states) {
        let gaps = 0;
        let missing = 0;
        for (const r of s.ranges) {
          if (r.confirmedMs === undefined) continue;
          gaps++;
          missing += r.to - r.from + 1;
        }
        this.upsert.run({ key: s.key, sdkAppId: s.sdkAppId, groupId: s.groupId, topicId: s.topicId, groupType: s.groupType, base: s.base, high: s.high, max: s.max, ranges: JSON.stringify(s.ranges), gaps, missing, updatedMs: s.updatedMs });
      }
    })();
  }

  /** Every conversation of a group (its own sequence and its topics'), as stored. */
  group(sdkAppId: string, groupId: string): SeqState[] {
    return (this.allInGroup.all(...groupKeyRange(sdkAppId, groupId)) as Row[]).map(toState);
  }

  get(key: string): SeqState | undefined {
    const row = this.byKey.get(key) as Row | undefined;
    return row && toState(row);
  }

  /** The most recently updated states, oldest first (the order an LRU is filled in). */
  recent(limit: number): SeqState[] {
    const rows = this.db.prepare('SELECT * FROM group_seq ORDER BY updated_ms DESC LIMIT ?').all(limit) as Row[];
    return rows.reverse().map(toState);
  }

  /**
   * States with open (pending or confirmed) ranges, filtered by group id and detection time. With
   * `sdkAppId` and `groupId` only that group's rows are read (a key range of the primary key: the
   * key is app NUL group NUL topic), not the whole table.
   */
  open(filter: { sdkAppId?: string; groupId?: string; sinceMs?: number } = {}): SeqState[] {
    const rows = (
      filter.sdkAppId !== undefined && filter.groupId !== undefined
        ? this.inGroup.all(...groupKeyRange(filter.sdkAppId, filter.groupId))
        : this.db.prepare("SELECT * FROM group_seq WHERE ranges <> '[]' ORDER BY sdk_app_id, group_id, topic_id").all()
    ) as Row[];
    const out: SeqState[] = [];
    for (const row of rows) {
      if (filter.groupId !== undefined && row.group_id !== filter.groupId) continue;
      const state = toState(row);
      if (filter.sinceMs !== undefined) state.ranges = state.ranges.filter((r) => r.openedMs >= filter.sinceMs!);
      if (state.ranges.length > 0) out.push(state);
    }
    return out;
  }

  totals(): StoredTotals {
    const row = this.db.prepare('SELECT COUNT(*) AS conversations, COALESCE(SUM(gaps), 0) AS gaps, COALESCE(SUM(missing), 0) AS missing FROM group_seq').get() as StoredTotals;
    return row;
  }

  close(): void {
    this.db.close();
  }
}

/** [first, after last) of the keys of a group's conversations: app NUL group NUL topic. */
function groupKeyRange(sdkAppId: string, groupId: string): [string, string] {
  return [stateKey(sdkAppId, groupId, ''), sdkAppId + '\u0000' + groupId + '\u0001'];
}

function toState(row: Row): SeqState {
  return {
    key: row.key,
    sdkAppId: row.sdk_app_id,
    groupId: row.group_id,
    topicId: row.topic_id,
    groupType: row.group_type,
    base: row.base,
    high: row.high,
    max: row.max,
    ranges: JSON.parse(row.ranges) as MissingRange[],
    updatedMs: row.updated_ms,
  };
}
