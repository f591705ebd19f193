/**
 * The sink runner with transforms: the sink receives the shaped events, and its outcome is mapped
 * back onto the caller's batch — filtered events absent (acknowledged), transform failures fatal
 * items, a partial or whole-batch failure of the sink on the right original indexes.
 */
import path from 'node:path';
import t from 'tap';
import pino from 'pino';
import { Type } from '@sinclair/typebox';
import { SinkRunner } from '../../../src/sink/runner.js';
import { defineSink, eventJson, FatalError, PartialBatchError, RetriableError, type CanonicalEvent } from '../../../src/sink/api.js';
import { sampleEvents } from '../../../src/sink/conformance.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import type { SinkConfig } from '../../../src/config/schema.js';
import { sinkConfig } from '../../helpers/sink-config.js';
import { REPO_ROOT } from '../../helpers/daemon.js';

const DIR = path.join(REPO_ROOT, 'test/fixtures/transforms');

function config(transforms: SinkConfig['transforms']): SinkConfig {
  return sinkConfig({
    name: 'shaped',
    type: 'shaped',
    batch: { max_events: 100, max_bytes: 1024 * 1024, max_wait_ms: 5 },
    retry: { initial_backoff_ms: 5, max_backoff_ms: 50, max_attempts: 10 },
    max_in_flight: 1,
    transforms,
  });
}

async function runnerWith(transforms: SinkConfig['transforms'], write: (events: readonly CanonicalEvent[]) => void) {
  const received: string[][] = [];
  const plugin = defineSink({
    type: 'shaped',
    apiVersion: '1',
    configSchema: Type.Object({}),
    create: () => ({
      async connect() {},
      async writeBatch(events) {
        received.push(events.map((e) => eventJson(e)));
        write(events);
      },
      async close() {},
    }),
  });
  const runner = new SinkRunner('shaped', plugin, config(transforms), pino({ level: 'silent' }), new Metrics({ processMetrics: false }), DIR);
  await runner.connect();
  return { runner, received };
}

t.test('the sink gets the shaped JSON; a plugin step is loaded from the config dir', async (t) => {
  const { runner, received } = await runnerWith([{ drop: 'data.text' }, { plugin: './tenant.mjs', options: { tenant: 'acme' } }], () => undefined);
  const events = sampleEvents(5, 'shape');
  t.same(await runner.write(events), { kind: 'ok' });
  const docs = received[0]!.map((j) => JSON.parse(j));
  t.equal(docs.length, 5);
  t.ok(docs.every((d) => d.data.tenant === 'acme' && !('text' in d.data)));
  t.ok(events.every((e) => 'text' in e.data && !('tenant' in e.data)), 'the caller\'s events are unchanged');
  await runner.close(1000);
});

t.test('sink outcomes are mapped back to the original indexes around failed events', async (t) => {
  const events = sampleEvents(6, 'map');
  let mode: 'partial' | 'retry' | 'fatal' = 'partial';
  const { runner } = await runnerWith([{ plugin: './fail-third.mjs' }], (written) => {
    if (mode === 'partial') throw new PartialBatchError([{ index: 2, retriable: true, code: 'X', message: 'x' }]);
    if (mode === 'retry') throw new RetriableError('down', { code: 'DOWN' });
    throw new FatalError('no', { code: 'NOPE' });
  });
  // fail-third.mjs: index 2 throws, index 4 is filtered (null); written = [0, 1, 3, 5].
  const partial = await runner.write(events);
  t.same(partial, {
    kind: 'partial',
    failures: [
      { index: 2, retriable: false, code: 'TRANSFORM_FAILED', message: 'transform fail_third: third' },
      { index: 3, retriable: true, code: 'X', message: 'x' },
    ],
  }, 'the sink\'s item 2 is the batch\'s event 3; event 4 (filtered) is not listed: acknowledged');
  mode = 'retry';
  const retry = await runner.write(events);
  t.same(retry.kind === 'partial' && retry.failures.map((f) => [f.index, f.retriable, f.code]), [[0, true, 'DOWN'], [1, true, 'DOWN'], [2, false, 'TRANSFORM_FAILED'], [3, true, 'DOWN'], [5, true, 'DOWN']]);
  mode = 'fatal';
  const fatal = await runner.write(events);
  t.same(fatal.kind === 'partial' && fatal.failures.map((f) => [f.index, f.retriable, f.code]), [[0, false, 'NOPE'], [1, false, 'NOPE'], [2, false, 'TRANSFORM_FAILED'], [3, false, 'NOPE'], [5, false, 'NOPE']]);
  await runner.close(1000);
});
