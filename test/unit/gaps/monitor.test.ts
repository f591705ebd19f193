// Issue 25: the gap monitor (src/gaps/index.ts) over real events (normalize) and a real gaps.db.
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import pino from 'pino';
import t from 'tap';
import { GAPS_DB_FILE, GapMonitor, GapStore, gapsConfig } from '../../../src/gaps/index.js';
import { normalize } from '../../../src/normalize/index.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import { groupMessage, tempDir } from '../../helpers/daemon.js';

const APP = '1400000000';
const config = { enabled: true, grace_ms: 1000, max_groups: 100, max_ranges_per_group: 100, max_jump: 100_000, flush_interval_ms: 1000 };

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

function event(body: Record<string, unknown>) {
  return normalize(body, { sdkAppId: APP, command: String(body.CallbackCommand), receivedAtMs: 0 }, { includeRaw: false });
}

async function metric(metrics: Metrics, name: string): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

/** Deterministic PRNG (mulberry32): the same 50 seqs every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1,000 messages over 20 groups (seq 1..50 each); 50 of seqs 2..49 never delivered. */
function scenario() {
  const random = rng(25);
  const dropped = new Set<string>();
  while (dropped.size < 50) dropped.add(`g${Math.floor(random() * 20)}:${2 + Math.floor(random() * 48)}`);
  const order: Array<{ group: string; seq: number }> = [];
  for (let seq = 1; seq <= 50; seq++) for (let g = 0; g < 20; g++) order.push({ group: `g${g}`, seq });
  // Out of order within a window of 40 (two seqs of a group): what callbacks do, within grace.
  for (let i = 0; i < order.length; i++) {
    const j = Math.min(order.length - 1, i + Math.floor(random() * 40));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const expected = new Map<string, Array<[number, number]>>();
  for (let g = 0; g < 20; g++) {
    const runs: Array<[number, number]> = [];
    for (let seq = 2; seq <= 49; seq++) {
      if (!dropped.has(`g${g}:${seq}`)) continue;
      const last = runs.at(-1);
      if (last && last[1] === seq - 1) last[1] = seq;
      else runs.push([seq, seq]);
    }
    if (runs.length) expected.set(`g${g}`, runs);
  }
  return { dropped, order, expected };
}

t.test('1,000 messages over 20 groups, 50 never delivered: the right ranges; a restart in the middle keeps the state', async (t) => {
  const dir = tempDir();
  const { dropped, order, expected } = scenario();
  let now = 1_000_000;
  const log = capture();
  const metrics = new Metrics({ processMetrics: false });
  let monitor = GapMonitor.open({ dir, config, metrics, logger: log.logger, now: () => now });
  let first = true;
  let delivered = 0;
  for (const { group, seq } of order) {
    if (dropped.has(`${group}:${seq}`)) continue;
    monitor.observe(event(groupMessage(group, seq)));
    delivered++;
    now += 1;
    if (delivered === 475 && first) {
      // The daemon stops (state flushed) and starts again on the same directory.
      first = false;
      monitor.close();
      monitor = GapMonitor.open({ dir, config, metrics, logger: log.logger, now: () => now });
    }
  }
  t.equal(delivered, 950);
  t.equal(monitor.report().openGaps, 0, 'nothing reported within the grace period');
  t.equal(monitor.report().pending, 50);
  now += config.grace_ms;
  monitor.tick();
  const report = monitor.report();
  t.equal(report.openGaps, [...expected.values()].reduce((n, r) => n + r.length, 0), 'one gap per run of missing seqs');
  t.equal(report.missing, 50);
  t.equal(report.pending, 0);
  const found = new Map<string, Array<[number, number]>>();
  for (const s of monitor.openRanges()) found.set(s.groupId, s.ranges.map((r) => [r.from, r.to]));
  t.same(found, expected, 'the ranges of every group');
  t.equal(await metric(metrics, 'im_bridge_group_seq_gaps_total'), report.openGaps);
  t.equal(await metric(metrics, 'im_bridge_group_seq_missing_messages'), 50);
  const gapLines = log.lines.filter((l) => l.code === 'GROUP_SEQ_GAP');
  const summary = log.lines.filter((l) => l.code === 'GROUP_SEQ_GAPS_SUMMARY');
  t.equal(gapLines.length, Math.min(20, report.openGaps), 'at most 20 gap lines per tick');
  t.ok(gapLines.every((l) => typeof l.groupId === 'string' && typeof l.from === 'number' && typeof l.to === 'number'), 'each line names group and range');
  monitor.tick();
  if (report.openGaps > 20) t.equal(log.lines.filter((l) => l.code === 'GROUP_SEQ_GAPS_SUMMARY').length, summary.length + 1, 'the rest summed up in one line');

  // Late callbacks close the gaps, counted as late_callback.
  for (const key of dropped) {
    const [group, seq] = key.split(':');
    monitor.observe(event(groupMessage(group!, Number(seq))));
  }
  t.equal(monitor.report().missing, 0);
  t.equal(monitor.report().openGaps, 0);
  t.equal(await metric(metrics, 'im_bridge_group_seq_gaps_closed_seqs_total'), 50);
  monitor.close();

  const store = GapStore.openReadOnly(dir)!;
  t.same(store.open(), [], 'gaps.db agrees after the stop');
  t.equal(store.totals().conversations, 20);
  store.close();
});

t.test('a pending range survives a restart and is reported after its grace', async (t) => {
  const dir = tempDir();
  let now = 0;
  const metrics = new Metrics({ processMetrics: false });
  const logger = capture().logger;
  let monitor = GapMonitor.open({ dir, config, metrics, logger, now: () => now });
  for (const seq of [1, 2, 6]) monitor.observe(event(groupMessage('g', seq)));
  monitor.close();
  now += 600;
  monitor = GapMonitor.open({ dir, config, metrics, logger, now: () => now });
  monitor.tick();
  t.equal(monitor.report().openGaps, 0);
  t.equal(monitor.report().pending, 3);
  now += 400;
  monitor.tick();
  t.same(monitor.openRanges().map((s) => s.ranges.map((r) => [r.from, r.to, r.confirmedMs !== undefined])), [[[3, 5, true]]]);
  monitor.observe(event(groupMessage('g', 7)));
  t.same(monitor.openRanges()[0]!.ranges.map((r) => [r.from, r.to]), [[3, 5]], 'state went on from the stored high/max');
  monitor.close();
});

t.test('uncomparable sequences are classified, not reported', async (t) => {
  const dir = tempDir();
  let now = 0;
  const metrics = new Metrics({ processMetrics: false });
  const log = capture();
  const monitor = GapMonitor.open({ dir, config: { ...config, max_jump: 1000 }, metrics, logger: log.logger, now: () => now });
  // AVChatRoom: no history, never tracked.
  for (const seq of [1, 5, 9]) monitor.observe(event({ ...groupMessage('@TGS#aLIVE', seq), Type: 'AVChatRoom' }));
  // A group re-created under the same id: its sequence starts again far below.
  for (const seq of [4000, 4001, 1, 2]) monitor.observe(event(groupMessage('recreated', seq)));
  // A seq of 1 shortly after higher ones: a late callback, not a restart.
  for (const seq of [3, 4, 1]) monitor.observe(event(groupMessage('late-first', seq)));
  // A jump beyond max_jump.
  for (const seq of [1, 2, 50_000, 50_001]) monitor.observe(event(groupMessage('jumped', seq)));
  // Topics of a Community group have their own sequences.
  for (const [topic, seq] of [['t1', 1], ['t2', 1], ['t1', 2], ['t2', 4]] as const) monitor.observe(event({ ...groupMessage('community', seq), Type: 'Community', TopicId: topic }));
  // Redelivery.
  monitor.observe(event(groupMessage('recreated', 2)));
  now += 2000;
  monitor.tick();
  const open = monitor.openRanges();
  t.same(open.map((s) => [s.groupId, s.topicId, s.ranges.map((r) => [r.from, r.to])]), [['community', 't2', [[2, 3]]]], 'only the real gap, in its topic');
  const series = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'im_bridge_group_seq_uncomparable_total')!.values;
  const by = Object.fromEntries(series.map((v) => [v.labels.reason, v.value]));
  t.same(by, { avchatroom: 3, first_seen: 5, restart: 1, jump: 1 });
  t.equal(await metric(metrics, 'im_bridge_group_seq_duplicates_total'), 2, 'the redelivery and the seq below base');
  t.ok(log.lines.some((l) => l.code === 'GROUP_SEQ_RESTARTED' && l.groupId === 'recreated'));
  t.ok(log.lines.some((l) => l.code === 'GROUP_SEQ_JUMPED' && l.groupId === 'jumped'));

  // A dismissed group: its gaps cannot be repaired any more, they are dropped and counted.
  monitor.observe(event({ CallbackCommand: 'Group.CallbackAfterGroupDestroyed', GroupId: 'community', Type: 'Community', Owner_Account: 'o', Name: 'n', MemberList: [], EventTime: 1 }));
  t.same(monitor.openRanges(), []);
  t.equal(monitor.report().missing, 0);
  monitor.close();
});

t.test('the LRU bound: evicted conversations stay in gaps.db and are read back', async (t) => {
  const dir = tempDir();
  let now = 0;
  const metrics = new Metrics({ processMetrics: false });
  const monitor = GapMonitor.open({ dir, config: { ...config, max_groups: 3 }, metrics, logger: capture().logger, now: () => now });
  monitor.observe(event(groupMessage('a', 1)));
  monitor.observe(event(groupMessage('a', 4)));
  for (const g of ['b', 'c', 'd', 'e']) monitor.observe(event(groupMessage(g, 1)));
  t.equal(monitor.report().conversations, 3, 'bounded');
  t.equal(monitor.report().openGaps, 1, 'the pending range of the evicted group was reported at eviction');
  monitor.observe(event(groupMessage('a', 2)));
  monitor.observe(event(groupMessage('a', 5)));
  t.same(monitor.openRanges().map((s) => [s.groupId, s.ranges.map((r) => [r.from, r.to])]), [['a', [[3, 3]]]], 'state read back from gaps.db');
  t.equal(monitor.report().missing, 1);
  monitor.close();
});

t.test('a destroyed group leaves gaps.db with the next flush, not per event; re-created under its id, it starts afresh', async (t) => {
  const dir = tempDir();
  let now = 0;
  const metrics = new Metrics({ processMetrics: false });
  const monitor = GapMonitor.open({ dir, config: { ...config, max_groups: 3 }, metrics, logger: capture().logger, now: () => now });
  const topic = (id: string, seq: number) => event({ ...groupMessage('doomed', seq), Type: 'Community', TopicId: id });
  // Two topics with a confirmed gap each, then pushed out of memory (max_groups 3) into gaps.db.
  for (const [id, seq] of [['t1', 1], ['t1', 3], ['t2', 1], ['t2', 5]] as const) monitor.observe(topic(id, seq));
  now += 2000;
  monitor.tick();
  t.same([monitor.report().openGaps, monitor.report().missing], [2, 4]);
  for (const g of ['a', 'b', 'c']) monitor.observe(event(groupMessage(g, 1)));
  monitor.tick();
  const reader = new Database(path.join(dir, GAPS_DB_FILE), { readonly: true });
  const version = () => reader.pragma('data_version', { simple: true });
  const before = version();
  const destroyed = { CallbackCommand: 'Group.CallbackAfterGroupDestroyed', GroupId: 'doomed', Type: 'Community', Owner_Account: 'o', Name: 'n', MemberList: [], EventTime: 1 };
  for (let i = 0; i < 50; i++) monitor.observe(event(destroyed));
  t.equal(version(), before, '50 destructions wrote nothing on the calling thread');
  t.same([monitor.report().openGaps, monitor.report().missing, monitor.report().stored], [0, 0, 3], 'its gaps and conversations are gone at once');
  // Re-created before the flush: gaps.db still has the old rows, they must not come back.
  monitor.observe(topic('t1', 10));
  monitor.observe(topic('t1', 11));
  now += 2000;
  monitor.tick();
  t.not(version(), before, 'the flush wrote the destruction');
  const stored = GapStore.openReadOnly(dir)!;
  t.same(stored.group(APP, 'doomed').map((s) => [s.topicId, s.base, s.max, s.ranges.length]), [['t1', 10, 11, 0]], 'only the new sequence is stored');
  t.same([monitor.report().openGaps, monitor.report().missing, monitor.report().stored], [0, 0, 4]);
  t.equal(await metric(metrics, 'im_bridge_group_seq_gaps_closed_seqs_total'), 4, 'the 4 missing seqs were closed as destroyed, once');
  stored.close();
  reader.close();
  monitor.close();
});

t.test('a destroyed Community group drops its topics in memory and evicted ones not written yet', async (t) => {
  const dir = tempDir();
  const metrics = new Metrics({ processMetrics: false });
  const monitor = GapMonitor.open({ dir, config: { ...config, max_groups: 2 }, metrics, logger: capture().logger, now: () => 0 });
  const topic = (id: string, seq: number) => event({ ...groupMessage('c1', seq), Type: 'Community', TopicId: id });
  monitor.observe(topic('x', 1));
  monitor.observe(topic('x', 3));
  monitor.observe(topic('y', 1));
  // Evicts c1/x (its pending gap is reported at eviction); it is not written yet.
  monitor.observe(event(groupMessage('z', 1)));
  t.same([monitor.report().conversations, monitor.report().openGaps, monitor.report().missing], [2, 1, 1]);
  monitor.observe(event({ CallbackCommand: 'Group.CallbackAfterGroupDestroyed', GroupId: 'c1', Type: 'Community', Owner_Account: 'o', Name: 'n', MemberList: [], EventTime: 1 }));
  t.same([monitor.report().conversations, monitor.report().openGaps, monitor.report().missing, monitor.report().stored], [1, 0, 0, 1], 'only z is left');
  monitor.tick();
  const stored = GapStore.openReadOnly(dir)!;
  t.same(stored.group(APP, 'c1'), [], 'nothing of c1 was written');
  stored.close();
  monitor.observe(topic('x', 5));
  t.same(monitor.openRanges(), [], 'c1/x starts afresh at 5');
  monitor.close();
});

t.test('without a gaps: section (embedders) the schema defaults apply', async (t) => {
  t.same(gapsConfig(undefined), { enabled: true, grace_ms: 60_000, max_groups: 100_000, max_ranges_per_group: 100, max_jump: 100_000, flush_interval_ms: 1000 });
  const monitor = GapMonitor.open({ dir: tempDir(), metrics: new Metrics({ processMetrics: false }), logger: capture().logger });
  monitor.observe(event(groupMessage('g', 1)));
  t.equal(monitor.report().conversations, 1);
  monitor.close();
});
