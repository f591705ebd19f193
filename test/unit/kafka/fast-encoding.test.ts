import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import t from 'tap';
import { kafkajsEncoding, PATCHED_KAFKAJS_VERSION } from '../../../src/kafka/fast-encoding.js';
// After fast-encoding.js, as in the daemon: kafkajs's protocol modules load what it swapped in.
import '../../../src/kafka/client.js';
import { REPO_ROOT } from '../../helpers/daemon.js';

const require = createRequire(import.meta.url);

interface Enc {
  buffer: Buffer;
  [write: string]: unknown;
}
type EncoderCtor = new (initialSize?: number) => Enc;

/** Deterministic pseudo-random numbers (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Leaves garbage in Node's buffer pool, where allocUnsafe takes small buffers from. */
function dirtyPool(): void {
  for (let i = 0; i < 64; i++) Buffer.allocUnsafe(1 + (i % 4000)).fill(0xa5);
}

/** The same writes on any Encoder class: every kind kafkajs's produce path uses, across growth. */
function drive(Encoder: EncoderCtor, seed: number): Buffer {
  const next = random(seed);
  const int = (max: number) => Math.floor(next() * max);
  const text = (n: number) => Array.from({ length: n }, () => String.fromCharCode(int(3) === 0 ? 0x4e00 + int(500) : 32 + int(90))).join('');
  const root = new Encoder(int(2000));
  const call = (e: Enc, name: string, ...args: unknown[]) => (e[name] as (...a: unknown[]) => Enc).apply(e, args);
  for (let op = 0; op < 400; op++) {
    switch (int(12)) {
      case 9:
      case 10: {
        const items = Array.from({ length: int(40) }, () => {
          const inner = new Encoder();
          call(inner, 'writeVarInt', int(1000));
          call(inner, 'writeBytes', Buffer.from(text(int(2000))));
          return inner;
        });
        if (int(2) === 0) call(root, 'writeArray', items, int(2) === 0 ? 'object' : undefined);
        else call(root, int(2) === 0 ? 'writeVarIntArray' : 'writeEncoderArray', items, 'object');
        break;
      }
      case 11:
        call(root, 'writeArray', Array.from({ length: int(30) }, () => text(int(50))), 'string');
        break;
      case 0:
        call(root, 'writeInt8', int(256) - 128);
        break;
      case 1:
        call(root, 'writeInt16', int(65536) - 32768);
        break;
      case 2:
        call(root, 'writeInt32', int(2 ** 31) - 2 ** 30);
        break;
      case 3:
        call(root, 'writeInt64', String(int(2 ** 40)));
        break;
      case 4:
        call(root, 'writeVarInt', int(2 ** 28) - 2 ** 27);
        break;
      case 5:
        call(root, 'writeString', text(int(300)));
        break;
      case 6:
        call(root, 'writeBytes', Buffer.from(text(int(5000))));
        break;
      case 7:
        call(root, 'writeVarIntBytes', Buffer.from(text(int(3000))));
        break;
      default: {
        const inner = new Encoder();
        call(inner, 'writeVarIntString', text(int(200)));
        call(inner, 'writeVarIntBytes', Buffer.from(text(int(9000))));
        call(root, 'writeEncoder', inner);
      }
    }
  }
  return Buffer.from(root.buffer);
}

const { encoder, crc32c, record, recordBatch, produceRequest, requestFrame } = kafkajsEncoding;

const MODULES = {
  encoder: 'kafkajs/src/protocol/encoder',
  crc32c: 'kafkajs/src/protocol/recordBatch/crc32C',
  record: 'kafkajs/src/protocol/recordBatch/record/v0',
  recordBatch: 'kafkajs/src/protocol/recordBatch/v0',
  produceRequest: 'kafkajs/src/protocol/requests/produce/v3/request',
  requestFrame: 'kafkajs/src/protocol/request',
} as const;

t.test('the swaps are in force for the pinned kafkajs', async (t) => {
  const version = (require('kafkajs/package.json') as { version: string }).version;
  t.equal(version, PATCHED_KAFKAJS_VERSION, 'package.json pins the kafkajs version fast-encoding.ts was checked against');
  t.equal(kafkajsEncoding.notApplied, undefined);
  for (const [name, id] of Object.entries(MODULES)) {
    const one = kafkajsEncoding[name as keyof typeof MODULES];
    t.ok(one.fast, `${name}: installed (for crc32c: @node-rs/crc32 has a binary for this machine)`);
    t.equal(require(id), one.fast, `${name}: kafkajs's modules load the faster one`);
    t.not(one.fast, one.original);
  }
});

t.test("the kafka sink's module, imported alone, gets the swaps (its imports run fast-encoding before kafkajs)", async (t) => {
  const script = `import './dist/plugins/kafka/index.js'; import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/');
    const marked = ${JSON.stringify(Object.values(MODULES))}.filter((id) => require(id)[Symbol.for('im-bridge.kafkajs.original')]);
    process.stdout.write(String(marked.length));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  t.equal(child.status, 0, child.stderr);
  t.equal(child.stdout, String(Object.keys(MODULES).length), 'every swapped module is in force');
});

t.test('the native CRC32C is the one kafkajs computes', async (t) => {
  const next = random(7);
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(Array.from({ length: Math.floor(next() * (i < 50 ? 40 : 70_000)) }, () => Math.floor(next() * 256)));
    const expected = crc32c.original(bytes);
    if (crc32c.fast!(bytes) !== expected) t.fail(`${bytes.length} bytes: ${crc32c.fast!(bytes)} against ${expected}`);
  }
  t.equal(crc32c.fast!(Buffer.from('123456789')), 0xe3069283, 'the standard check value');
  t.equal(crc32c.fast!(Buffer.alloc(0)), 0);
});

t.test('byte for byte what kafkajs writes, with garbage in the buffer pool', async (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const expected = drive(encoder.original as unknown as EncoderCtor, seed);
    dirtyPool();
    const actual = drive(encoder.fast as unknown as EncoderCtor, seed);
    if (!actual.equals(expected)) t.fail(`seed ${seed}: ${actual.length} bytes against ${expected.length}`);
  }
  t.pass('40 random write sequences equal');
});

type Message = { key?: unknown; value?: unknown; headers?: Record<string, unknown>; timestamp?: unknown };

/** Random messages as a producer may pass them: keys, values and headers null, strings or Buffers. */
function messages(next: () => number, count: number): Message[] {
  const int = (max: number) => Math.floor(next() * max);
  const text = (n: number) => Array.from({ length: n }, () => String.fromCharCode(int(3) === 0 ? 0x4e00 + int(500) : 32 + int(90))).join('');
  const bytesOrText = (n: number): unknown => [null, undefined, text(n), Buffer.from(text(n))][int(4)];
  return Array.from({ length: count }, () => {
    const headers: Record<string, unknown> = {};
    for (let h = int(4); h > 0; h--) headers[text(1 + int(12))] = int(3) === 0 ? [text(int(40)), Buffer.from(text(int(40)))] : int(2) ? text(int(60)) : Buffer.from(text(int(60)));
    return { key: bytesOrText(int(30)), value: bytesOrText(int(int(5) === 0 ? 20_000 : 2000)), headers: int(5) === 0 ? undefined : headers, timestamp: 1767225600000 + int(5000) };
  });
}

/** Bytes written, or the error thrown: either way, the fast code must do as kafkajs does. */
async function outcome(encode: () => Enc | Promise<Enc>): Promise<string> {
  try {
    return (await encode()).buffer.toString('hex');
  } catch (error) {
    return `throws ${(error as Error).message}`;
  }
}

type RecordFn = (input: Record<string, unknown>) => Enc;
type BatchFn = (input: Record<string, unknown>) => Promise<Enc>;
type ProduceFn = (input: Record<string, unknown>) => { apiKey: number; apiVersion: number; encode(): Promise<Enc> };
type FrameFn = (input: Record<string, unknown>) => Promise<Enc>;

t.test('records, record batches, produce requests and their frames: the bytes kafkajs writes', async (t) => {
  const next = random(11);
  const int = (max: number) => Math.floor(next() * max);
  const Record = { original: record.original as unknown as RecordFn, fast: record.fast as unknown as RecordFn };
  const Batch = { original: (recordBatch.original as unknown as { RecordBatch: BatchFn }).RecordBatch, fast: (recordBatch.fast as unknown as { RecordBatch: BatchFn }).RecordBatch };
  const Produce = { original: produceRequest.original as unknown as ProduceFn, fast: produceRequest.fast as unknown as ProduceFn };
  const Frame = { original: requestFrame.original as unknown as FrameFn, fast: requestFrame.fast as unknown as FrameFn };
  const deltas = [0, 1, -1, 63, 64, -65, 2 ** 20, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 40, 1.5];
  let compared = 0;
  let thrown = 0;
  for (let i = 0; i < 200; i++) {
    const [message] = messages(next, 1);
    const input = { ...message, offsetDelta: int(3) ? int(1000) : deltas[int(deltas.length)], timestampDelta: deltas[int(deltas.length)] };
    const expected = await outcome(() => Record.original(input));
    dirtyPool();
    const actual = await outcome(() => Record.fast(input));
    if (actual !== expected) t.fail(`record ${JSON.stringify(input).slice(0, 200)}: ${actual.slice(0, 100)} against ${expected.slice(0, 100)}`);
    if (expected.startsWith('throws')) thrown++;
    compared++;
  }
  for (let i = 0; i < 60; i++) {
    const records = messages(next, int(30)).map((m, offsetDelta) => Record.original({ ...m, offsetDelta, timestampDelta: int(100) }));
    const input = {
      records,
      firstTimestamp: 1767225600000 + int(100),
      maxTimestamp: String(1767225600000 + 100 + int(100)),
      ...(int(2) ? { firstOffset: int(1000), producerId: int(2 ** 40), producerEpoch: int(100), firstSequence: int(10_000), partitionLeaderEpoch: int(5) } : {}),
      ...(int(2) ? { transactional: true, lastOffsetDelta: records.length - 1 } : {}),
      ...(int(4) === 0 ? { compression: 1 } : int(3) === 0 ? { compression: 0 } : {}),
    };
    const expected = (await Batch.original(input)).buffer;
    dirtyPool();
    const actual = (await Batch.fast(input)).buffer;
    if (!actual.equals(expected)) t.fail(`record batch ${i}: ${actual.length} bytes against ${expected.length}`);
    compared++;
  }
  for (let i = 0; i < 40; i++) {
    const topicData = Array.from({ length: 1 + int(3) }, (_, topic) => ({
      topic: `events-${topic}-${'话'.repeat(int(3))}`,
      partitions: Array.from({ length: 1 + int(4) }, (_, partition) => ({ partition, firstSequence: int(1000), messages: messages(next, 1 + int(25)) })),
    }));
    const input = {
      acks: [-1, 0, 1][int(3)],
      timeout: 30_000,
      topicData,
      ...(int(2) ? { transactionalId: 'tx-' + int(100), producerId: int(5000), producerEpoch: int(10) } : {}),
      ...(int(4) === 0 ? { compression: 1 } : {}),
    };
    const frame = { correlationId: int(2 ** 31), clientId: int(4) ? 'im-bridge' : 'client-话' };
    const expected = (await Frame.original({ ...frame, request: Produce.original(input) })).buffer;
    dirtyPool();
    const actual = (await Frame.fast({ ...frame, request: Produce.fast(input) })).buffer;
    if (!actual.equals(expected)) t.fail(`produce request ${i}: ${actual.length} bytes against ${expected.length}`);
    compared++;
  }
  t.equal(compared, 300, '200 records, 60 record batches (compressed ones among them), 40 framed produce requests equal');
  t.ok(thrown > 0 && thrown < 100, `${thrown} records kafkajs refuses (a timestamp delta it cannot take) are refused alike`);
  const message = { ...messages(next, 1)[0], offsetDelta: 0, timestampDelta: 0, headers: { a: 5 } };
  t.match(await outcome(() => Record.fast(message)), /^throws/, 'a header value kafkajs cannot encode throws');
  t.equal(await outcome(() => Record.fast(message)), await outcome(() => Record.original(message)), 'the same error');
});

/** A framed produce request (v7, what kafkajs sends to Kafka 4: v5's encoding, v3's) with a record batch per partition. */
const PRODUCE_SCRIPT = `
  const V7 = require('kafkajs/src/protocol/requests/produce/v7/request');
  const frame = require('kafkajs/src/protocol/request');
  const Produce = (input) => ({ encode: () => frame({ correlationId: 42, clientId: 'im-bridge', request: V7(input) }) });
  const zh = '你好世界，这是一条群消息。';
  const messages = (p) => Array.from({ length: 25 }, (_, i) => ({
    key: Buffer.from('group/@TGS#' + p + '-' + i),
    value: Buffer.from(JSON.stringify({ id: i, text: zh.repeat(i * 7), pad: 'x'.repeat(i * 113) })),
    headers: { 'content-type': 'application/cloudevents+json', ce_id: 'id-' + p + '-' + i },
    timestamp: String(1767225600000 + i),
  }));
  for (let i = 0; i < 64; i++) Buffer.allocUnsafe(1 + i * 61).fill(0xa5);
  Produce({ acks: -1, timeout: 30000, compression: 0, producerId: 7, producerEpoch: 1,
    topicData: [{ topic: 'events', partitions: [0, 1, 2].map((p) => ({ partition: p, firstSequence: p * 25, messages: messages(p) })) }] })
    .encode().then((e) => process.stdout.write(e.buffer.toString('hex')));
`;

t.test('a produce request encodes to the same bytes as with kafkajs alone', async (t) => {
  const plain = spawnSync(process.execPath, ['-e', PRODUCE_SCRIPT], { cwd: REPO_ROOT, encoding: 'utf8' });
  t.equal(plain.status, 0, plain.stderr);
  const patched = spawnSync(process.execPath, ['--input-type=module', '-e', `import './dist/src/kafka/client.js'; import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/'); if (${JSON.stringify(Object.values(MODULES))}.some((id) => !require(id)[Symbol.for('im-bridge.kafkajs.original')])) process.exit(3); ${PRODUCE_SCRIPT}`], { cwd: REPO_ROOT, encoding: 'utf8' });
  t.equal(patched.status, 0, patched.stderr);
  t.ok(plain.stdout.length > 2 * 100_000, `a request of ${plain.stdout.length / 2} bytes`);
  t.equal(patched.stdout, plain.stdout, 'identical bytes');
});
