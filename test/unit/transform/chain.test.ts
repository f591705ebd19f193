import t from 'tap';
import pino from 'pino';
import { Type } from '@sinclair/typebox';
import { defineTransform, eventJson, type CanonicalEvent, type TransformPlugin } from '../../../src/sink/api.js';
import { rememberEventJson } from '../../../src/sink/event-json.js';
import { TransformChain } from '../../../src/transform/chain.js';
import type { TransformStepConfig } from '../../../src/transform/schema.js';
import { Metrics } from '../../../src/telemetry/metrics.js';

const logger = pino({ level: 'silent' });

function events(n: number): CanonicalEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const event = {
      specversion: '1.0',
      id: `evt-${i}`,
      type: 'com.tencent.im.Group.CallbackAfterSendMsg',
      source: '/tencent-im/1',
      subject: `group/g${i % 3}`,
      time: '2026-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      imsdkappid: '1',
      imcommand: 'Group.CallbackAfterSendMsg',
      data: { family: 'group', conversation: { kind: 'group', groupId: `g${i % 3}` }, sender: `u${i}`, text: `hello ${i}`, seq: i, receivedAtMs: 1, raw: { n: i } },
    } as CanonicalEvent;
    rememberEventJson(event, JSON.stringify(event));
    return event;
  });
}

const plugins: Record<string, TransformPlugin> = {
  every_tenth: defineTransform({
    type: 'every_tenth',
    apiVersion: '1',
    configSchema: Type.Object({}),
    create: () => (event) => {
      if ((event.data.seq as number) % 10 === 9) throw new Error('boom');
      event.data.touched = true; // in place: the host gave a private copy
      return event;
    },
  }),
  drop_odd: defineTransform({ type: 'drop_odd', apiVersion: '1', configSchema: Type.Object({}), create: () => async (event) => ((event.data.seq as number) % 2 ? null : event) }),
  slow: defineTransform({ type: 'slow', apiVersion: '1', configSchema: Type.Object({}), create: () => (event, ctx) => new Promise((resolve) => { const timer = setTimeout(() => resolve(event), 5000); ctx.signal.addEventListener('abort', () => clearTimeout(timer)); }) }),
  rewrite_id: defineTransform({ type: 'rewrite_id', apiVersion: '1', configSchema: Type.Object({}), create: () => (event) => ({ ...event, id: 'other' }) }),
  forgets_return: defineTransform({ type: 'forgets_return', apiVersion: '1', configSchema: Type.Object({}), create: () => ((() => undefined) as never) }),
  tenant: defineTransform({
    type: 'tenant',
    apiVersion: '1',
    configSchema: Type.Object({ tenant: Type.String() }),
    create: (config) => (event) => ({ ...event, data: { ...event.data, tenant: config.tenant } }),
  }),
};

function chain(steps: TransformStepConfig[], metrics?: Metrics) {
  return new TransformChain('sink-a', steps, '/', logger, metrics, async (module) => plugins[module]!);
}

async function counts(metrics: Metrics) {
  const out: Record<string, number> = {};
  for (const v of (await metrics.transformEvents.get()).values) out[`${v.labels.transform}/${v.labels.outcome}`] = v.value;
  return out;
}

t.test('a plugin that throws on every tenth event fails those alone; the rest pass in order, counted', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  const c = chain([{ drop: 'data.raw' }, { plugin: 'every_tenth' }], metrics);
  await c.start();
  const input = events(30);
  const shaped = await c.apply(input);
  t.same(shaped.failures.map((f) => [f.index, f.code, f.retriable]), [[9, 'TRANSFORM_FAILED', false], [19, 'TRANSFORM_FAILED', false], [29, 'TRANSFORM_FAILED', false]]);
  t.match(shaped.failures[0]!.message, /every_tenth: boom/);
  t.same(shaped.index, input.map((_, i) => i).filter((i) => i % 10 !== 9), 'the others, in order');
  t.ok(shaped.events.every((e) => e.data.touched === true && !('raw' in e.data)));
  t.ok(input.every((e) => !('touched' in e.data) && 'raw' in e.data), 'the stored events are unchanged');
  t.same(JSON.parse(eventJson(shaped.events[0]!)), shaped.events[0], 'eventJson of a transformed event is its own JSON, not the stored one');
  t.equal(eventJson(input[0]!), JSON.stringify(input[0]), 'the stored event keeps its stored JSON');
  t.same(await counts(metrics), { 'drop#0/passed': 30, 'every_tenth/passed': 27, 'every_tenth/failed': 3 });
  const again = await c.apply(input);
  t.same(again.events.map((e) => eventJson(e)), shaped.events.map((e) => eventJson(e)), 'applied again identically (redelivery, replay)');
});

t.test('null filters the event out (counted); async plugins are awaited', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  const c = chain([{ plugin: 'drop_odd', name: 'odd' }, { plugin: 'tenant', options: { tenant: 'acme' } }], metrics);
  await c.start();
  const shaped = await c.apply(events(10));
  t.equal(shaped.filtered, 5);
  t.same(shaped.index, [0, 2, 4, 6, 8]);
  t.ok(shaped.events.every((e) => e.data.tenant === 'acme'));
  t.same(await counts(metrics), { 'odd/passed': 5, 'odd/filtered': 5, 'tenant/passed': 5 });
});

t.test('a deadline, an id change and a result that is not an event each fail the event with a code', async (t) => {
  const cases: Array<[TransformStepConfig, string]> = [
    [{ plugin: 'slow', timeout_ms: 50 }, 'TRANSFORM_TIMEOUT'],
    [{ plugin: 'rewrite_id' }, 'TRANSFORM_IMMUTABLE_CHANGED'],
    [{ plugin: 'forgets_return' }, 'TRANSFORM_BAD_RESULT'],
  ];
  for (const [step, code] of cases) {
    const c = chain([step]);
    await c.start();
    const started = Date.now();
    const shaped = await c.apply(events(3));
    t.same(shaped.failures.map((f) => f.code), [code, code, code], code);
    t.equal(shaped.events.length, 0);
    if (code === 'TRANSFORM_TIMEOUT') t.ok(Date.now() - started < 2000, 'the batch waited for the deadline, not for the plugin');
  }
});

t.test('declarative-only chains are synchronous and keep unchanged events as they are', async (t) => {
  const c = chain([{ drop: 'data.nothing' }]);
  const input = events(2);
  const shaped = c.apply(input);
  t.notOk(shaped instanceof Promise);
  t.equal((shaped as { events: CanonicalEvent[] }).events[0], input[0], 'same object: its stored JSON is reused');
});

t.test('several declarative steps on one event copy once and still never change the stored event', async (t) => {
  const c = chain([
    { redact: ['data.text'] },
    { hash: 'data.sender', key: 'k' },
    { rename: { 'data.seq': 'data.position' } },
    { set: { 'data.meta.tenant': 'acme', 'data.meta.app': '{{imsdkappid}}' } },
    { drop: ['data.raw', 'data.conversation.groupId'] },
  ]);
  const input = events(20);
  const before = input.map((e) => JSON.stringify(e));
  const first = (c.apply(input) as { events: CanonicalEvent[] }).events.map((e) => eventJson(e));
  const second = (c.apply(input) as { events: CanonicalEvent[] }).events.map((e) => eventJson(e));
  t.same(second, first, 'same output twice');
  t.same(input.map((e) => JSON.stringify(e)), before, 'inputs unchanged');
  const one = JSON.parse(first[3]!);
  t.equal(one.data.text, '[REDACTED]');
  t.equal(one.data.position, 3);
  t.notOk('seq' in one.data);
  t.same(one.data.meta, { tenant: 'acme', app: '1' });
  t.same(one.data.conversation, { kind: 'group' });
  t.same(input[3]!.data.conversation, { kind: 'group', groupId: 'g0' }, 'nested objects of the stored event untouched');
});
