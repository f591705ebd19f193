/**
 * The gap monitor (issue 25): watches the MsgSeq of every group message callback that was durably
 * accepted, keeps the per-conversation state of tracker.ts in a bounded LRU backed by gaps.db, and
 * turns missing ranges into reported gaps after gaps.grace_ms: counted, logged (rate-limited), on
 * /readyz and listed by `im-bridge gaps list`.
 *
 * Cost on the hot path: one string compare for other commands; for a group message a Map lookup
 * and re-insert (the LRU order) and a few comparisons. Everything else — confirming gaps, logging,
 * writing gaps.db — runs on one timer every gaps.flush_interval_ms.
 */
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import { GapsSchema, type GapsConfig } from '../config/schema.js';
import type { CanonicalEvent } from '../normalize/event.js';
import type { Metrics } from '../telemetry/metrics.js';
import { GapStore } from './store.js';
import { groupKeyOf, missingCount, newState, observeSeq, rangeSize, resolveSeq, stateKey, type MissingRange, type SeqState, type TrackerLimits } from './tracker.js';

export { GapStore, GAPS_DB_FILE } from './store.js';
export type { MissingRange, SeqState } from './tracker.js';

const GROUP_MESSAGE = 'Group.CallbackAfterSendMsg';
const GROUP_DESTROYED = 'Group.CallbackAfterGroupDestroyed';
/** Log lines about gaps per flush interval; the rest are summed up in one line. */
const LOG_LINES_PER_TICK = 20;
/**
 * Rows of states that only advanced, written per flush interval: one transaction stays a few ms
 * (about 4 µs a row) however many groups are active; the rest waits for the next interval. Changes
 * of missing ranges are always written at once.
 */
const PLAIN_ROWS_PER_FLUSH = 2000;

export interface GapReport {
  enabled: boolean;
  /** Conversations tracked in memory / stored in gaps.db. */
  conversations: number;
  stored: number;
  /** Reported (grace passed) gaps still open, and their missing seqs. */
  openGaps: number;
  missing: number;
  /** Missing seqs still within their grace period. */
  pending: number;
}

export interface GapMonitorOptions {
  /** The queue directory: gaps.db lives there. */
  dir: string;
  config?: GapsConfig;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

interface Totals {
  gaps: number;
  missing: number;
}

function confirmedTotals(state: SeqState): Totals {
  let gaps = 0;
  let missing = 0;
  for (const r of state.ranges) {
    if (r.confirmedMs === undefined) continue;
    gaps++;
    missing += rangeSize(r);
  }
  return { gaps, missing };
}

/** The gaps: section with its defaults (the schema is the one copy of them). */
export function gapsConfig(config: GapsConfig | undefined): GapsConfig {
  // Value.Default fills each property's default (Value.Create would return the section's `{}`).
  return config ?? (Value.Default(GapsSchema, {}) as GapsConfig);
}

export class GapMonitor {
  readonly config: GapsConfig;
  private readonly store: GapStore;
  /** LRU: Map iteration order is insertion order, a touched state is re-inserted at the end. */
  private readonly states = new Map<string, SeqState>();
  private readonly dirty = new Set<SeqState>();
  /** Changed missing ranges: written at every flush, and before every read of open ranges. */
  private readonly rangesDirty = new Set<SeqState>();
  /** Evicted from memory, not yet written. */
  private readonly evicted = new Map<string, SeqState>();
  /**
   * Topic conversations in memory (in states or evicted) per group key: a destroyed Community group
   * finds its topics without a scan of every state (8 ms per destruction at 100,000 conversations).
   */
  private readonly topicsInMemory = new Map<string, Set<string>>();
  /** Destroyed groups (key prefix → app, group) whose rows the next flush deletes; gaps.db is stale for them until then. */
  private readonly destroyed = new Map<string, readonly [string, string]>();
  /** States with ranges still within grace. */
  private readonly pending = new Set<SeqState>();
  private readonly limits: TrackerLimits;
  private readonly now: () => number;
  private openGaps = 0;
  private missing = 0;
  private stored = 0;
  private timer: NodeJS.Timeout | undefined;
  private logBudget = LOG_LINES_PER_TICK;
  private suppressed = 0;
  private closed = false;

  private constructor(private readonly options: GapMonitorOptions, store: GapStore) {
    this.config = gapsConfig(options.config);
    this.store = store;
    this.now = options.now ?? Date.now;
    this.limits = { maxRangesPerGroup: this.config.max_ranges_per_group, maxJump: this.config.max_jump };
    const totals = store.totals();
    this.openGaps = totals.gaps;
    this.missing = totals.missing;
    this.stored = totals.conversations;
    for (const state of store.recent(this.config.max_groups)) {
      this.states.set(state.key, state);
      this.rememberTopic(state.key);
      if (state.ranges.some((r) => r.confirmedMs === undefined)) this.pending.add(state);
    }
    this.publish();
  }

  /** Opens gaps.db in dir and loads the most recent state; start() begins the timer. */
  static open(options: GapMonitorOptions): GapMonitor {
    return new GapMonitor(options, GapStore.open(options.dir));
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.config.flush_interval_ms);
    this.timer.unref();
  }

  /** Hot path: called once per callback that was accepted (durably appended, or dropped by policy). */
  observe(event: CanonicalEvent): void {
    const command = event.imcommand;
    if (command !== GROUP_MESSAGE) {
      if (command === GROUP_DESTROYED) this.forgetGroup(event);
      return;
    }
    const data = event.data;
    const conversation = data.conversation;
    const seq = data.seq;
    const groupId = conversation.groupId;
    if (groupId === undefined || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return;
    const m = this.options.metrics;
    // AVChatRoom keeps no history and its seqs cannot be fetched or trusted to be contiguous.
    if (conversation.groupType === 'AVChatRoom') {
      m.groupSeqUncomparable.inc({ reason: 'avchatroom' });
      return;
    }
    const nowMs = this.now();
    const key = stateKey(event.imsdkappid, groupId, conversation.topicId ?? '');
    let state = this.states.get(key);
    if (state !== undefined) {
      this.states.delete(key);
      this.states.set(key, state);
    } else {
      state = this.fromStore(key);
      if (state === undefined) {
        state = newState(event.imsdkappid, groupId, conversation.topicId ?? '', seq, nowMs, conversation.groupType);
        this.stored++;
        this.admit(state);
        m.groupSeqUncomparable.inc({ reason: 'first_seen' });
        return;
      }
      this.evicted.delete(key);
      this.admit(state);
      if (state.ranges.some((r) => r.confirmedMs === undefined)) this.pending.add(state);
    }
    this.apply(state, (s) => observeSeq(s, seq, nowMs, this.limits), 'late_callback');
  }

  /**
   * Marks seqs as no longer missing: `backfill` (the message was fetched and queued) or `place_msg`
   * (Tencent reports it deleted or expired). Returns how many were missing.
   */
  resolve(sdkAppId: string, groupId: string, topicId: string, seqs: number[], how: 'backfill' | 'place_msg'): number {
    const key = stateKey(sdkAppId, groupId, topicId);
    let state = this.states.get(key);
    if (state === undefined) {
      state = this.fromStore(key);
      if (state === undefined) return 0;
      this.evicted.delete(key);
      this.admit(state);
    }
    let found = 0;
    this.apply(state, (s) => {
      for (const seq of seqs) if (resolveSeq(s, seq).found) found++;
      return { kind: 'resolved' as const };
    }, how);
    return found;
  }

  /** Open ranges of the conversations matching the filter (memory first, then gaps.db). */
  openRanges(filter: { groupId?: string; sinceMs?: number } = {}): SeqState[] {
    this.flush(0);
    return this.store.open(filter);
  }

  report(): GapReport {
    let pending = 0;
    for (const s of this.pending) pending += missingCount(s, false) - missingCount(s, true);
    return { enabled: true, conversations: this.states.size, stored: this.stored, openGaps: this.openGaps, missing: this.missing, pending };
  }

  /** Confirms ranges past their grace, logs them, writes the changed state. */
  tick(): void {
    if (this.closed) return;
    this.logBudget = LOG_LINES_PER_TICK;
    if (this.suppressed > 0) {
      this.options.logger.warn({ code: 'GROUP_SEQ_GAPS_SUMMARY', suppressed: this.suppressed }, `${this.suppressed} more group seq gap line(s) not logged (rate limit); see im-bridge gaps list`);
      this.suppressed = 0;
    }
    const nowMs = this.now();
    for (const state of this.pending) {
      let waiting = false;
      for (const range of state.ranges) {
        if (range.confirmedMs !== undefined) continue;
        if (nowMs - range.openedMs >= this.config.grace_ms) this.confirm(state, range, nowMs);
        else waiting = true;
      }
      if (!waiting) this.pending.delete(state);
    }
    this.flush(PLAIN_ROWS_PER_FLUSH);
  }

  /** Final flush; the timer stops. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.flush(Number.POSITIVE_INFINITY);
    this.closed = true;
    this.store.close();
  }

  /** Writes destroyed groups, changed ranges, evictions, and up to `plainRows` states that only advanced. */
  private flush(plainRows: number): void {
    if (this.closed || (this.rangesDirty.size === 0 && this.evicted.size === 0 && this.destroyed.size === 0 && (this.dirty.size === 0 || plainRows === 0))) return;
    const batch = new Set<SeqState>([...this.rangesDirty, ...this.evicted.values()]);
    for (const state of this.dirty) {
      if (batch.size - this.rangesDirty.size - this.evicted.size >= plainRows) break;
      batch.add(state);
    }
    try {
      this.store.write(batch, this.destroyed.values());
      for (const state of batch) this.dirty.delete(state);
      this.rangesDirty.clear();
      // Written: out of memory now (an evicted conversation is never in `states` as well).
      for (const key of this.evicted.keys()) this.forgetTopic(key);
      this.evicted.clear();
      this.destroyed.clear();
    } catch (error) {
      // Kept in memory and written at the next tick; the events themselves are not affected.
      this.options.logger.warn({ code: 'GAPS_STORE_WRITE_FAILED', err: (error as Error).message, file: this.store.file }, 'cannot write the gap state; retrying at the next flush');
    }
    this.publish();
  }

  private publish(): void {
    const m = this.options.metrics;
    m.groupSeqMissing.set(this.missing);
    m.groupSeqOpenGaps.set(this.openGaps);
    m.groupSeqTracked.set(this.states.size);
  }

  private admit(state: SeqState): void {
    this.states.set(state.key, state);
    this.rememberTopic(state.key);
    this.dirty.add(state);
    if (this.states.size <= this.config.max_groups) return;
    const oldest = this.states.values().next().value as SeqState;
    this.states.delete(oldest.key);
    // Out of memory, out of the timer's sight: what is still pending is reported now.
    if (this.pending.delete(oldest)) {
      const nowMs = this.now();
      for (const range of oldest.ranges) if (range.confirmedMs === undefined) this.confirm(oldest, range, nowMs);
    }
    this.dirty.delete(oldest);
    this.rangesDirty.delete(oldest);
    this.evicted.set(oldest.key, oldest);
  }

  /** Runs one change of a state and accounts for it: totals, pending, metrics, log lines. */
  private apply(state: SeqState, change: (s: SeqState) => ReturnType<typeof observeSeq> | { kind: 'resolved' }, closedHow: 'late_callback' | 'backfill' | 'place_msg'): void {
    const m = this.options.metrics;
    const before = state.ranges.length > 0 ? confirmedTotals(state) : { gaps: 0, missing: 0 };
    const result = change(state);
    this.dirty.add(state);
    if (result.kind !== 'advanced' && result.kind !== 'duplicate') this.rangesDirty.add(state);
    switch (result.kind) {
      case 'advanced':
        if (before.gaps === 0) return;
        break;
      case 'duplicate':
        m.groupSeqDuplicates.inc();
        return;
      case 'opened':
      case 'merged':
        this.pending.add(state);
        break;
      case 'uncomparable':
        m.groupSeqUncomparable.inc({ reason: result.reason });
        this.logLimited('info', {
          code: result.reason === 'restart' ? 'GROUP_SEQ_RESTARTED' : 'GROUP_SEQ_JUMPED',
          sdkAppId: state.sdkAppId,
          groupId: state.groupId,
          topicId: state.topicId || undefined,
          seq: state.max,
          droppedRanges: result.closed.length,
        }, result.reason === 'restart'
          ? `group ${state.groupId}: MsgSeq started again at ${state.max} (group re-created); not a gap`
          : `group ${state.groupId}: MsgSeq jumped to ${state.max} (more than gaps.max_jump); not a gap, tracking goes on from there`);
        break;
      default:
        break;
    }
    const after = confirmedTotals(state);
    const closedSeqs = before.missing - after.missing;
    if (closedSeqs > 0) m.groupSeqGapsClosed.inc({ how: result.kind === 'uncomparable' ? 'restart' : closedHow }, closedSeqs);
    this.openGaps += after.gaps - before.gaps;
    this.missing += after.missing - before.missing;
  }

  private confirm(state: SeqState, range: MissingRange, nowMs: number): void {
    range.confirmedMs = nowMs;
    this.dirty.add(state);
    this.rangesDirty.add(state);
    this.openGaps++;
    this.missing += rangeSize(range);
    this.options.metrics.groupSeqGaps.inc();
    this.logLimited('warn', {
      code: 'GROUP_SEQ_GAP',
      sdkAppId: state.sdkAppId,
      groupId: state.groupId,
      topicId: state.topicId || undefined,
      from: range.from,
      to: range.to,
      missing: rangeSize(range),
    }, `group ${state.groupId}${state.topicId ? ` topic ${state.topicId}` : ''}: no callback for MsgSeq ${range.from === range.to ? range.from : `${range.from}-${range.to}`} (${rangeSize(range)} message(s)) within ${this.config.grace_ms} ms`);
  }

  /**
   * Group.CallbackAfterGroupDestroyed: its history is gone, its gaps cannot be repaired. Its
   * conversations leave memory now and gaps.db with the next flush (one transaction per flush
   * interval, like every write: a burst of destroyed groups used to cost three transactions and a
   * count of the whole table each, on the thread that answers callbacks).
   */
  private forgetGroup(event: CanonicalEvent): void {
    const sdkAppId = event.imsdkappid;
    const groupId = event.data.conversation.groupId;
    if (groupId === undefined) return;
    const prefix = stateKey(sdkAppId, groupId, '');
    // Memory holds the newest state of a conversation; gaps.db the others (unless a destruction
    // of the same group is still to be written: then it holds nothing of this group any more).
    const dropped = new Map<string, SeqState>();
    for (const key of [prefix, ...(this.topicsInMemory.get(prefix) ?? [])]) {
      const state = this.states.get(key) ?? this.evicted.get(key);
      if (state !== undefined) dropped.set(key, state);
    }
    this.topicsInMemory.delete(prefix);
    if (!this.destroyed.has(prefix)) for (const state of this.store.group(sdkAppId, groupId)) if (!dropped.has(state.key)) dropped.set(state.key, state);
    let missing = 0;
    for (const [key, state] of dropped) {
      const t = confirmedTotals(state);
      this.openGaps -= t.gaps;
      this.missing -= t.missing;
      missing += t.missing;
      this.states.delete(key);
      this.evicted.delete(key);
      this.pending.delete(state);
      this.dirty.delete(state);
      this.rangesDirty.delete(state);
    }
    // Each was counted once: read from gaps.db, or new (not written yet).
    this.stored -= dropped.size;
    this.destroyed.set(prefix, [sdkAppId, groupId]);
    if (missing > 0) this.options.metrics.groupSeqGapsClosed.inc({ how: 'destroyed' }, missing);
    this.publish();
  }

  /** A conversation that is not in memory: evicted and not written yet, or in gaps.db. */
  private fromStore(key: string): SeqState | undefined {
    const evicted = this.evicted.get(key);
    if (evicted !== undefined) return evicted;
    return this.destroyed.has(groupKeyOf(key)) ? undefined : this.store.get(key);
  }

  private rememberTopic(key: string): void {
    const group = groupKeyOf(key);
    if (group.length === key.length) return;
    let topics = this.topicsInMemory.get(group);
    if (topics === undefined) this.topicsInMemory.set(group, (topics = new Set()));
    topics.add(key);
  }

  private forgetTopic(key: string): void {
    const group = groupKeyOf(key);
    const topics = group.length === key.length ? undefined : this.topicsInMemory.get(group);
    if (topics === undefined) return;
    topics.delete(key);
    if (topics.size === 0) this.topicsInMemory.delete(group);
  }

  private logLimited(level: 'info' | 'warn', fields: Record<string, unknown>, message: string): void {
    if (this.logBudget <= 0) {
      this.suppressed++;
      return;
    }
    this.logBudget--;
    this.options.logger[level](fields, message);
  }
}
