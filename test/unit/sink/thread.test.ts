/**
 * `thread: true`: a real custom plugin (test/fixtures/plugins/thread-probe.mjs) run in a worker
 * thread behind the proxy, compared with the same plugin run in-process: the host must not be
 * able to tell the difference (error classes, codes, partial failures, aborts, counters, logs),
 * except that the work happens in another thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import t from 'tap';
import { FatalError, PartialBatchError, RetriableError, type CanonicalEvent, type Sink, type SinkPlugin } from '../../../src/sink/api.js';
import { groupEvent } from '../../helpers/events.js';
import { classify } from '../../../src/sink/runner.js';
import { threadedPlugin } from '../../../src/sink/thread.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { REPO_ROOT, tempDir } from '../../helpers/daemon.js';

const PROBE_URL = pathToFileURL(path.join(REPO_ROOT, 'test/fixtures/plugins/thread-probe.mjs')).href;

async function loadProbe(): Promise<SinkPlugin> {
  return ((await import(PROBE_URL)) as { default: SinkPlugin }).default;
}

interface Harness {
  sink: Sink;
  dir: string;
  logs: Array<Record<string, unknown>>;
  counts: Map<string, number>;
  lifetime: AbortController;
  writes(): Array<{ ids?: string[]; storedJson?: boolean; isMainThread?: boolean; threadId?: number; closed?: boolean }>;
}

async function start(t: { teardown(fn: () => unknown): void }, threaded: boolean, extra: Record<string, unknown> = {}): Promise<Harness> {
  const probe = await loadProbe();
  const plugin = threaded ? threadedPlugin(probe, PROBE_URL) : probe;
  const dir = tempDir('thread-probe-');
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const counts = new Map<string, number>();
  const lifetime = new AbortController();
  const sink = await plugin.create({ dir, ...extra } as never, {
    name: 'probe',
    logger: createLogger('info', destination).child({ sink: 'probe' }),
    signal: lifetime.signal,
    configDir: dir,
    count: (metric, value = 1) => counts.set(metric, (counts.get(metric) ?? 0) + value),
  });
  await sink.connect(new AbortController().signal);
  let closed = false;
  t.teardown(async () => {
    if (!closed) await sink.close();
  });
  const close = sink.close.bind(sink);
  sink.close = async () => {
    closed = true;
    await close();
  };
  const writes = () =>
    fs.existsSync(path.join(dir, 'writes.ndjson'))
      ? fs
          .readFileSync(path.join(dir, 'writes.ndjson'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as ReturnType<Harness['writes']>[number])
      : [];
  return { sink, dir, logs, counts, lifetime, writes };
}

const event = (n: number, text: string): CanonicalEvent => groupEvent({ id: `probe-${n}`, groupId: `g${n % 3}`, seq: n, text });

const signal = () => new AbortController().signal;

async function outcome(sink: Sink, events: CanonicalEvent[]) {
  try {
    await sink.writeBatch(events, signal());
    return { kind: 'ok' as const };
  } catch (error) {
    return classify(error, events.length);
  }
}

t.test('writes run in another thread, with the stored JSON; counters and log lines reach the host', async (t) => {
  const h = await start(t, true);
  await h.sink.writeBatch([event(1, 'a'), event(2, 'ü 你好 👍')], signal());
  await h.sink.writeBatch([event(3, 'b')], signal());
  const writes = h.writes();
  t.same(
    writes.map((w) => w.ids),
    [['probe-1', 'probe-2'], ['probe-3']],
  );
  t.ok(writes.every((w) => w.isMainThread === false), 'the plugin ran in a worker thread');
  t.ok(writes.every((w) => w.storedJson === true), 'eventJson() returns the stored JSON in the thread');
  t.equal(h.counts.get('probe_batches'), 2, 'ctx.count reaches the host');
  t.equal(h.counts.get('probe_events'), 3);
  const created = h.logs.find((l) => l.code === 'PROBE_CREATED');
  t.ok(created, "the plugin's log line reaches the host's log destination");
  t.equal(created?.sink, 'probe', 'with the host bindings');
  t.equal(created?.token, '[redacted]', 'and the same redaction');
});

t.test('every error class the host knows crosses the thread with the same meaning as in-process', async (t) => {
  const inProcess = await start(t, false);
  const threaded = await start(t, true);
  const cases: Array<[string, CanonicalEvent[]]> = [
    ['fatal', [event(1, 'fatal')]],
    ['retry', [event(1, 'retry')]],
    ['plain Error', [event(1, 'plain')]],
    ['partial', [event(1, 'ok'), event(2, 'partial'), event(3, 'ok'), event(4, 'partial')]],
    ['ok', [event(1, 'ok')]],
  ];
  for (const [name, events] of cases) {
    t.same(await outcome(threaded.sink, events), await outcome(inProcess.sink, events), `${name}: same outcome`);
  }
  t.same(await outcome(threaded.sink, [event(1, 'retry')]), { kind: 'retry', code: 'PROBE_RETRY', message: 'probe: retry later', retryAfterMs: 1234 });
  // A SinkError subclass of the plugin's own is retriable with its code, as in a daemon where the
  // plugin and the host share one im-bridge/sink (here the probe imports dist/, the test src/, so
  // the in-process instanceof cannot be compared).
  t.same(await outcome(threaded.sink, [event(1, 'custom')]), { kind: 'retry', code: 'PROBE_CUSTOM', message: 'probe: custom sink error' });
  await t.rejects(threaded.sink.writeBatch([event(1, 'fatal')], signal()), FatalError);
  await t.rejects(threaded.sink.writeBatch([event(1, 'retry')], signal()), RetriableError);
  const partial = await threaded.sink.writeBatch([event(1, 'ok'), event(2, 'partial')], signal()).catch((e: unknown) => e);
  t.ok(partial instanceof PartialBatchError, 'a PartialBatchError instance');
  t.same((partial as PartialBatchError).failures, [{ index: 1, retriable: false, code: 'PROBE_PARTIAL', message: 'probe: this one' }]);
});

t.test("the host's abort reaches the write in the thread", async (t) => {
  const h = await start(t, true);
  const controller = new AbortController();
  // Order, not time: the write must still be pending when the host aborts it (it hangs until then),
  // and it rejects with the error the plugin raises from its abort listener in the thread. If the
  // abort did not reach the thread, the write would never settle (the test times out).
  let settled = false;
  let settledBeforeAbort: boolean | undefined;
  const write = h.sink.writeBatch([event(1, 'hang')], controller.signal);
  write.then(
    () => (settled = true),
    () => (settled = true),
  );
  setTimeout(() => {
    settledBeforeAbort = settled;
    controller.abort(new Error('write timeout'));
  }, 100);
  await t.rejects(write, { name: 'AbortError', message: 'probe: aborted' });
  t.equal(settledBeforeAbort, false, 'the write was still pending when the host aborted it');
  await h.sink.writeBatch([event(2, 'ok')], signal());
  t.same(h.writes().at(-1)?.ids, ['probe-2'], 'the thread goes on after an aborted write');
});

t.test('create() failing in the thread rejects with the plugin error; healthcheck and close go through', async (t) => {
  const probe = await loadProbe();
  const dir = tempDir('thread-probe-');
  const failed = await Promise.resolve(
    threadedPlugin(probe, PROBE_URL).create({ dir, fail_create: true } as never, {
      name: 'probe',
      logger: createLogger('silent'),
      signal: signal(),
      configDir: dir,
      count: () => undefined,
    }),
  ).catch((e: unknown) => e);
  t.ok(failed instanceof FatalError, 'FatalError from create()');
  t.equal((failed as FatalError).code, 'PROBE_BAD_CONFIG');

  const h = await start(t, true);
  await h.sink.healthcheck!(signal());
  fs.writeFileSync(path.join(h.dir, 'unhealthy'), '');
  await t.rejects(h.sink.healthcheck!(signal()), { message: 'probe: unhealthy' });
  await h.sink.close();
  t.same(h.writes().at(-1), { closed: true }, "the plugin's close() ran (it flushes there)");
  t.same(await outcome(h.sink, [event(1, 'ok')]), { kind: 'retry', code: 'SINK_THREAD_EXITED', message: 'sink probe is closed' }, 'a closed sink answers at once, retriable');
});

t.test('a thread that dies fails its pending writes (retriable), and the next write starts a new thread', async (t) => {
  const h = await start(t, true);
  await h.sink.writeBatch([event(1, 'before')], signal());
  const result = await outcome(h.sink, [event(2, 'crash')]);
  t.equal(result.kind, 'retry', 'the pending write fails as retriable: the host retries it, never dead-letters it for the crash');
  t.match(result, { code: 'SINK_THREAD_EXITED', message: /crashed its thread/ });
  await h.sink.writeBatch([event(3, 'after')], signal());
  const writes = h.writes().filter((w) => w.ids);
  t.same(
    writes.map((w) => w.ids),
    [['probe-1'], ['probe-2'], ['probe-3']],
  );
  t.not(writes[2]!.threadId, writes[0]!.threadId, 'the write after the crash ran in a new thread');
  t.equal(h.logs.filter((l) => l.code === 'SINK_THREAD_EXITED').length, 1, 'the crash is logged once');
  t.match(h.logs.find((l) => l.code === 'SINK_THREAD_EXITED'), { level: 'error', sink: 'probe', err: /crashed its thread/ });
  t.ok(h.logs.some((l) => l.code === 'SINK_THREAD_RESTARTED'), 'and the restart');
  t.equal(h.logs.filter((l) => l.code === 'PROBE_CREATED').length, 2, 'the plugin instance was created again in the new thread');
});
