// The store's sink cursors (schema 2, src/queue/store.ts): one row per event, each sink's progress a
// cursor plus, out of order, a set in memory; an event still pending that holds back done ones
// spills to a pending row. Random appends (random routes, unmatched ones too), acks and dead letters
// in any order, clock jumps that make events old, and restarts with and without a clean close,
// checked against a model after every step:
//   - nothing is lost: every routed event a sink has not finished is read for it, also after a restart;
//   - nothing comes back without a restart: a finished event is not read again;
//   - depth and bytes per sink (liveStats, the daemon's counters) equal what a read returns;
//   - reclamation: the events table holds exactly the events some sink still needs, once cursors
//     have caught up (at the end, after every sink finished everything);
//   - write-behind: after settle() the files alone (another connection) lose nothing, and at the
//     end they show nothing pending.
import t from 'tap';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import path from 'node:path';
import { QueueStore } from '../../../src/queue/store.js';
import { tempDir } from '../../helpers/daemon.js';

const SINKS = ['a', 'b', 'c'] as const;
type Sink = (typeof SINKS)[number];

type Op =
  | { op: 'append'; routes: Sink[][] }
  | { op: 'ack'; sink: Sink; pick: number[] }
  | { op: 'dead'; sink: Sink; pick: number[] }
  | { op: 'later'; ms: number }
  | { op: 'settle' }
  | { op: 'restart'; clean: boolean };

const sinkSet = fc.subarray([...SINKS], { minLength: 0, maxLength: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('append' as const), routes: fc.array(sinkSet, { minLength: 1, maxLength: 12 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('ack' as const), sink: fc.constantFrom(...SINKS), pick: fc.array(fc.nat(40), { maxLength: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dead' as const), sink: fc.constantFrom(...SINKS), pick: fc.array(fc.nat(40), { maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('later' as const), ms: fc.constantFrom(10, 600, 1500, 5000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('settle' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restart' as const), clean: fc.boolean() }) },
);

// The store keeps the rows it appended in memory for its cursors (AppendedTail): the property holds
// with the default tail, a tail of three rows (most reads fall back to SQLite), and none.
for (const appendedTailRows of [undefined, 3, 0]) t.test(`sink cursors keep every pending event, drop finished ones, count right and reclaim all (appended tail: ${appendedTailRows ?? 'default'})`, async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
      runs++;
      const dir = tempDir('im-bridge-cursors-');
      let store = new QueueStore(dir, { checkIntegrity: 'never', appendedTailRows });
      store.liveStats();
      let now = 1_767_225_600_000;
      // Model: per sink, the seqs routed to it and not finished; per seq, its size.
      const pending = new Map<Sink, Set<number>>(SINKS.map((s) => [s, new Set<number>()]));
      const bytes = new Map<number, number>();
      let next = 0;
      const check = (where: string) => {
        const live = store.liveStats();
        for (const sink of SINKS) {
          const read = store.read(sink, 0, 1_000_000).map((e) => e.seq);
          const want = [...pending.get(sink)!].sort((x, y) => x - y);
          if (JSON.stringify(read) !== JSON.stringify(want)) throw new Error(`${where}: sink ${sink} reads ${JSON.stringify(read)}, model ${JSON.stringify(want)}`);
          const counted = live.sinks.find((s) => s.sink === sink);
          const wantBytes = want.reduce((sum, seq) => sum + bytes.get(seq)!, 0);
          if ((counted?.depth ?? 0) !== want.length || (counted?.bytes ?? 0) !== wantBytes) throw new Error(`${where}: sink ${sink} counted ${JSON.stringify(counted)}, model depth ${want.length} bytes ${wantBytes}`);
        }
      };
      try {
        for (const [step, op] of ops.entries()) {
          const where = `step ${step} ${JSON.stringify(op)}`;
          if (op.op === 'append') {
            const records = op.routes.map((sinks) => {
              const n = next++;
              return { id: `id-${n}`, subject: `group/g${n % 3}`, body: JSON.stringify({ n, pad: 'x'.repeat(n % 7) }), sinks };
            });
            const { seqs } = store.commit(records, [], now);
            seqs.forEach((seq, i) => {
              if (seq === 0) return;
              bytes.set(seq, Buffer.byteLength(records[i]!.body));
              for (const sink of records[i]!.sinks) pending.get(sink as Sink)!.add(seq);
            });
          } else if (op.op === 'ack' || op.op === 'dead') {
            const mine = [...pending.get(op.sink)!].sort((x, y) => x - y);
            const chosen = [...new Set(op.pick.filter((i) => i < mine.length).map((i) => mine[i]!))];
            if (op.op === 'ack') store.commit([], [[op.sink, chosen]], now);
            else store.deadLetter(op.sink, chosen.map((seq) => ({ seq, attempts: 1, code: 'X', error: 'x' })), now);
            for (const seq of chosen) pending.get(op.sink)!.delete(seq);
          } else if (op.op === 'later') {
            now += op.ms;
            store.commit([], [], now);
          } else if (op.op === 'settle') {
            store.settle(now);
            const files = new QueueStore(dir, { readonly: true });
            try {
              for (const sink of SINKS) {
                const onDisk = new Set(files.read(sink, 0, 1_000_000).map((e) => e.seq));
                for (const seq of pending.get(sink)!) if (!onDisk.has(seq)) throw new Error(`${where}: sink ${sink}: seq ${seq} pending in the model, not on disk after settle`);
              }
            } finally {
              files.close();
            }
          } else {
            if (op.clean) store.close();
            else store.db.close();
            store = new QueueStore(dir, { checkIntegrity: 'never', appendedTailRows });
            store.liveStats();
            // Progress made out of order and not yet passed by a cursor lives in memory: after a
            // restart those events are read again (at least once). The model takes them back.
            for (const sink of SINKS) {
              for (const e of store.read(sink, 0, 1_000_000)) {
                if (!bytes.has(e.seq)) throw new Error(`${where}: sink ${sink} reads seq ${e.seq}, never appended`);
                pending.get(sink)!.add(e.seq);
              }
            }
          }
          check(where);
        }
        // Every sink finishes everything: the queue ends empty.
        for (const sink of SINKS) {
          store.commit([], [[sink, [...pending.get(sink)!]]], now);
          pending.get(sink)!.clear();
        }
        store.commit([], [], now + 10_000);
        check('end');
        store.settle(now + 10_000);
        const files = new QueueStore(dir, { readonly: true });
        try {
          for (const sink of SINKS) if (files.read(sink, 0, 1_000_000).length > 0) throw new Error(`end: sink ${sink} still has events on disk after settle`);
        } finally {
          files.close();
        }
        const left = (store.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
        const rows = (store.db.prepare('SELECT COUNT(*) AS n FROM pending').get() as { n: number }).n;
        if (left !== 0 || rows !== 0) throw new Error(`end: ${left} event(s) and ${rows} pending row(s) left after every sink finished`);
        if (store.liveStats().events !== 0) throw new Error(`end: liveStats counts ${store.liveStats().events} events`);
      } finally {
        if (store.db.open) store.close();
      }
    }),
    { numRuns: Number(process.env.CURSOR_RUNS ?? 150) },
  );
  t.ok(runs >= Number(process.env.CURSOR_RUNS ?? 150), `${runs} random histories`);
});

t.test('a schema-1 store (one pending row per event and sink) opens with the same pending events', async (t) => {
  const dir = tempDir('im-bridge-cursors-v1-');
  // The schema 1 layout, as the previous version wrote it.
  const db = new Database(path.join(dir, 'queue.db'));
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('schema_version', '1'), ('clean_shutdown', '1');
    CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, subject TEXT NOT NULL, bytes INTEGER NOT NULL, enqueued_ms INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE TABLE pending (sink TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (sink, seq)) WITHOUT ROWID;
    CREATE INDEX pending_by_seq ON pending (seq);
  `);
  const insert = db.prepare('INSERT INTO events (id, subject, bytes, enqueued_ms, body) VALUES (?, ?, ?, ?, ?)');
  for (let i = 1; i <= 6; i++) insert.run(`id-${i}`, 'group/g', 2, 1000, '{}');
  db.exec("INSERT INTO pending VALUES ('a', 1), ('a', 3), ('b', 3), ('b', 6)");
  // Schema 1 reclaimed an event with its last pending row: 2, 4 and 5 were delivered everywhere.
  db.exec('DELETE FROM events WHERE seq IN (2, 4, 5)');
  db.close();

  const store = new QueueStore(dir, { checkIntegrity: 'never' });
  t.teardown(() => store.close());
  t.same(store.read('a', 0, 100).map((e) => e.seq), [1, 3], 'sink a: its rows');
  t.same(store.read('b', 0, 100).map((e) => e.seq), [3, 6], 'sink b: its rows');
  t.same(store.stats().sinks.map((s) => [s.sink, s.depth]), [['a', 2], ['b', 2]], 'stats agree');
  const next = store.commit([{ id: 'new', subject: 'group/g', body: '{}', sinks: ['a'] }], [], 2000).seqs[0]!;
  t.same(store.read('a', 0, 100).map((e) => e.seq), [1, 3, next], 'a new event joins after them');
  store.commit([], [['a', [1, 3, next]], ['b', [3, 6]]], 3000);
  t.equal(store.stats().events, 0, 'all delivered: every event reclaimed, the old ones included');
  t.equal(store.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(), '2', 'schema_version 2');
});

t.test('one event held for long (a conversation retrying) does not hold back the reclamation of those after it', async (t) => {
  const dir = tempDir('im-bridge-cursors-spill-');
  const store = new QueueStore(dir, { checkIntegrity: 'never' });
  t.teardown(() => store.close());
  const t0 = 1_767_225_600_000;
  const record = (n: number) => ({ id: `id-${n}`, subject: `group/g${n}`, body: JSON.stringify({ n }), sinks: ['only'] });
  const [stuck, ...rest] = store.commit(Array.from({ length: 100 }, (_, i) => record(i)), [], t0).seqs;
  store.commit([], [['only', rest]], t0 + 10);
  t.equal(store.stats().events, 100, 'young: the 99 delivered wait behind the first (out of order, in memory)');
  t.same(store.read('only', 0, 10).map((e) => e.seq), [stuck], 'only the held one is pending');
  store.commit([], [], t0 + 5_000);
  t.equal(store.stats().events, 1, 'old: it spilled to a pending row and the 99 were reclaimed');
  t.equal(store.db.prepare('SELECT COUNT(*) FROM pending').pluck().get(), 1, 'one pending row');
  t.same(store.read('only', 0, 10).map((e) => e.seq), [stuck], 'it is still pending, and read');
  store.close();
  const reopened = new QueueStore(dir, { checkIntegrity: 'never' });
  t.same(reopened.read('only', 0, 10).map((e) => e.seq), [stuck], 'also after a restart');
  reopened.commit([], [['only', [stuck!]]], t0 + 6_000);
  t.equal(reopened.stats().events, 0, 'delivered at last: reclaimed');
  t.equal(reopened.db.prepare('SELECT COUNT(*) FROM pending').pluck().get(), 0, 'its pending row is gone');
  reopened.close();
});

t.test('a sink that receives a share of the events and is down does not hold back the others\' events', async (t) => {
  const dir = tempDir('im-bridge-cursors-down-');
  const store = new QueueStore(dir, { checkIntegrity: 'never' });
  t.teardown(() => store.close());
  const t0 = 1_767_225_600_000;
  // Every tenth event also goes to "webhook", which delivers nothing; "archive" delivers everything.
  const records = Array.from({ length: 200 }, (_, n) => ({ id: `id-${n}`, subject: `group/g${n % 5}`, body: JSON.stringify({ n }), sinks: n % 10 === 0 ? ['archive', 'webhook'] : ['archive'] }));
  const seqs = store.commit(records, [], t0).seqs;
  store.commit([], [['archive', seqs]], t0 + 10);
  store.commit([], [], t0 + 5_000);
  t.equal(store.stats().events, 20, 'only the 20 events the down sink still needs are kept');
  t.same(store.liveStats().sinks.map((s) => [s.sink, s.depth]), [['webhook', 20]], 'and counted for it');
  t.equal(store.read('webhook', 0, 100).length, 20, 'and read for it');
});

t.test('write-behind leaves nothing behind: a restart, clean or not, still deletes every delivered event', async (t) => {
  // Two sinks, so that a cursor is written (it moved 256 events) while the deletion waits for the
  // other one. Before, the next open took the lowest cursor on disk as "deleted through": the
  // delivered events below it stayed in the file, and in the queue's counts, for good.
  for (const clean of [true, false]) {
    const dir = tempDir('im-bridge-cursors-behind-');
    let store = new QueueStore(dir, { checkIntegrity: 'never' });
    const t0 = 1_767_225_600_000;
    const one = [{ id: 'x-1', subject: 'group/x', body: '{}', sinks: ['a', 'b'] }];
    // A first event, delivered everywhere and deleted: the write-behind clock starts at t0.
    const [first] = store.commit(one, [], t0).seqs;
    store.commit([], [['a', [first!]], ['b', [first!]]], t0);
    t.equal(store.stats().events, 0);
    const records = Array.from({ length: 300 }, (_, n) => ({ id: `id-${n}`, subject: `group/g${n % 5}`, body: JSON.stringify({ n }), sinks: ['a', 'b'] }));
    const seqs = store.commit(records, [], t0).seqs;
    store.commit(one, [['a', seqs]], t0 + 1);
    store.commit(one, [['b', seqs.slice(0, 200)]], t0 + 2);
    t.equal(store.stats().events, 302, `${clean ? 'clean' : 'crash'}: nothing deleted yet (write-behind)`);
    if (clean) store.close();
    else store.db.close();
    store = new QueueStore(dir, { checkIntegrity: 'never' });
    // A crash forgets b's progress (its cursor was not written yet): b gets all 302 again.
    t.equal(store.read('b', 0, 1000).length, clean ? 102 : 302, 'b reads what it has not finished, as far as the files know');
    store.commit([], [], t0 + 10_000);
    const left = store.stats().events;
    t.equal(left, store.read('b', 0, 1000).length, `${clean ? 'clean' : 'crash'}: only the events b still needs are kept (${left})`);
    store.close();
  }
});

t.test('another connection adds an event (dlq replay) behind the rows the store holds in memory: its cursor still passes it', async (t) => {
  const dir = tempDir('im-bridge-tail-');
  const store = new QueueStore(dir, { checkIntegrity: 'never' });
  const now = Date.now();
  const seqs = store.append([1, 2, 3, 4, 5].map((i) => ({ id: `e${i}`, subject: 's', body: `{"n":${i}}`, sinks: ['a'] })), now);
  store.deadLetter('a', [{ seq: seqs[0]!, attempts: 1, code: 'X', error: 'x' }], now);
  const other = new QueueStore(dir, { checkIntegrity: 'never' });
  t.equal(other.replay({ sink: 'a' }, now).replayed, 1, 'the other connection queues the dead letter again');
  other.db.close();
  const pending = store.read('a', 0, 100).map((e) => e.seq);
  t.same(pending, [...seqs.slice(1), seqs[4]! + 1], 'the replayed event follows the five');
  store.ack('a', pending); // a settling commit: what every cursor passed is deleted at once
  t.equal((store.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n, 0, 'every delivered event is deleted by that commit, the replayed one too');
  t.same(store.read('a', 0, 100), []);
  store.close();
});

t.test('a commit that rolls back leaves no row in memory: the seqs it took are given again, to other events', async (t) => {
  const dir = tempDir('im-bridge-tail-');
  const store = new QueueStore(dir, { checkIntegrity: 'never' });
  const now = Date.now();
  const first = store.append([1, 2].map((i) => ({ id: `e${i}`, subject: 's', body: `{"n":${i}}`, sinks: ['a', 'b'] })), now);
  // The second record cannot be bound: the transaction rolls back after the first was inserted.
  const poisoned = [{ id: 'x', subject: 's', body: '{}', sinks: ['a'] }, { id: 'y', subject: 's', body: {} as unknown as string, sinks: ['a'] }];
  t.throws(() => store.append(poisoned, now), 'the commit fails');
  store.ack('a', first);
  store.ack('b', first);
  const [reused] = store.append([{ id: 'e3', subject: 's', body: '{"n":3}', sinks: ['b'] }], now);
  t.equal(reused, first[1]! + 1, 'the rolled-back seq is used again');
  store.settle(now + 5000);
  t.same(
    store.read('b', 0, 100).map((e) => e.id),
    ['e3'],
    "the new event is pending for its sink: no cursor passed it on the strength of the rolled-back row's routing",
  );
  store.close();
});
