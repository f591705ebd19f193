import t from 'tap';
import { DurableQueue, QueueUnavailableError } from '../../../src/queue/index.js';
import { QueueStore } from '../../../src/queue/store.js';
import { tempDir, waitFor } from '../../helpers/daemon.js';

const options = (dir: string, extra: Partial<Parameters<typeof DurableQueue.open>[0]> = {}) => ({
  dir,
  max_bytes: 1024 * 1024 * 1024,
  max_events: 1_000_000,
  max_wait_ms: 0,
  max_batch_events: 2048,
  min_free_bytes: 0,
  ...extra,
});
const record = (i: number, sinks = ['a', 'b']) => ({ id: `id-${i}`, subject: `group/g${i % 3}`, body: JSON.stringify({ id: `id-${i}`, n: i }), sinks });

t.test('append, group commit, read per sink, ack and reclaim', async (t) => {
  const dir = tempDir();
  const queue = await DurableQueue.open(options(dir));
  const seqs = await Promise.all(Array.from({ length: 500 }, (_, i) => queue.append(record(i))));
  t.equal(new Set(seqs).size, 500, 'distinct seqs');
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'seq follows append order');
  t.ok(queue.committedBatches < 50, `500 concurrent appends shared fsyncs (${queue.committedBatches} commits)`);
  t.equal(queue.events, 500);
  const forA = await queue.read('a', 0, 1000);
  t.equal(forA.length, 500);
  await queue.ack('a', forA.map((r) => r.seq));
  t.equal(queue.events, 500, 'still needed by b');
  t.equal((await queue.read('a', 0, 1000)).length, 0);
  const forB = await queue.read('b', 0, 1000);
  await queue.ack('b', forB.slice(0, 200).map((r) => r.seq));
  t.equal(queue.events, 300, 'reclaimed once every sink has them');
  await queue.close();

  const reopened = await DurableQueue.open(options(dir));
  t.equal(reopened.events, 300, 'pending events survive a restart');
  t.equal((await reopened.read('b', 0, 1000))[0]!.id, 'id-200', 'cursor resumes at the first undelivered event');
  t.equal(reopened.recovery.cleanShutdown, true);
  await reopened.close();
});

t.test('unmatched events go straight to the dead-letter store', async (t) => {
  const queue = await DurableQueue.open(options(tempDir()));
  t.equal(await queue.append(record(1, [])), 0);
  t.equal(queue.events, 0);
  const dead = await queue.listDeadLetters();
  t.equal(dead.length, 1);
  t.equal(dead[0]!.kind, 'unmatched');
  t.equal(dead[0]!.errorCode, 'ROUTE_UNMATCHED');
  await queue.close();
});

t.test('capacity limits refuse appends with a reason; space returning restores', async (t) => {
  const queue = await DurableQueue.open(options(tempDir(), { max_events: 10 }));
  await Promise.all(Array.from({ length: 10 }, (_, i) => queue.append(record(i, ['a']))));
  const refused = await queue.append(record(11, ['a'])).catch((e) => e);
  t.type(refused, QueueUnavailableError);
  t.equal(refused.code, 'QUEUE_FULL_EVENTS');
  t.match(refused.message, /max_events=10/);
  t.equal(queue.health().writable, false);
  const rows = await queue.read('a', 0, 5);
  await queue.ack('a', rows.map((r) => r.seq));
  t.equal(queue.health().writable, true, 'writable again after delivery');
  t.ok(await queue.append(record(12, ['a'])));
  await queue.close();

  const bytes = await DurableQueue.open(options(tempDir(), { max_bytes: 1024 * 1024 }));
  const big = { id: 'big', subject: 's', body: 'x'.repeat(600 * 1024), sinks: ['a'] };
  await bytes.append(big);
  t.equal((await bytes.append({ ...big, id: 'big2' }).catch((e) => e)).code, 'QUEUE_FULL_BYTES');
  await bytes.close();

  const disk = await DurableQueue.open(options(tempDir(), { min_free_bytes: Number.MAX_SAFE_INTEGER }));
  // The free space is known once the first statfs has answered (asynchronous): wait for it, not 100 ms.
  await waitFor(() => disk.health().code, (code) => code === 'QUEUE_DISK_FULL', 60_000, 20);
  t.equal((await disk.append(record(1)).catch((e) => e)).code, 'QUEUE_DISK_FULL', 'too little free disk space → refused');
  await disk.close();
});

t.test('a closed queue refuses', async (t) => {
  const queue = await DurableQueue.open(options(tempDir()));
  await queue.close();
  t.equal((await queue.append(record(1)).catch((e) => e)).code, 'QUEUE_CLOSED');
});

t.test('dead letters keep sink, attempts and error; replay restores the same id', async (t) => {
  const dir = tempDir();
  const queue = await DurableQueue.open(options(dir));
  await queue.append(record(1, ['a']));
  const [row] = await queue.read('a', 0, 10);
  await queue.deadLetter('a', [{ seq: row!.seq, attempts: 3, code: 'KAFKA_MESSAGE_TOO_LARGE', error: 'too big' }]);
  t.equal(queue.events, 0);
  const [dead] = await queue.listDeadLetters({ sink: 'a' });
  t.match(dead, { kind: 'event', sink: 'a', eventId: 'id-1', attempts: 3, errorCode: 'KAFKA_MESSAGE_TOO_LARGE', error: 'too big' });
  const result = await queue.replay({ sink: 'a' });
  t.same(result, { replayed: 1, skipped: 0, unknownSinks: [] });
  const [again] = await queue.read('a', row!.seq, 10);
  t.equal(again!.id, 'id-1', 'same id after replay');
  t.equal(again!.body, row!.body);
  t.equal((await queue.listDeadLetters()).length, 0);
  await queue.close();
});

t.test('recovery after an unclean stop runs an integrity check', async (t) => {
  const dir = tempDir();
  const store = new QueueStore(dir);
  store.append([record(1)], Date.now());
  store.db.close(); // no clean_shutdown mark: like kill -9
  const reopened = new QueueStore(dir);
  t.equal(reopened.recovery.cleanShutdown, false);
  t.equal(reopened.recovery.integrity, 'ok');
  t.equal(reopened.recovery.events, 1);
  reopened.close();
});

t.test('live stats match a full count through appends, acks, dead letters, replays, purges and a foreign writer', async (t) => {
  const { QueueStore } = await import('../../../src/queue/store.js');
  const dir = (await import('../../helpers/daemon.js')).tempDir();
  const store = new QueueStore(dir);
  t.teardown(() => store.close());
  const same = (label: string) => {
    const live = store.liveStats();
    const full = store.stats();
    t.same(live, full, label);
  };
  same('empty');
  const body = (i: number) => JSON.stringify({ i, text: '消息'.repeat(i % 7) });
  const seqs = store.commit(
    Array.from({ length: 30 }, (_, i) => ({ id: `e${i}`, subject: `group/g${i % 3}`, body: body(i), sinks: i % 2 ? ['a', 'b'] : ['a'] })),
    [],
    Date.now(),
  ).seqs;
  same('after appends to one and two sinks');
  store.commit([{ id: 'u', subject: 's', body: '{}', sinks: [] }], [['a', seqs.slice(0, 10)], ['b', [seqs[1]!, seqs[3]!]]], Date.now());
  same('after acks (single- and multi-sink events) and an unmatched event');
  store.deadLetter('b', [{ seq: seqs[5]!, attempts: 3, code: 'X', error: 'x' }], Date.now());
  same('after a dead letter');
  store.quarantine({ reason: 'bad', code: 'SCHEMA', request: {} }, Date.now());
  store.replay({ sink: 'b' }, Date.now());
  same('after quarantine and replay');
  store.purgeDeadLetters({});
  same('after purge');
  // Another process writes (e.g. `im-bridge dlq replay` from the CLI): live stats count again.
  const other = new QueueStore(dir);
  other.commit([{ id: 'x', subject: 'group/x', body: body(3), sinks: ['c'] }], [['a', seqs.slice(10, 20)]], Date.now());
  other.close();
  same('after a write by another connection');
});
