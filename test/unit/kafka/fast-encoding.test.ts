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

const { encoder, crc32c } = kafkajsEncoding;

t.test('the swaps are in force for the pinned kafkajs', async (t) => {
  const version = (require('kafkajs/package.json') as { version: string }).version;
  t.equal(version, PATCHED_KAFKAJS_VERSION, 'package.json pins the kafkajs version fast-encoding.ts was checked against');
  t.equal(kafkajsEncoding.notApplied, undefined);
  t.ok(encoder.fast && crc32c.fast, 'both installed (@node-rs/crc32 has a binary for this machine)');
  t.equal(require('kafkajs/src/protocol/encoder'), encoder.fast, "kafkajs's modules get the faster Encoder");
  t.equal(require('kafkajs/src/protocol/recordBatch/crc32C'), crc32c.fast, 'and the native CRC32C');
  t.not(encoder.fast, encoder.original);
  t.not(crc32c.fast, crc32c.original);
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

/** A produce request (v3, the one kafkajs sends to Kafka ≥ 0.11) with a record batch per partition. */
const PRODUCE_SCRIPT = `
  const Produce = require('kafkajs/src/protocol/requests/produce/v3/request');
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
  const patched = spawnSync(process.execPath, ['--input-type=module', '-e', `import './dist/src/kafka/client.js'; import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/'); if (require('kafkajs/src/protocol/encoder').name !== 'FastEncoder' || !require('kafkajs/src/protocol/recordBatch/crc32C')[Symbol.for('im-bridge.kafkajs.original')]) process.exit(3); ${PRODUCE_SCRIPT}`], { cwd: REPO_ROOT, encoding: 'utf8' });
  t.equal(patched.status, 0, patched.stderr);
  t.ok(plain.stdout.length > 2 * 100_000, `a request of ${plain.stdout.length / 2} bytes`);
  t.equal(patched.stdout, plain.stdout, 'identical bytes');
});
