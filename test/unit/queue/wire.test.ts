import t from 'tap';
import Database from 'better-sqlite3';
import path from 'node:path';
import { readWire, WireBatch, WirePool } from '../../../src/queue/wire.js';
import { DurableQueue, QueueUnavailableError } from '../../../src/queue/index.js';
import { QueueStore, QUEUE_DB_FILE } from '../../../src/queue/store.js';
import { tempDir } from '../../helpers/daemon.js';

// Bodies the wire must carry byte for byte: ASCII, Latin-1, two-byte text, astral characters,
// a lone surrogate (JSON.stringify escapes them, but a record may hold one), an empty body, and
// one far larger than the first buffer.
const BODIES = [
  '{"a":1}',
  '{"text":"café crème"}',
  '{"text":"群消息 🙂 see you"}',
  '{"odd":"\ud800 alone"}',
  '',
  JSON.stringify({ members: Array.from({ length: 20_000 }, (_, i) => ({ Member_Account: `u_${i}_成员` })) }),
];

t.test('a wire carries ids, subjects, bodies and routings exactly, in order', async (t) => {
  const pool = new WirePool();
  const batch = new WireBatch(pool);
  const records = BODIES.map((body, i) => ({ id: `id-${i}|ü`, subject: `group/@TGS#${i}/話題`, body, sinks: i % 3 === 0 ? ['file', 'kafka'] : i % 3 === 1 ? ['file'] : [] }));
  const sizes = records.map((r) => batch.add(r));
  t.same(sizes, BODIES.map((b) => Buffer.byteLength(b)), 'add() returns the UTF-8 size, as Buffer.byteLength counts it');
  const read = readWire(batch.seal());
  t.equal(read.length, records.length);
  for (let i = 0; i < records.length; i++) {
    const r = read[i]!;
    t.equal(r.id, records[i]!.id);
    t.equal(r.subject, records[i]!.subject);
    t.same(r.sinks, records[i]!.sinks);
    t.equal(r.bytes, sizes[i]);
    t.equal(Buffer.from(r.body as Uint8Array).toString('utf8'), Buffer.from(records[i]!.body, 'utf8').toString('utf8'), `body ${i}`);
  }
});

t.test('dropLast takes back exactly the last record', async (t) => {
  const batch = new WireBatch(new WirePool());
  batch.add({ id: 'a', subject: 's', body: '{"first":true}', sinks: ['x'] });
  batch.add({ id: 'b', subject: 's', body: '{"refused":true}', sinks: ['y'] });
  batch.dropLast();
  batch.add({ id: 'c', subject: 's2', body: '{"third":"ü"}', sinks: ['x'] });
  const read = readWire(batch.seal());
  t.same(
    read.map((r) => [r.id, r.subject, Buffer.from(r.body as Uint8Array).toString(), r.sinks]),
    [
      ['a', 's', '{"first":true}', ['x']],
      ['c', 's2', '{"third":"ü"}', ['x']],
    ],
  );
  const empty = new WireBatch(new WirePool());
  empty.add({ id: 'a', subject: 's', body: '{}', sinks: ['x'] });
  empty.dropLast();
  t.equal(readWire(empty.seal()).length, 0, 'a batch whose only record was taken back is empty');
});

t.test('the pool reuses buffers the worker sent back and keeps no huge ones', async (t) => {
  const pool = new WirePool();
  const first = pool.take(10);
  pool.give(first);
  t.equal(pool.take(10), first, 'a returned buffer is handed out again');
  const huge = pool.take(8 * 1024 * 1024);
  pool.give(huge);
  t.not(pool.take(8 * 1024 * 1024), huge, 'a buffer above 1 MB is not kept');
});

t.test('bodies committed as bytes are stored as the same TEXT and read back as strings', async (t) => {
  const dir = tempDir();
  const store = new QueueStore(dir);
  const batch = new WireBatch(new WirePool());
  const records = BODIES.map((body, i) => ({ id: `id-${i}`, subject: `group/g${i}`, body, sinks: ['file'] }));
  for (const r of records) batch.add(r);
  batch.add({ id: 'unmatched', subject: 'app/1', body: '{"nobody":"wants 🙂"}', sinks: [] });
  store.commit(readWire(batch.seal()), [], Date.now());
  const read = store.read('file', 0, 100);
  t.same(
    read.map((r) => r.body),
    records.map((r) => Buffer.from(r.body, 'utf8').toString('utf8')),
    'every body reads back as the string that was appended',
  );
  t.ok(read.every((r) => typeof r.body === 'string'));
  const dead = store.listDeadLetters({});
  t.equal(dead[0]!.body, '{"nobody":"wants 🙂"}', 'an unmatched event too');
  store.close();
  const db = new Database(path.join(dir, QUEUE_DB_FILE), { readonly: true });
  t.same(db.prepare('SELECT DISTINCT typeof(body) AS type FROM events').all(), [{ type: 'text' }], 'stored as TEXT, not BLOB (CAST in the insert)');
  t.same(db.prepare('SELECT DISTINCT typeof(body) AS type FROM dead_letters').all(), [{ type: 'text' }]);
  t.same(
    db.prepare('SELECT bytes, length(CAST(body AS BLOB)) AS stored FROM events ORDER BY seq').all().map((r) => {
      const row = r as { bytes: number; stored: number };
      return row.bytes === row.stored;
    }),
    records.map(() => true),
    'the bytes column is the stored size',
  );
  db.close();
});

t.test('a refused append leaves nothing in the wire: the next commit holds only the accepted ones', async (t) => {
  const dir = tempDir();
  const queue = await DurableQueue.open({ dir, max_bytes: 2000, max_events: 1000, max_wait_ms: 5, max_batch_events: 2048, min_free_bytes: 0 });
  const small = (i: number) => ({ id: `s-${i}`, subject: 'group/g', body: JSON.stringify({ i, text: 'ok' }), sinks: ['a'] });
  const first = queue.append(small(1));
  const refused = queue.append({ id: 'big', subject: 'group/g', body: JSON.stringify({ text: 'x'.repeat(5000) }), sinks: ['a'] });
  const third = queue.append(small(3));
  await t.rejects(refused, QueueUnavailableError);
  const seqs = await Promise.all([first, third]);
  t.equal(seqs[1], seqs[0]! + 1, 'the accepted appends are consecutive');
  const read = await queue.read('a', 0, 10);
  t.same(read.map((r) => r.id), ['s-1', 's-3']);
  t.same(read.map((r) => JSON.parse(r.body).i), [1, 3]);
  await queue.close();
});
