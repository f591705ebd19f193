/**
 * The runner's isolation pass: a batch that fails with an unclassified error is written again one
 * event at a time, so a poison event fails alone; a failure that is not about one event (every single
 * write fails too) stops the pass after two writes instead of paying one per event.
 */
import t from 'tap';
import pino from 'pino';
import { Type } from '@sinclair/typebox';
import { SinkRunner } from '../../../src/sink/runner.js';
import { defineSink, type CanonicalEvent } from '../../../src/sink/api.js';
import { sampleEvents } from '../../../src/sink/conformance.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import { sinkConfig } from '../../helpers/sink-config.js';

const config = sinkConfig({
  name: 'iso',
  type: 'iso',
  batch: { max_events: 100, max_bytes: 1024 * 1024, max_wait_ms: 5 },
  retry: { initial_backoff_ms: 5, max_backoff_ms: 50, max_attempts: 10 },
  max_in_flight: 1,
});

async function runnerWith(write: (events: readonly CanonicalEvent[]) => void) {
  const calls: number[] = [];
  const plugin = defineSink({
    type: 'iso',
    apiVersion: '1',
    configSchema: Type.Object({}),
    create: () => ({
      async connect() {},
      async writeBatch(events) {
        calls.push(events.length);
        write(events);
      },
      async close() {},
    }),
  });
  const metrics = new Metrics();
  const runner = new SinkRunner('iso', plugin, config, pino({ level: 'silent' }), metrics, process.cwd());
  await runner.connect();
  return { runner, calls, metrics };
}

t.test('a poison event that makes the plugin throw a TypeError for its whole batch fails alone', async (t) => {
  const events = sampleEvents(10, 'iso');
  events[4]!.data.text = 'POISON';
  const delivered: string[] = [];
  const { runner, calls } = await runnerWith((batch) => {
    if (batch.some((e) => e.data.text === 'POISON')) throw new TypeError('cannot encode');
    for (const e of batch) delivered.push(e.id);
  });
  const outcome = await runner.write(events);
  t.equal(outcome.kind, 'partial');
  const failures = outcome.kind === 'partial' ? outcome.failures : [];
  const poisonSubject = events[4]!.subject;
  const heldBack = events.map((e, i) => [e, i] as const).filter(([e, i]) => i > 4 && e.subject === poisonSubject).map(([, i]) => i);
  t.same(failures.filter((f) => !f.notAttempted).map((f) => [f.index, f.code, f.retriable]), [[4, 'SINK_UNEXPECTED_ERROR', true]], 'only the poison failed, with the code');
  t.same(failures.filter((f) => f.notAttempted).map((f) => f.index), heldBack, 'later events of its subject held back, not attempted');
  t.equal(delivered.length, 10 - 1 - heldBack.length, 'every other event delivered in the same attempt');
  t.same(calls, [10, ...Array(10 - heldBack.length).fill(1)], 'one batch write, then one write per event');
});

t.test('every single write failing too: the pass stops after two, the rest is not attempted', async (t) => {
  const events = sampleEvents(50, 'broken');
  const { runner, calls } = await runnerWith(() => {
    throw new TypeError('socket is broken');
  });
  const outcome = await runner.write(events);
  t.equal(outcome.kind, 'partial');
  const failures = outcome.kind === 'partial' ? outcome.failures : [];
  t.equal(failures.length, 50, 'all 50 come back');
  t.equal(failures.filter((f) => !f.notAttempted).length, 2, 'two attempted');
  t.ok(failures.every((f) => f.retriable), 'all retriable');
  t.same(calls, [50, 1, 1], 'one batch write and two single writes, not fifty');
  t.equal(runner.state, 'failing', 'the sink shows failing');
});

t.test('a classified failure is not isolated', async (t) => {
  const { runner, calls } = await runnerWith(() => {
    const error = new Error('down');
    error.name = 'RetriableError';
    throw error;
  });
  const outcome = await runner.write(sampleEvents(5, 'classified'));
  t.equal(outcome.kind, 'retry');
  t.same(calls, [5]);
});
