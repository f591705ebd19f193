/**
 * Two parts of kafkajs's produce path, made cheaper without changing a byte it sends.
 *
 * - Buffers. kafkajs's protocol Encoder takes each buffer from `Buffer.alloc` (zero-filled) and
 *   grows it by doubling: a fresh 512-byte buffer per record and per header, and every level of
 *   a request (record batch, partition, topic, request) grows its own through 1, 2, 4 … 64 KB.
 *   Zero-filling them was 30 % of the CPU of encoding a produce request. The swapped Encoder takes
 *   them from `Buffer.allocUnsafe`: safe, because an Encoder only ever exposes
 *   `buf.slice(0, offset)`, bytes it wrote itself.
 * - CRC32C. Every record batch carries the CRC32C of its body, which kafkajs computes in
 *   JavaScript a byte at a time: 129 µs for a 60 KB batch, against 8 µs for @node-rs/crc32's
 *   native (hardware where the CPU has it) crc32c. Where that package has no binary for the
 *   platform, kafkajs's own function stays.
 *
 * Both are swapped in Node's module cache, so they must be in place before kafkajs's protocol
 * modules load (each reads them once): every module that imports kafkajs imports this one first.
 * Applied only to the kafkajs version the project pins (package.json); any other version keeps
 * its own code. The unit test checks byte-for-byte equality with kafkajs's own encoding, and every
 * Kafka test against a real broker checks the records (the broker verifies each batch's CRC).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const PATCHED_KAFKAJS_VERSION = '2.2.4';
const ENCODER_MODULE = 'kafkajs/src/protocol/encoder';
const CRC32C_MODULE = 'kafkajs/src/protocol/recordBatch/crc32C';

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
}
type EncoderClass = (new (initialSize?: number) => KafkajsEncoder) & { nextPowerOfTwo(value: number): number };
type Crc32c = (buffer: Buffer) => number;
/** Marks a replacement with what it replaced, so that a second copy of this module finds both. */
const ORIGINAL = Symbol.for('im-bridge.kafkajs.original');

interface Swap<T> {
  /** kafkajs's own code (the tests compare with it). */
  original: T;
  /** What kafkajs's modules load instead; undefined when not swapped. */
  fast: T | undefined;
}

export const kafkajsEncoding: { encoder: Swap<EncoderClass>; crc32c: Swap<Crc32c>; notApplied?: string } = install();

function install(): typeof kafkajsEncoding {
  const encoder = swap<EncoderClass>(ENCODER_MODULE, fasterEncoder);
  const crc32c = swap<Crc32c>(CRC32C_MODULE, nativeCrc32c);
  const version = (require('kafkajs/package.json') as { version: string }).version;
  // kafkajs already run: its modules hold what they read, a swap would change nothing. (An ESM
  // import puts kafkajs in the cache before running it, hence `loaded`, not presence.)
  const tooLate = require.cache[require.resolve('kafkajs')]?.loaded === true;
  const notApplied = version !== PATCHED_KAFKAJS_VERSION ? `kafkajs ${version} is not ${PATCHED_KAFKAJS_VERSION}` : tooLate ? 'kafkajs was loaded first' : undefined;
  if (notApplied) return { encoder: { ...encoder, fast: undefined }, crc32c: { ...crc32c, fast: undefined }, notApplied };
  encoder.apply();
  crc32c.apply();
  return { encoder, crc32c };
}

/** The cache entry of a kafkajs module and what would replace its exports (made once per process). */
function swap<T>(id: string, make: (original: T) => T | undefined): Swap<T> & { apply(): void } {
  const entry = require.cache[require.resolve(id)] ?? (require(id), require.cache[require.resolve(id)]!);
  const marked = entry.exports as T & { [ORIGINAL]?: T };
  const original = marked[ORIGINAL] ?? marked;
  const fast = marked[ORIGINAL] ? marked : make(original);
  if (fast) (fast as T & { [ORIGINAL]?: T })[ORIGINAL] = original;
  return {
    original,
    fast,
    apply: () => {
      if (fast) entry.exports = fast;
    },
  };
}
function fasterEncoder(original: EncoderClass): EncoderClass {
  class FastEncoder extends original {
    constructor(initialSize = 511) {
      super(0); // a 1-byte buffer, replaced at once
      this.buf = Buffer.allocUnsafe(original.nextPowerOfTwo(initialSize));
    }

    ensureAvailable(length: number): void {
      if (this.offset + length > this.buf.length) {
        const grown = Buffer.allocUnsafe(original.nextPowerOfTwo(this.offset + length));
        this.buf.copy(grown, 0, 0, this.offset);
        this.buf = grown;
      }
    }
  }
  return FastEncoder;
}

function nativeCrc32c(): Crc32c | undefined {
  try {
    const { crc32c } = require('@node-rs/crc32') as { crc32c(input: Buffer, initial?: number): number };
    // kafkajs's function returns the unsigned value.
    return (buffer) => crc32c(buffer) >>> 0;
  } catch {
    return undefined; // no binary for this platform
  }
}
