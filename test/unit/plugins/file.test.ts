/**
 * file sink driven directly (no daemon) on a real directory: exact NDJSON bytes (non-ASCII,
 * emoji, batches larger than the reused encode buffer), serialized concurrent batches, batches that
 * share a write and its fdatasync (and its failure), rotation,
 * a torn last line left by a crash, and the conformance kit with its default hostile event.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { pino } from 'pino';
import t from 'tap';
import plugin from '../../../plugins/file/index.js';
import { RetriableError, type CanonicalEvent, type Sink } from '../../../src/sink/api.js';
import { formatConformanceReport, runSinkConformance } from '../../../src/sink/conformance.js';
import { groupEvent } from '../../helpers/events.js';

const ajv = new Ajv({ useDefaults: true, strict: false, allErrors: true });
const validate = ajv.compile(plugin.configSchema);

async function makeSink(t: { teardown(fn: () => unknown): void }, raw: Record<string, unknown>): Promise<Sink> {
  const config = structuredClone(raw);
  if (!validate(config)) throw new Error(`invalid test config: ${ajv.errorsText(validate.errors)}`);
  const sink = await plugin.create(config as never, {
    name: 'archive',
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    configDir: '/',
    count: () => undefined,
  });
  await sink.connect(new AbortController().signal);
  t.teardown(() => sink.close());
  return sink;
}

const event = (n: number, text: string): CanonicalEvent => groupEvent({ id: `evt-${n}`, groupId: `g${n % 7}`, seq: n, text });

const tmp = (t: { teardown(fn: () => unknown): void }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-file-sink-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);

t.test('writes one JSON line per event, byte for byte, whatever the characters', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'out', 'events.ndjson');
  const sink = await makeSink(t, { path: file });
  const texts = ['plain', 'héllo wörld', '你好，世界', 'emoji 👍🏽 and \u2028 separators', 'quote " backslash \\ newline \n tab \t', ''];
  const events = texts.map((text, i) => event(i, text));
  await sink.writeBatch(events, new AbortController().signal);
  const expected = events.map((e) => JSON.stringify(e) + '\n').join('');
  t.equal(fs.readFileSync(file, 'utf8'), expected, 'exact bytes');
  t.same(lines(file).map((l) => (JSON.parse(l) as CanonicalEvent).data.text), texts, 'each line parses back to its event');
});

t.test('batches larger than the reused encode buffer, and a huge one-off batch, are written whole', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'events.ndjson');
  const sink = await makeSink(t, { path: file });
  const signal = new AbortController().signal;
  const medium = Array.from({ length: 300 }, (_, i) => event(i, '字'.repeat(200 + i))); // ~200–500 chars × 3 bytes each: > 64 KB
  const huge = Array.from({ length: 3 }, (_, i) => event(1000 + i, 'x'.repeat(2_000_000) + '😀')); // > 4 MB in one batch
  const small = [event(5000, 'after the huge batch')];
  await sink.writeBatch(medium, signal);
  await sink.writeBatch(huge, signal);
  await sink.writeBatch(small, signal);
  const got = lines(file).map((l) => JSON.parse(l) as CanonicalEvent);
  t.same(
    got.map((e) => e.id),
    [...medium, ...huge, ...small].map((e) => e.id),
  );
  t.same(got[300]!.data.text, huge[0]!.data.text, 'a 2 MB line is intact');
  t.equal(got.at(-1)!.data.text, 'after the huge batch', 'the buffer is sound after a one-off larger batch');
  t.equal(fs.statSync(file).size, [...medium, ...huge, ...small].reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0));
});

t.test('batches written from the 3-bytes-per-character bound and from measured sizes are the same bytes', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'events.ndjson');
  const sink = await makeSink(t, { path: file });
  const signal = new AbortController().signal;
  const batches = [
    Array.from({ length: 40 }, (_, i) => event(i, 'a'.repeat(900))), // bound 3 × ~40 KB > 64 KB, measured size fits
    Array.from({ length: 30 }, (_, i) => event(100 + i, '话'.repeat(3000))), // grows the buffer to its bound
    Array.from({ length: 30 }, (_, i) => event(200 + i, 'ünïcödé 🙂 '.repeat(250))), // fits that bound: written unmeasured
    [event(300, 'x'.repeat(10))],
  ];
  for (const batch of batches) await sink.writeBatch(batch, signal);
  t.equal(fs.readFileSync(file, 'utf8'), batches.flat().map((e) => JSON.stringify(e) + '\n').join(''), 'exact bytes, in order');
});

t.test('batches written concurrently never interleave, and keep their order', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'events.ndjson');
  const sink = await makeSink(t, { path: file });
  const signal = new AbortController().signal;
  const batches = Array.from({ length: 20 }, (_, b) => Array.from({ length: 50 }, (_, i) => event(b * 50 + i, `batch ${b} — ${'é'.repeat(i * 10)}`)));
  await Promise.all(batches.map((batch) => sink.writeBatch(batch, signal)));
  t.same(
    lines(file).map((l) => (JSON.parse(l) as CanonicalEvent).id),
    batches.flat().map((e) => e.id),
  );
});

/**
 * Replaces FileHandle's datasync for the test (to count, or fail, the sink's real calls): `wrap` gets
 * the original and the call's number (1, 2, …).
 */
async function patchDatasync(t: { teardown(fn: () => unknown): void }, dir: string, wrap: (original: () => Promise<void>, call: number) => Promise<void>): Promise<void> {
  const probe = await fs.promises.open(path.join(dir, 'probe'), 'w');
  await probe.close();
  const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
  const original = proto.datasync;
  let calls = 0;
  proto.datasync = function (this: unknown) {
    return wrap(() => original.call(this), ++calls);
  };
  t.teardown(() => {
    proto.datasync = original;
  });
}

t.test('batches that arrive during a write share the next write and its one fdatasync', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'events.ndjson');
  const sink = await makeSink(t, { path: file });
  let syncs = 0;
  await patchDatasync(t, dir, (original, call) => {
    syncs = call;
    return original();
  });
  const signal = new AbortController().signal;
  const batches = Array.from({ length: 20 }, (_, b) => Array.from({ length: 5 }, (_, i) => event(b * 5 + i, `group ${b}/${i}`)));
  await Promise.all(batches.map((batch) => sink.writeBatch(batch, signal)));
  t.equal(syncs, 2, 'the first batch is written at once, the 19 that arrived meanwhile in one more write');
  t.same(lines(file).map((l) => (JSON.parse(l) as CanonicalEvent).id), batches.flat().map((e) => e.id), 'every event once, in order');
  await sink.writeBatch([event(1000, 'alone')], signal);
  t.equal(syncs, 3, 'a batch on an idle sink is written at once, alone');
});

t.test('a failed fdatasync fails every batch that shared it (retriable, with the code); the next write succeeds', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'events.ndjson');
  const sink = await makeSink(t, { path: file });
  // The second fdatasync: that of the write that takes the two batches sent during the first.
  await patchDatasync(t, dir, (original, call) =>
    call === 2 ? Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : original(),
  );
  const signal = new AbortController().signal;
  const first = sink.writeBatch([event(1, 'first')], signal);
  const shared = [sink.writeBatch([event(2, 'second')], signal), sink.writeBatch([event(3, 'third')], signal)];
  await first;
  const outcomes = await Promise.allSettled(shared);
  for (const outcome of outcomes) {
    t.equal(outcome.status, 'rejected', 'a batch of the failed write is not reported delivered');
    const error = (outcome as PromiseRejectedResult).reason as Error & { code?: string };
    t.ok(error instanceof RetriableError, 'retriable: the host tries the batch again');
    t.equal(error.code, 'FILE_EIO');
    t.match(error.message, /EIO/);
  }
  await sink.writeBatch([event(4, 'after')], signal);
  const ids = lines(file).map((l) => (JSON.parse(l) as CanonicalEvent).id);
  t.equal(ids[0], 'evt-1');
  t.equal(ids[ids.length - 1], 'evt-4', 'the sink writes again after a failure, on a fresh handle');
});

t.test('rotates by size: events.ndjson → .1 → .2, oldest beyond max_files deleted, nothing lost in between', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'events.ndjson');
  const sink = await makeSink(t, { path: file, max_file_bytes: 4000, max_files: 2 });
  const signal = new AbortController().signal;
  const all: CanonicalEvent[] = [];
  for (let b = 0; b < 12; b++) {
    const batch = Array.from({ length: 3 }, (_, i) => event(b * 3 + i, `rotation ${b}/${i} ${'ü'.repeat(100)}`));
    all.push(...batch);
    await sink.writeBatch(batch, signal);
  }
  t.notOk(fs.existsSync(`${file}.3`), 'only max_files rotated files are kept');
  for (const f of [file, `${file}.1`, `${file}.2`]) t.ok(fs.statSync(f).size <= 4000, `${path.basename(f)} is within max_file_bytes`);
  const kept = [...lines(`${file}.2`), ...lines(`${file}.1`), ...lines(file)].map((l) => (JSON.parse(l) as CanonicalEvent).id);
  t.same(kept, all.slice(all.length - kept.length).map((e) => e.id), 'the newest events, in order, none missing across files');
});

t.test('a torn last line from a crash is ended before new events are appended', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'events.ndjson');
  fs.writeFileSync(file, '{"id":"complete"}\n{"id":"torn","data":{"te');
  const sink = await makeSink(t, { path: file });
  const e = event(1, 'after the crash');
  await sink.writeBatch([e], new AbortController().signal);
  const got = lines(file);
  t.equal(got.length, 3);
  t.equal(got[1], '{"id":"torn","data":{"te', 'the torn line is kept as it was, and ended');
  t.same(JSON.parse(got[2]!), JSON.parse(JSON.stringify(e)), 'the new event starts on its own line');
});

t.test('conformance kit with its default hostile event (lone surrogates, .., /, NUL, newline in every field): one line each', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'events.ndjson');
  // The file sink names no file after an event field: the hostile event must simply be written, on one line.
  const report = await runSinkConformance(plugin, {
    config: { path: file },
    verify: async () => new Set(lines(file).map((l) => (JSON.parse(l) as CanonicalEvent).id)),
  });
  t.ok(report.passed, formatConformanceReport(report));
  t.match(report.checks.find((c) => c.name.startsWith('a hostile event'))?.detail, /hostile event written/);
  const all = lines(file).map((l) => JSON.parse(l) as CanonicalEvent);
  const hostile = all.find((e) => String(e.data.sender).includes('..'));
  t.ok(hostile, 'the hostile event is in the file');
  t.equal(hostile!.data.sender, '../..\\/\ud800x\u0000\n%2e%2e', 'its fields survive byte for byte, lone surrogate included (JSON escapes it)');
  t.same(fs.readdirSync(dir), ['events.ndjson'], 'no other file created');
});
