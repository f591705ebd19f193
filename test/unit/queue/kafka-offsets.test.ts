import t from 'tap';
import { PartitionOffsets } from '../../../src/queue/kafka/offsets.js';

t.test('the commit point is the lowest unsettled offset, whatever order events settle in', async (t) => {
  const p = new PartitionOffsets();
  t.equal(p.takeCommit(), undefined, 'nothing seen, nothing to commit');
  p.track(0);
  p.skip(1); // another sink's record
  p.track(2);
  p.track(3);
  t.equal(p.commitPoint(), 0);
  p.settle(3);
  p.settle(2);
  t.equal(p.commitPoint(), 0, 'offset 0 still outstanding: nothing past it is committed');
  t.equal(p.takeCommit(), undefined);
  p.settle(0);
  t.equal(p.commitPoint(), 4, 'all settled: past the highest seen');
  t.equal(p.takeCommit(), 4);
  t.equal(p.takeCommit(), undefined, 'handed out once');
  p.uncommit(4);
  t.equal(p.takeCommit(), 4, 'a failed commit is handed out again');
  t.ok(p.seen(3) && !p.seen(4), 'a refetch behind the highest offset is recognised');
});

t.test('random settle order over many offsets: the commit point never passes an unsettled one', async (t) => {
  const p = new PartitionOffsets();
  const n = 5000;
  for (let i = 0; i < n; i++) (i % 7 === 3 ? p.skip(i) : p.track(i));
  const tracked = Array.from({ length: n }, (_, i) => i).filter((i) => i % 7 !== 3);
  for (let i = tracked.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [tracked[i], tracked[j]] = [tracked[j]!, tracked[i]!];
  }
  const unsettled = new Set(tracked);
  let ok = true;
  for (const offset of tracked) {
    p.settle(offset);
    unsettled.delete(offset);
    const lowest = unsettled.size ? Math.min(...unsettled) : n;
    if (p.commitPoint() !== lowest) ok = false;
  }
  t.ok(ok, 'commit point = lowest unsettled offset after every settle');
  t.equal(p.commitPoint(), n);
  t.equal(p.outstanding, 0);
});
