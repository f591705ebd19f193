// Issue 25: the per-conversation MsgSeq bookkeeping (src/gaps/tracker.ts), pure.
import t from 'tap';
import { missingCount, newState, observeSeq, resolveSeq, type SeqState } from '../../../src/gaps/tracker.js';

const limits = { maxRangesPerGroup: 4, maxJump: 1000 };
const ranges = (s: SeqState) => s.ranges.map((r) => [r.from, r.to]);

t.test('in-order seqs advance; a jump opens a range; late seqs split and close it', async (t) => {
  const s = newState('1400000000', 'g', '', 10, 0);
  t.same(observeSeq(s, 11, 1, limits), { kind: 'advanced' });
  t.equal(s.high, 11);
  const opened = observeSeq(s, 15, 2, limits);
  t.equal(opened.kind, 'opened');
  t.same(ranges(s), [[12, 14]]);
  t.equal(s.high, 11, 'high stops below the gap');
  t.equal(s.max, 15);
  t.same(observeSeq(s, 13, 3, limits), { kind: 'filled', wasConfirmed: false });
  t.same(ranges(s), [[12, 12], [14, 14]], 'a seq inside a range splits it');
  t.same(observeSeq(s, 13, 3, limits), { kind: 'duplicate' }, 'seen twice above high: duplicate');
  observeSeq(s, 12, 4, limits);
  t.equal(s.high, 13);
  observeSeq(s, 14, 5, limits);
  t.same(ranges(s), []);
  t.equal(s.high, 15, 'all filled: high reaches max');
  t.same(observeSeq(s, 9, 6, limits), { kind: 'duplicate' }, 'below base (before tracking) is never a gap');
});

t.test('a seq far below high is a re-created group, not a gap; its old gaps are dropped', async (t) => {
  const s = newState('1', 'g', '', 5000, 0);
  observeSeq(s, 5009, 0, limits);
  t.same(observeSeq(s, 4999, 0, limits), { kind: 'duplicate' }, 'just below: a late or redelivered callback');
  const r = observeSeq(s, 1, 0, limits);
  t.equal(r.kind, 'uncomparable');
  t.equal(r.kind === 'uncomparable' && r.reason, 'restart');
  t.equal(r.kind === 'uncomparable' && r.closed.length, 1);
  t.same([s.base, s.high, s.max, s.ranges.length], [1, 1, 1, 0]);
  observeSeq(s, 2, 0, limits);
  t.equal(s.high, 2);
});

t.test('a jump beyond max_jump restarts the sequence there and keeps the gaps below', async (t) => {
  const s = newState('1', 'g', '', 1, 0);
  observeSeq(s, 3, 0, limits);
  const r = observeSeq(s, 5000, 0, limits);
  t.equal(r.kind === 'uncomparable' && r.reason, 'jump');
  t.same(ranges(s), [[2, 2]], 'the real gap stays');
  t.equal(s.max, 5000);
  observeSeq(s, 5001, 0, limits);
  t.same(ranges(s), [[2, 2]], 'nothing opened between 3 and 5000');
  t.equal(s.high, 1);
  observeSeq(s, 2, 0, limits);
  t.equal(s.high, 5001);
});

t.test('more ranges than max_ranges_per_group: the two closest merge, no missing seq forgotten', async (t) => {
  const s = newState('1', 'g', '', 1, 0);
  for (const seq of [3, 5, 20, 22, 40]) observeSeq(s, seq, 0, limits);
  // ranges: [2],[4],[6-19],[21],[23-39] -> 5 > 4: [2] and [4] are closest (one seen seq between)
  t.same(ranges(s), [[2, 4], [6, 19], [21, 21], [23, 39]]);
  t.equal(missingCount(s, false), 3 + 14 + 1 + 17);
});

t.test('resolveSeq closes seqs fetched by a backfill or reported deleted', async (t) => {
  const s = newState('1', 'g', '', 1, 0);
  observeSeq(s, 10, 0, limits);
  s.ranges[0]!.confirmedMs = 5;
  t.same(resolveSeq(s, 5), { found: true, wasConfirmed: true });
  t.same(resolveSeq(s, 5), { found: false, wasConfirmed: false });
  t.equal(missingCount(s, true), 7);
});
