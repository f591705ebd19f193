/**
 * kafkajs's produce path, made cheaper without changing a byte it sends (a 20-record request of
 * ~1.3 KB records: 22 µs of CPU per record to encode with kafkajs alone, 4 µs with all of this).
 *
 * - Buffers. kafkajs's protocol Encoder takes each buffer from `Buffer.alloc` (zero-filled) and
 *   grows it by doubling. The swapped Encoder takes them from `Buffer.allocUnsafe`: safe, because
 *   an Encoder only ever exposes `buf.slice(0, offset)`, bytes it wrote itself. It writes varints
 *   in place, where kafkajs made a Buffer of each (eight or more per record), and timestamp
 *   deltas that fit in 32 bits without BigInt.
 * - CRC32C. Every record batch carries the CRC32C of its body, which kafkajs computes in
 *   JavaScript a byte at a time: 129 µs for a 60 KB batch, against 8 µs for @node-rs/crc32's
 *   native (hardware where the CPU has it) crc32c. Where that package has no binary for the
 *   platform, kafkajs's own function stays.
 * - Copies. kafkajs writes each level of a request (record, its headers, batch body, batch,
 *   partition, topic, request, frame) into an Encoder of its own, grown by doubling, and copies it
 *   into the next: a record's bytes were copied nine times or more. The swapped Record,
 *   RecordBatch, Produce request (v3, which v4–v7 are) and request frame size each Encoder first
 *   and write the levels below straight into it: four copies (record, batch, request, frame), and
 *   no growth. Compressed batches go kafkajs's way (on the faster Encoder and CRC32C).
 *
 * All are swapped in Node's module cache, so they must be in place before kafkajs's protocol
 * modules load (each reads them once): every module that imports kafkajs imports this one first
 * (the kafka sink through `im-bridge/kafka`).
 * Applied only to the kafkajs version the project pins (package.json); any other version keeps
 * its own code. The unit test checks byte-for-byte equality with kafkajs's own encoding, and every
 * Kafka test against a real broker checks the records (the broker verifies each batch's CRC).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const PATCHED_KAFKAJS_VERSION = '2.2.4';
const ENCODER_MODULE = 'kafkajs/src/protocol/encoder';
const CRC32C_MODULE = 'kafkajs/src/protocol/recordBatch/crc32C';
const RECORD_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0';
const RECORD_BATCH_MODULE = 'kafkajs/src/protocol/recordBatch/v0';
const PRODUCE_REQUEST_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request';
const REQUEST_FRAME_MODULE = 'kafkajs/src/protocol/request';

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  writeVarLong(value: unknown): this;
}
type EncoderClass = (new (initialSize?: number) => KafkajsEncoder) & { nextPowerOfTwo(value: number): number; sizeOfVarLong(value: unknown): number };
type Crc32c = (buffer: Buffer) => number;
interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Record<string, HeaderValue | HeaderValue[]>;
}
type HeaderValue = Buffer | string | null;
type RecordEncoder = (record: RecordInput) => KafkajsEncoder;
interface RecordBatchInput {
  compression?: number;
  firstOffset?: unknown;
  firstTimestamp?: unknown;
  maxTimestamp?: unknown;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  records?: unknown[];
}
interface RecordBatchModule {
  RecordBatch(input: RecordBatchInput): Promise<KafkajsEncoder>;
  MAGIC_BYTE: number;
}
interface ProduceInput {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence?: number; messages: Array<RecordInput & { timestamp?: unknown }> }> }>;
}
interface KafkaRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<KafkajsEncoder>;
}
type ProduceRequest = (input: ProduceInput) => KafkaRequest;
type RequestFrame = (input: { correlationId: number; clientId: string; request: KafkaRequest }) => Promise<KafkajsEncoder>;
/** The Encoder methods these encoders call. */
type Writer = KafkajsEncoder & {
  writeInt8(value: number): Writer;
  writeInt16(value: number): Writer;
  writeInt32(value: number): Writer;
  writeInt64(value: unknown): Writer;
  writeUInt32(value: number): Writer;
  writeVarInt(value: number): Writer;
  writeVarIntBytes(value: unknown): Writer;
  writeVarIntString(value: unknown): Writer;
  writeString(value: string | null): Writer;
  writeEncoder(value: KafkajsEncoder): Writer;
  writeEncoderArray(value: unknown[]): Writer;
};
/** Marks a replacement with what it replaced, so that a second copy of this module finds both. */
const ORIGINAL = Symbol.for('im-bridge.kafkajs.original');

interface Swap<T> {
  /** kafkajs's own code (the tests compare with it). */
  original: T;
  /** What kafkajs's modules load instead; undefined when not swapped. */
  fast: T | undefined;
}

export const kafkajsEncoding: {
  encoder: Swap<EncoderClass>;
  crc32c: Swap<Crc32c>;
  record: Swap<RecordEncoder>;
  recordBatch: Swap<RecordBatchModule>;
  produceRequest: Swap<ProduceRequest>;
  requestFrame: Swap<RequestFrame>;
  notApplied?: string;
} = install();

function install(): typeof kafkajsEncoding {
  const version = (require('kafkajs/package.json') as { version: string }).version;
  // kafkajs already run: its modules hold what they read, a swap would change nothing. (An ESM
  // import puts kafkajs in the cache before running it, hence `loaded`, not presence.)
  const tooLate = require.cache[require.resolve('kafkajs')]?.loaded === true;
  const notApplied = version !== PATCHED_KAFKAJS_VERSION ? `kafkajs ${version} is not ${PATCHED_KAFKAJS_VERSION}` : tooLate ? 'kafkajs was loaded first' : undefined;
  // In this order, each swapped in before the next module loads: so kafkajs's own code, where it
  // still runs (compressed batches), runs on the faster Encoder and CRC32C too.
  const make = <T>(id: string, faster: (original: T) => T | undefined) => swap<T>(id, notApplied ? () => undefined : faster);
  const encoder = make<EncoderClass>(ENCODER_MODULE, fasterEncoder);
  const crc32c = make<Crc32c>(CRC32C_MODULE, nativeCrc32c);
  const Encoder = encoder.fast ?? encoder.original;
  const record = make<RecordEncoder>(RECORD_MODULE, () => fasterRecord(Encoder));
  const recordBatch = make<RecordBatchModule>(RECORD_BATCH_MODULE, (original) => fasterRecordBatch(original, Encoder, crc32c.fast ?? crc32c.original));
  const produceRequest = make<ProduceRequest>(PRODUCE_REQUEST_MODULE, (original) =>
    fasterProduceRequest(original, Encoder, record.fast ?? record.original, recordBatch.fast ?? recordBatch.original),
  );
  const requestFrame = make<RequestFrame>(REQUEST_FRAME_MODULE, () => fasterRequestFrame(Encoder));
  return { encoder, crc32c, record, recordBatch, produceRequest, requestFrame, ...(notApplied ? { notApplied } : {}) };
}

/**
 * The cache entry of a kafkajs module, loaded now if it is not yet, and its replacement (made
 * once per process), put in the entry's place at once.
 */
function swap<T>(id: string, make: (original: T) => T | undefined): Swap<T> {
  const entry = require.cache[require.resolve(id)] ?? (require(id), require.cache[require.resolve(id)]!);
  const marked = entry.exports as T & { [ORIGINAL]?: T };
  const original = marked[ORIGINAL] ?? marked;
  const fast = marked[ORIGINAL] ? marked : make(original);
  if (fast) {
    (fast as T & { [ORIGINAL]?: T })[ORIGINAL] = original;
    entry.exports = fast;
  }
  return { original, fast };
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

    // kafkajs gathers a varint's bytes in an array and copies them in through `Buffer.from(array)`:
    // a buffer per varint, eight or more per record. Same loop, written in place.
    writeUVarInt(value: number): this {
      this.ensureAvailable(MAX_VARINT_BYTES);
      const buf = this.buf;
      let at = this.offset;
      while ((value & UNSIGNED_INT32_MAX_NUMBER) !== 0) {
        buf[at++] = (value & OTHER_BITS) | MOST_SIGNIFICANT_BIT;
        value >>>= 7;
      }
      buf[at++] = value & OTHER_BITS;
      this.offset = at;
      return this;
    }

    // A record's timestamp delta, through BigInt in kafkajs. An int32 has the same zigzag in 32 as
    // in 64 bits, so it takes the varint path; anything else goes kafkajs's way.
    override writeVarLong(value: unknown): this {
      if (typeof value === 'number' && (value | 0) === value) return this.writeUVarInt(((value << 1) ^ (value >> 31)) >>> 0);
      return super.writeVarLong(value);
    }

    static override sizeOfVarLong(value: unknown): number {
      if (typeof value === 'number' && (value | 0) === value) return sizeOfUVarInt(((value << 1) ^ (value >> 31)) >>> 0);
      return original.sizeOfVarLong(value);
    }
  }
  return FastEncoder;
}

/** kafkajs's constants for its varint loops. */
const UNSIGNED_INT32_MAX_NUMBER = 0xffffff80;
const OTHER_BITS = 0x7f;
const MOST_SIGNIFICANT_BIT = 0x80;
/** At most: the first turn may see any int32, every later one a uint32 shifted by 7. */
const MAX_VARINT_BYTES = 5;

function sizeOfUVarInt(value: number): number {
  let bytes = 1;
  while ((value & UNSIGNED_INT32_MAX_NUMBER) !== 0) {
    bytes++;
    value >>>= 7;
  }
  return bytes;
}

/**
 * kafkajs's Record v0, written into one Encoder of the record's size: kafkajs builds an Encoder
 * per header and copies it in, and grows the record's own from 512 bytes. Same fields, same
 * order, same size computation (and so the same exceptions for values it cannot encode).
 */
function fasterRecord(Encoder: EncoderClass): RecordEncoder {
  const E = Encoder as unknown as EncoderClass & {
    sizeOfVarInt(value: number): number;
    sizeOfVarIntBytes(value: unknown): number;
  };
  const fast: RecordEncoder = ({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }) => {
    const headersArray: Array<{ key: string; value: HeaderValue }> = [];
    for (const headerKey of Object.keys(headers)) {
      const headerValue = headers[headerKey]!;
      if (!Array.isArray(headerValue)) headersArray.push({ key: headerKey, value: headerValue });
      else for (const one of headerValue) headersArray.push({ key: headerKey, value: one });
    }
    const sizeOfBody =
      1 + E.sizeOfVarLong(timestampDelta) + E.sizeOfVarInt(offsetDelta) + E.sizeOfVarIntBytes(key) + E.sizeOfVarIntBytes(value) + sizeOfHeaders(E, headersArray);
    const record = new Encoder(sizeOfBody + MAX_VARINT_BYTES) as Writer;
    record.writeVarInt(sizeOfBody).writeInt8(0).writeVarLong(timestampDelta);
    record.writeVarInt(offsetDelta).writeVarIntBytes(key).writeVarIntBytes(value).writeVarInt(headersArray.length);
    for (const header of headersArray) record.writeVarIntString(header.key).writeVarIntBytes(header.value);
    return record;
  };
  return fast;
}

/**
 * kafkajs's RecordBatch v0 for uncompressed batches, in one Encoder of the batch's size. kafkajs
 * writes the body into one Encoder (grown by doubling as records are added), copies it into a
 * second behind the CRC, and that into a third behind the offset and length: three copies of
 * every record. Here the CRC is computed over the body where it lies and written in front of it.
 * Compressed batches, and records that are not all Encoders, go kafkajs's way.
 */
function fasterRecordBatch(original: RecordBatchModule, Encoder: EncoderClass, crc32c: Crc32c): RecordBatchModule {
  const MAGIC_BYTE = original.MAGIC_BYTE;
  /** kafkajs's attribute bits: the codec in the low 3, transactional the fifth (timestamps: create time, 0). */
  const TRANSACTIONAL_MASK = 16;
  /** attributes, lastOffsetDelta, two timestamps, producer id and epoch, firstSequence, record count. */
  const BODY_HEADER_BYTES = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
  /** partitionLeaderEpoch, magic, CRC. */
  const BATCH_HEADER_BYTES = 4 + 1 + 4;
  const Long = require('kafkajs/src/utils/long') as { fromInt(value: number): unknown; fromValue(value: number): unknown };
  const isEncoder = (value: unknown) => value != null && Buffer.isBuffer((value as KafkajsEncoder).buf);

  const RecordBatch = async (input: RecordBatchInput): Promise<KafkajsEncoder> => {
    const records = input.records ?? [];
    const compression = input.compression === undefined ? 0 : input.compression; // kafkajs's default: only for undefined
    if (compression !== 0 || records.length === 0 || !records.every(isEncoder)) return original.RecordBatch(input);
    const {
      firstOffset = Long.fromInt(0),
      firstTimestamp = Date.now(),
      maxTimestamp = Date.now(),
      partitionLeaderEpoch = 0,
      lastOffsetDelta = 0,
      transactional = false,
      producerId = Long.fromValue(-1),
      producerEpoch = 0,
      firstSequence = 0,
    } = input;
    let recordBytes = 0;
    for (const record of records as KafkajsEncoder[]) recordBytes += record.offset;
    const bodyBytes = BODY_HEADER_BYTES + recordBytes;
    const batch = new Encoder(8 + 4 + BATCH_HEADER_BYTES + bodyBytes) as Writer;
    batch.writeInt64(firstOffset).writeInt32(BATCH_HEADER_BYTES + bodyBytes).writeInt32(partitionLeaderEpoch).writeInt8(MAGIC_BYTE);
    const crcAt = batch.offset;
    batch.writeUInt32(0);
    const bodyAt = batch.offset;
    batch
      .writeInt16(transactional ? TRANSACTIONAL_MASK : 0)
      .writeInt32(lastOffsetDelta)
      .writeInt64(firstTimestamp)
      .writeInt64(maxTimestamp)
      .writeInt64(producerId)
      .writeInt16(producerEpoch)
      .writeInt32(firstSequence)
      .writeInt32(records.length)
      .writeEncoderArray(records);
    batch.buf.writeUInt32BE(crc32c(batch.buf.subarray(bodyAt, batch.offset)), crcAt);
    return batch;
  };
  return { ...original, RecordBatch };
}

/** Bytes of a Kafka STRING (int16 length, -1 for null), as kafkajs's writeString writes it. */
function sizeOfString(value: string | null): number {
  return value == null ? 2 : 2 + Buffer.byteLength(value, 'utf8');
}

/**
 * kafkajs's Produce request v3 (v4 and v5 are it under another version number; v6 and v7 are v5),
 * for uncompressed requests: the record batches are built as kafkajs builds them, then written
 * once into an Encoder of the request's size, where kafkajs copies each batch into a partition
 * Encoder, that into a topic Encoder and that into the request's. kafkajs passes each record
 * `{ ...message, offsetDelta, timestampDelta }`: the five fields Record reads are passed instead.
 * Compressed requests go kafkajs's way.
 */
function fasterProduceRequest(original: ProduceRequest, Encoder: EncoderClass, Record: RecordEncoder, batches: RecordBatchModule): ProduceRequest {
  const Long = require('kafkajs/src/utils/long') as { fromInt(value: number): unknown };
  return (input) => {
    const request = original(input);
    const compression = input.compression === undefined ? 0 : input.compression;
    if (compression !== 0) return request;
    const { acks, timeout, transactionalId = null, producerId = Long.fromInt(-1), producerEpoch = 0, topicData } = input;
    request.encode = async () => {
      const topics: Array<{ topic: string; partitions: Array<{ partition: number; batch: KafkajsEncoder }> }> = [];
      let size = sizeOfString(transactionalId) + 2 + 4 + 4;
      for (const { topic, partitions } of topicData) {
        const encoded: Array<{ partition: number; batch: KafkajsEncoder }> = [];
        size += sizeOfString(topic) + 4;
        for (const { partition, messages, firstSequence } of partitions) {
          const dateNow = Date.now();
          // kafkajs's order, a string sort of the timestamps included.
          const messageTimestamps = messages
            .map((m) => m.timestamp)
            .filter((timestamp) => timestamp != null)
            .sort();
          const timestamps = messageTimestamps.length === 0 ? [dateNow] : messageTimestamps;
          const firstTimestamp = timestamps[0] as number;
          const maxTimestamp = timestamps[timestamps.length - 1];
          const records = messages.map((message, i) =>
            Record({
              key: message.key,
              value: message.value,
              headers: message.headers,
              offsetDelta: i,
              timestampDelta: ((message.timestamp as number) || dateNow) - firstTimestamp,
            }),
          );
          const batch = await batches.RecordBatch({
            compression,
            records,
            firstTimestamp,
            maxTimestamp,
            producerId,
            producerEpoch,
            firstSequence,
            transactional: !!transactionalId,
            lastOffsetDelta: records.length - 1,
          });
          encoded.push({ partition, batch });
          size += 4 + 4 + batch.offset;
        }
        topics.push({ topic, partitions: encoded });
      }
      const out = new Encoder(size) as Writer;
      out.writeString(transactionalId).writeInt16(acks).writeInt32(timeout).writeInt32(topics.length);
      for (const { topic, partitions } of topics) {
        out.writeString(topic).writeInt32(partitions.length);
        for (const { partition, batch } of partitions) out.writeInt32(partition).writeInt32(batch.offset).writeEncoder(batch);
      }
      return out;
    };
    return request;
  };
}

/**
 * kafkajs's request framing (size, api key and version, correlation id, client id, payload), in
 * one Encoder of the frame's size: kafkajs copies the payload into a header Encoder and that into
 * a second one behind the size, two copies of every request.
 */
function fasterRequestFrame(Encoder: EncoderClass): RequestFrame {
  return async ({ correlationId, clientId, request: { apiKey, apiVersion, encode } }) => {
    const payload = await encode();
    const payloadBytes = payload != null && Buffer.isBuffer(payload.buf) ? payload.offset : 0;
    const frameBytes = 2 + 2 + 4 + sizeOfString(clientId) + payloadBytes;
    return (new Encoder(4 + frameBytes) as Writer)
      .writeInt32(frameBytes)
      .writeInt16(apiKey)
      .writeInt16(apiVersion)
      .writeInt32(correlationId)
      .writeString(clientId)
      .writeEncoder(payload);
  };
}

/** kafkajs's sizeOfHeaders (record/v0), as it is. */
function sizeOfHeaders(E: { sizeOfVarInt(value: number): number }, headersArray: ReadonlyArray<{ key: string; value: HeaderValue }>): number {
  let size = E.sizeOfVarInt(headersArray.length);
  for (const header of headersArray) {
    const keySize = Buffer.byteLength(header.key);
    const valueSize = Buffer.byteLength(header.value as string);
    size += E.sizeOfVarInt(keySize) + keySize;
    if (header.value === null) size += E.sizeOfVarInt(-1);
    else size += E.sizeOfVarInt(valueSize) + valueSize;
  }
  return size;
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
