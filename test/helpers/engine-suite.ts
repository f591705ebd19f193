/**
 * The delivery engine's behaviour suite (src/delivery/engine.ts), written once against the
 * QueueBackend interface and run unchanged on every backend: in memory and local SQLite in
 * test/unit/delivery/engine.test.ts, a real Kafka in test/integration/kafka/engine.test.ts.
 * A backend harness only says how to open a fresh queue and how to look at what it holds.
 */
import pino from 'pino';
import { Type } from '@sinclair/typebox';
import type { Test } from 'tap';
import { DeliveryEngine } from '../../src/delivery/engine.js';
import type { QueueBackend } from '../../src/queue/queue.js';
import { SinkRunner } from '../../src/sink/runner.js';
import { defineSink, FatalError, PartialBatchError, RetriableError, type CanonicalEvent, type ItemFailure, type Sink } from '../../src/sink/api.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { sinkConfig } from './sink-config.js';
import { waitFor } from './daemon.js';

export { sinkConfig };

const logger = pino({ level: 'silent' });

export interface DeadLetterView {
  eventId: string | null;
  errorCode: string;
  error: string;
  attempts: number;
}

/** One fresh queue of a backend, and how a test looks into it. */
export interface EngineHarness {
  queue: QueueBackend;
  /** Events of the sink's backlog not yet delivered or dead-lettered (as the backend counts them). */
  remaining(): Promise<number>;
  deadLetters(sink: string): Promise<DeadLetterView[]>;
  /** Reads of the backlog in flight (0 where the backend has no such reads). */
  readsInFlight(): number;
  close(): Promise<void>;
}

export type OpenHarness = () => Promise<EngineHarness>;


/** A real plugin whose writeBatch behaviour the test decides. */
function testPlugin(write: (events: readonly CanonicalEvent[]) => Promise<void>) {
  return defineSink({
    type: 'test',
    apiVersion: '1',
    configSchema: Type.Object({}),
    create(): Sink {
      return { async connect() {}, writeBatch: (events) => write(events), async close() {} };
    },
  });
}

export function engineSuite(suite: Test, open: OpenHarness): void {
  async function setup(t: Test, write: (events: readonly CanonicalEvent[]) => Promise<void>, config = sinkConfig()) {
    const harness = await open();
    const metrics = new Metrics({ processMetrics: false });
    const runner = new SinkRunner('test', testPlugin(write), config, logger, metrics, '/tmp');
    const engine = new DeliveryEngine(harness.queue.source('test', { logger }), runner, logger, metrics);
    engine.start();
    t.teardown(async () => {
      await engine.stop(Date.now() + 2000);
      await harness.close();
    });
    const enqueue = async (n: number, subjects: number, offset = 0) => {
      const appended = await Promise.all(
        Array.from({ length: n }, (_, k) => {
          const i = k + offset;
          const event = { id: `e${i}`, subject: `group/g${i % subjects}`, seq: i };
          return harness.queue.append({ id: event.id, subject: event.subject, body: JSON.stringify(event), sinks: ['test'] });
        }),
      );
      return appended;
    };
    return { harness, engine, metrics, enqueue, readsInFlight: () => harness.readsInFlight() };
  }

  suite.test('delivers everything, per-subject order holds under random retriable failures', async (t: Test) => {
    const received: Array<{ id: string; subject: string; seq: number }> = [];
    let calls = 0;
    const { harness, engine: dispatcher, enqueue } = await setup(t, async (events) => {
      calls++;
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      if (Math.random() < 0.3) throw new RetriableError('flaky', { code: 'FLAKY' });
      for (const e of events) received.push(e as unknown as { id: string; subject: string; seq: number });
    });
    await enqueue(2000, 25);
    await waitFor(() => dispatcher.stats().delivered, (n) => n === 2000, 60_000);
    t.equal(received.length, 2000, 'every event delivered exactly once (no partial success in this sink)');
    t.equal(new Set(received.map((e) => e.id)).size, 2000);
    const bySubject = new Map<string, number[]>();
    for (const e of received) bySubject.set(e.subject, [...(bySubject.get(e.subject) ?? []), e.seq]);
    for (const [subject, seqs] of bySubject) t.same(seqs, [...seqs].sort((a, b) => a - b), `${subject} in order`);
    t.ok(dispatcher.stats().retried > 0, `retries happened (${dispatcher.stats().retried})`);
    t.ok(calls > 2000 / 20, 'batched');
    await waitFor(() => harness.remaining(), (n) => n === 0, 60_000);
  });

  suite.test('different conversations proceed while one is stuck retrying', async (t: Test) => {
    const delivered: string[] = [];
    const { engine: dispatcher, enqueue } = await setup(t, async (events) => {
      const failures = [];
      for (let i = 0; i < events.length; i++) {
        if (events[i]!.subject === 'group/g0') failures.push({ index: i, retriable: true, code: 'STUCK', message: 'g0 is stuck' });
        else delivered.push(events[i]!.id);
      }
      if (failures.length) throw new PartialBatchError(failures);
    });
    await enqueue(300, 3);
    // The dispatcher counts a delivery once its ack is committed, after writeBatch returned: wait for
    // both counts (sampling stats() right after the plugin's count raced with that commit).
    await waitFor(() => [delivered.length, dispatcher.stats().delivered], ([sent, counted]) => sent === 200 && counted === 200, 60_000);
    t.equal(dispatcher.stats().delivered, 200, 'g1 and g2 delivered, g0 held back');
    t.equal(delivered.length, 200, 'nothing of g0 delivered');
    // g0 keeps failing: it is waiting for a retry or being attempted again. Waited for, not sampled:
    // on a shared queue a rebalance can revoke and re-fetch it, for a moment neither of the two.
    const held = await waitFor(() => dispatcher.stats(), (s) => s.waitingRetry > 0 || s.inFlight > 0, 60_000);
    t.ok(held.waitingRetry > 0 || held.inFlight > 0, `g0 is retried (waiting ${held.waitingRetry}, in flight ${held.inFlight})`);
    t.equal(delivered.length, 200, 'and still nothing of it delivered');
  });

  suite.test('a sink that fails everything: batch building stays cheap as commits keep coming', async (t: Test) => {
    // Regression: every commit made pump() scan the whole window of held events once per lane,
    // and ingest fell to ~80 requests/s while a webhook sink was down.
    let attempts = 0;
    const { engine: dispatcher, enqueue } = await setup(
      t,
      async () => {
        attempts++;
        throw new RetriableError('down', { code: 'DOWN' });
      },
      sinkConfig({ retry: { initial_backoff_ms: 50, max_backoff_ms: 200, max_attempts: 1_000_000 } }),
    );
    for (let round = 0; round < 40; round++) await enqueue(100, 20, round * 100);
    await waitFor(() => dispatcher.stats().window, (n) => n === 2000, 60_000); // the window limit here
    const before = dispatcher.stats().examined;
    for (let round = 40; round < 140; round++) await enqueue(50, 20, round * 100);
    await new Promise((r) => setTimeout(r, 300));
    const examined = dispatcher.stats().examined - before;
    t.ok(attempts > 0, 'the sink was tried');
    t.equal(dispatcher.stats().delivered, 0);
    // 100 commits over a window of 2,000 held events: a scan per commit and lane would be ≥ 800k.
    t.ok(examined < 50_000, `events examined while building batches: ${examined}`);
  });

  suite.test('a failing sink with a window full by bytes: no fill/pump loop, reads stay bounded', async (t: Test) => {
    // Regression: pump() asked fill() for more while the window was full by bytes (not by count);
    // fill() read nothing and pumped again, synchronously, until the stack overflowed.
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    t.teardown(() => void process.off('unhandledRejection', onRejection));
    const { harness, engine: dispatcher, readsInFlight } = await setup(
      t,
      async () => {
        throw new RetriableError('down', { code: 'DOWN' });
      },
      sinkConfig({ retry: { initial_backoff_ms: 50, max_backoff_ms: 200, max_attempts: 1_000_000 } }),
    );
    const pad = 'x'.repeat(40_000);
    const append = (i: number) => harness.queue.append({ id: `e${i}`, subject: `group/g${i % 20}`, body: JSON.stringify({ id: `e${i}`, pad }), sinks: ['test'] });
    for (let round = 0; round < 12; round++) await Promise.all(Array.from({ length: 50 }, (_, k) => append(round * 50 + k)));
    // Sampled once no read is in flight: a window sampled while fill() was still reading (a busy
    // machine) grew afterwards and failed 'nothing more read while full' below.
    const { window } = await waitFor(() => ({ window: dispatcher.stats().window, reading: readsInFlight() }), (s) => s.window > 300 && s.reading === 0, 60_000);
    t.ok(window < 600, `window bounded by bytes (16 MiB / 40 KB ≈ 420 events): ${window}`);
    const fillsBefore = dispatcher.stats().fills;
    for (let round = 12; round < 30; round++) await Promise.all(Array.from({ length: 20 }, (_, k) => append(round * 50 + k)));
    await new Promise((r) => setTimeout(r, 300));
    const fills = dispatcher.stats().fills - fillsBefore;
    t.ok(fills < 1000, `refills while full: ${fills} (the loop made hundreds of thousands)`);
    t.same(rejections, [], 'no unhandled rejection (RangeError: Maximum call stack size exceeded)');
    t.equal(dispatcher.stats().window, window, 'nothing more read while full');
  });

  suite.test('held-back events (notAttempted) are not dead-lettered for attempts they never got', async (t: Test) => {
    const delivered: string[] = [];
    const { engine: dispatcher, enqueue } = await setup(
      t,
      async (events) => {
        const failures: ItemFailure[] = [];
        let blocked = false;
        events.forEach((event, index) => {
          if (blocked) failures.push({ index, retriable: true, code: 'HELD', message: 'held back behind e0', notAttempted: true });
          else if (event.id === 'e0') {
            blocked = true;
            failures.push({ index, retriable: true, code: 'BAD', message: 'e0 always fails' });
          } else delivered.push(event.id);
        });
        if (failures.length) throw new PartialBatchError(failures);
      },
      sinkConfig({ retry: { initial_backoff_ms: 5, max_backoff_ms: 20, max_attempts: 3 } }),
    );
    await enqueue(5, 1); // one conversation: e0 … e4
    const stats = await waitFor(() => dispatcher.stats(), (s) => s.deadLettered + s.delivered === 5, 60_000);
    t.equal(stats.deadLettered, 1, 'only e0, after its 3 attempts');
    t.same(delivered, ['e1', 'e2', 'e3', 'e4'], 'the held-back events were sent once e0 was out of the way, in order');
  });

  suite.test('partial batch: fatal items dead-lettered, retriable items retried, the rest acked once', async (t: Test) => {
    const seen = new Map<string, number>();
    const { harness, engine: dispatcher, enqueue } = await setup(t, async (events) => {
      const failures = [];
      for (let i = 0; i < events.length; i++) {
        const id = events[i]!.id;
        seen.set(id, (seen.get(id) ?? 0) + 1);
        if (id === 'e7') failures.push({ index: i, retriable: false, code: 'TOO_LARGE', message: 'record too large' });
        else if (id === 'e8' && seen.get(id)! < 3) failures.push({ index: i, retriable: true, code: 'BUSY', message: 'busy' });
      }
      if (failures.length) throw new PartialBatchError(failures);
    });
    await enqueue(40, 40);
    await waitFor(() => dispatcher.stats().delivered + dispatcher.stats().deadLettered, (n) => n === 40, 60_000);
    t.equal(dispatcher.stats().deadLettered, 1);
    t.equal(seen.get('e8'), 3, 'retriable item retried until it passed');
    t.equal(seen.get('e1'), 1, 'delivered items not sent again');
    const dead = await harness.deadLetters('test');
    t.match(dead, [{ eventId: 'e7', errorCode: 'TOO_LARGE', error: 'record too large', attempts: 1 }]);
  });

  suite.test('fatal batch and exhausted retries go to the dead-letter store with codes', async (t: Test) => {
    const { harness, engine: dispatcher, enqueue } = await setup(
      t,
      async (events) => {
        if (events[0]!.subject === 'group/g0') throw new FatalError('forbidden', { code: 'AUTH' });
        throw new RetriableError('down', { code: 'DOWN' });
      },
      sinkConfig({ retry: { initial_backoff_ms: 1, max_backoff_ms: 5, max_attempts: 3 }, batch: { max_events: 1, max_bytes: 1e6, max_wait_ms: 0 } }),
    );
    await enqueue(4, 2);
    await waitFor(() => dispatcher.stats().deadLettered, (n) => n === 4, 60_000);
    const dead = await harness.deadLetters('test');
    const codes = dead.map((d) => d.errorCode).sort();
    t.same(codes, ['AUTH', 'AUTH', 'RETRIES_EXHAUSTED:DOWN', 'RETRIES_EXHAUSTED:DOWN']);
    t.ok(dead.filter((d) => d.errorCode.startsWith('RETRIES')).every((d) => d.attempts === 3), 'attempts recorded');
    t.equal(await waitFor(() => harness.remaining(), (n) => n === 0, 60_000), 0, 'dead-lettered events leave the backlog');
  });

  suite.test('a plugin that hangs is timed out and retried; one that throws junk is contained', async (t: Test) => {
    let n = 0;
    const { engine: dispatcher, enqueue, metrics } = await setup(
      t,
      async () => {
        n++;
        if (n === 1) return new Promise<void>(() => undefined); // hangs forever
        if (n === 2) throw 'a string, not an Error'; // eslint-disable-line no-throw-literal
      },
      sinkConfig({ write_timeout_ms: 200 }),
    );
    await enqueue(5, 1);
    await waitFor(() => dispatcher.stats().delivered, (d) => d === 5, 60_000);
    const retried = await metrics.retried.get();
    const codes = retried.values.map((v) => v.labels.code).sort();
    // The junk fails the whole batch of 5 unclassified: the runner writes the 5 one by one in the same
    // attempt (they all succeed), so no event pays a retry for it.
    t.same(codes, ['SINK_TIMEOUT']);
    const isolated = (await metrics.pluginEvents.get()).values.find((v) => v.labels.name === 'batches_isolated');
    t.equal(isolated?.value, 1, 'the batch was isolated once');
    t.equal(n, 7, 'hang, junk, then five single writes');
  });

  suite.test('wall-clock jumps (an hour back, then forward) neither stall nor rush delivery', async (t: Test) => {
    const realNow = Date.now;
    let offset = 0;
    Date.now = () => realNow() + offset;
    t.teardown(() => {
      Date.now = realNow;
    });
    const delivered: string[] = [];
    // A partial batch lingers max_wait_ms; the clock jumps while it waits.
    const { engine: dispatcher, enqueue } = await setup(
      t,
      async (events) => {
        for (const e of events) delivered.push(e.id);
      },
      sinkConfig({ batch: { max_events: 100, max_bytes: 1e6, max_wait_ms: 300 } }),
    );
    await enqueue(3, 3);
    offset = -3_600_000;
    await waitFor(() => delivered.length, (n) => n === 3, 60_000);
    await enqueue(3, 3, 3);
    offset = 3_600_000;
    await waitFor(() => delivered.length, (n) => n === 6, 60_000);
    await waitFor(() => dispatcher.stats().delivered, (n) => n === 6, 60_000);
    t.equal(new Set(delivered).size, 6, 'each event once');
  });
}
