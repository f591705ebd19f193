/**
 * Group MsgSeq gap tracking, in memory (issue 25). Pure bookkeeping: no I/O, no timers, no logging;
 * src/gaps/index.ts owns persistence, metrics and log lines.
 *
 * Tencent allocates a group's MsgSeq in send order, +1 per stored message (reference §8), and a
 * Community topic has a sequence of its own. Per conversation (app, group, topic) we keep:
 *   - base: the first seq this bridge saw (what came before it is unknown, never a gap),
 *   - high: the highest seq up to which every seq from base on was seen,
 *   - max: the highest seq seen,
 *   - ranges: the missing seqs between high and max, as sorted disjoint ranges.
 * A range is "pending" until grace_ms passed without its callbacks (they arrive out of order), then
 * "confirmed": counted, logged and listed as a gap.
 *
 * Sequences that cannot be compared are classified, never reported as gaps: AVChatRoom (no stored
 * history, seqs not meaningful), the first message of a conversation (nothing before it is a gap),
 * a seq more than max_jump below high (the group was dismissed and re-created: a new sequence), and
 * a jump beyond max_jump (what lies between is not believed missing).
 */

export interface MissingRange {
  from: number;
  to: number;
  /** When the range was opened (ms). */
  openedMs: number;
  /** When it was confirmed as a gap (grace passed); undefined while pending. */
  confirmedMs?: number;
}

export interface SeqState {
  key: string;
  sdkAppId: string;
  groupId: string;
  /** '' for a group's own sequence. */
  topicId: string;
  /** The group's type as the callbacks named it ('' when they did not): a backfilled event carries it too. */
  groupType: string;
  base: number;
  high: number;
  max: number;
  ranges: MissingRange[];
  updatedMs: number;
}

export type Uncomparable = 'avchatroom' | 'first_seen' | 'restart' | 'jump';

/** What one observed seq did. */
export type Observation =
  | { kind: 'advanced' }
  | { kind: 'opened'; range: MissingRange }
  | { kind: 'filled'; wasConfirmed: boolean }
  | { kind: 'duplicate' }
  | { kind: 'uncomparable'; reason: Uncomparable; closed: MissingRange[] }
  | { kind: 'merged'; opened: MissingRange; into: MissingRange };

export interface TrackerLimits {
  maxRangesPerGroup: number;
  maxJump: number;
}

export function stateKey(sdkAppId: string, groupId: string, topicId: string): string {
  // GroupIds hold neither NUL nor newline; NUL keeps the three parts apart without escaping.
  return sdkAppId + '\u0000' + groupId + '\u0000' + topicId;
}

/** The key of a conversation's group itself (its topic cut off): stateKey(app, group, ''). */
export function groupKeyOf(key: string): string {
  return key.slice(0, key.lastIndexOf('\u0000') + 1);
}

export function newState(sdkAppId: string, groupId: string, topicId: string, seq: number, nowMs: number, groupType = ''): SeqState {
  return { key: stateKey(sdkAppId, groupId, topicId), sdkAppId, groupId, topicId, groupType, base: seq, high: seq, max: seq, ranges: [], updatedMs: nowMs };
}

export function rangeSize(range: MissingRange): number {
  return range.to - range.from + 1;
}

/** Applies one seen seq to a conversation's state (the caller found or created it). */
export function observeSeq(state: SeqState, seq: number, nowMs: number, limits: TrackerLimits): Observation {
  state.updatedMs = nowMs;
  if (seq > state.max) {
    const missing = seq - state.max - 1;
    if (missing > limits.maxJump) {
      // Not a gap we believe in: restart the sequence at seq, keep the gaps already known below.
      const closed = restart(state, seq, false);
      return { kind: 'uncomparable', reason: 'jump', closed };
    }
    let observation: Observation = { kind: 'advanced' };
    if (missing > 0) {
      const range: MissingRange = { from: state.max + 1, to: seq - 1, openedMs: nowMs };
      state.ranges.push(range);
      observation = { kind: 'opened', range };
      if (state.ranges.length > limits.maxRangesPerGroup) observation = { kind: 'merged', opened: range, into: mergeClosest(state.ranges) };
    }
    state.max = seq;
    if (state.ranges.length === 0) state.high = seq;
    return observation;
  }
  if (seq <= state.high) {
    // Far below what we know: a re-created group whose new sequence we see (a dismissed group is
    // forgotten at Group.CallbackAfterGroupDestroyed already). A seq of 1 just after higher ones is
    // not taken for a restart: it may be a late or redelivered callback, and taking it for one would
    // report false gaps; a missed restart only delays detection until the new seqs pass the old max.
    if (state.high - seq > limits.maxJump) {
      return { kind: 'uncomparable', reason: 'restart', closed: restart(state, seq, true) };
    }
    return { kind: 'duplicate' };
  }
  // high < seq <= max: a late callback, or a duplicate of one already seen above high.
  const index = findRange(state.ranges, seq);
  if (index < 0) return { kind: 'duplicate' };
  const range = state.ranges[index]!;
  const wasConfirmed = range.confirmedMs !== undefined;
  closeSeq(state, index, seq);
  return { kind: 'filled', wasConfirmed };
}

/**
 * Marks seq as no longer missing (a backfilled message, or one the API reports as deleted/expired).
 * Returns whether it was missing, and whether its range had been confirmed.
 */
export function resolveSeq(state: SeqState, seq: number): { found: boolean; wasConfirmed: boolean } {
  const index = findRange(state.ranges, seq);
  if (index < 0) return { found: false, wasConfirmed: false };
  const wasConfirmed = state.ranges[index]!.confirmedMs !== undefined;
  closeSeq(state, index, seq);
  return { found: true, wasConfirmed };
}

/** Missing seqs of a state, confirmed ones only or all. */
export function missingCount(state: SeqState, confirmedOnly: boolean): number {
  let n = 0;
  for (const r of state.ranges) if (!confirmedOnly || r.confirmedMs !== undefined) n += rangeSize(r);
  return n;
}

function findRange(ranges: MissingRange[], seq: number): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (seq < r.from) hi = mid - 1;
    else if (seq > r.to) lo = mid + 1;
    else return mid;
  }
  return -1;
}

function closeSeq(state: SeqState, index: number, seq: number): void {
  const range = state.ranges[index]!;
  if (range.from === range.to) state.ranges.splice(index, 1);
  else if (seq === range.from) range.from++;
  else if (seq === range.to) range.to--;
  else state.ranges.splice(index + 1, 0, { ...range, from: seq + 1 }), (range.to = seq - 1);
  state.high = state.ranges.length > 0 ? state.ranges[0]!.from - 1 : state.max;
}

/** Starts the sequence again at seq; a re-created group also drops the old incarnation's gaps. */
function restart(state: SeqState, seq: number, dropGaps: boolean): MissingRange[] {
  const closed = dropGaps ? state.ranges : [];
  if (dropGaps) {
    state.ranges = [];
    state.base = seq;
  }
  state.max = seq;
  if (state.ranges.length === 0) state.high = seq;
  return closed;
}

/**
 * Over max_ranges_per_group: the two neighbouring ranges with the fewest seen seqs between them
 * become one. Those seen seqs are then listed as missing (a backfill fetches them again; sinks drop
 * the duplicates by id), which keeps memory bounded without forgetting any missing seq.
 */
function mergeClosest(ranges: MissingRange[]): MissingRange {
  let best = 0;
  for (let i = 1; i < ranges.length - 1; i++) {
    if (ranges[i + 1]!.from - ranges[i]!.to < ranges[best + 1]!.from - ranges[best]!.to) best = i;
  }
  const a = ranges[best]!;
  const b = ranges[best + 1]!;
  const merged: MissingRange = { from: a.from, to: b.to, openedMs: Math.min(a.openedMs, b.openedMs) };
  // Confirmed only if both were: a pending part keeps its grace.
  if (a.confirmedMs !== undefined && b.confirmedMs !== undefined) merged.confirmedMs = Math.min(a.confirmedMs, b.confirmedMs);
  ranges.splice(best, 2, merged);
  return merged;
}
