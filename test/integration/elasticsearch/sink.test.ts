/**
 * The elasticsearch plugin against the real test node, driven directly (no daemon): template
 * install, bulk writes, per-item mapping errors, op_type create, health, and a 413 split through an
 * injected-fault proxy.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import pino from 'pino';
import { Ajv } from 'ajv';
import plugin, { configSchema, type ElasticsearchSinkConfig } from '../../../plugins/elasticsearch/index.js';
import { PartialBatchError, RetriableError, type CanonicalEvent, type Sink } from '../../../src/sink/api.js';
import { normalize } from '../../../src/normalize/index.js';
import { elasticsearchUrl, requireService, uniqueName } from '../../helpers/services.js';

const ES = elasticsearchUrl();
const counts = new Map<string, number>();
const ctx = {
  name: 'es',
  logger: pino({ level: 'silent' }),
  signal: new AbortController().signal,
  configDir: process.cwd(),
  count: (metric: string, value = 1) => counts.set(metric, (counts.get(metric) ?? 0) + value),
};

function config(options: Record<string, unknown>): ElasticsearchSinkConfig {
  const validate = new Ajv({ useDefaults: true, strict: false }).compile(configSchema);
  const copy = structuredClone(options);
  if (!validate(copy)) throw new Error(JSON.stringify(validate.errors));
  return copy as ElasticsearchSinkConfig;
}

async function es(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(ES + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

async function open(options: Record<string, unknown>): Promise<Sink> {
  const sink = await plugin.create(config(options), ctx);
  await sink.connect(AbortSignal.timeout(30_000));
  return sink;
}

function ev(command: string, body: Record<string, unknown>): CanonicalEvent {
  return normalize({ CallbackCommand: command, ...body }, { sdkAppId: '1400000000', command, receivedAtMs: Date.now() }, { includeRaw: true });
}

/**
 * One event per distinct id of the callback fixtures. Two fixtures are Tencent's same group-message
 * sample (GroupId + MsgSeq): one id, as a redelivery would be, so it counts once here.
 */
function fixtureEvents(): CanonicalEvent[] {
  const dir = new URL('../../fixtures/callbacks/', import.meta.url);
  const byId = new Map<string, CanonicalEvent>();
  for (const f of readdirSync(dir).filter((name) => name.endsWith('.json')).sort()) {
    const fx = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { query: Record<string, string>; body: Record<string, unknown> };
    const event = normalize(fx.body, { sdkAppId: fx.query.SdkAppid!, command: fx.query.CallbackCommand!, receivedAtMs: Date.now() }, { includeRaw: true });
    if (!byId.has(event.id)) byId.set(event.id, event);
  }
  return [...byId.values()];
}

/** Unknown command whose custom top-level field is first a number, then an object. */
function conflicting(prefix: string): CanonicalEvent[] {
  return [
    ev('Bot.CallbackCustomThing', { GroupId: `@TGS#${prefix}`, Marker: `${prefix}-a`, Custom: 5, EventTime: 1767225600001 }),
    ev('Bot.CallbackCustomThing', { GroupId: `@TGS#${prefix}`, Marker: `${prefix}-b`, Custom: { nested: true }, EventTime: 1767225600002 }),
    ev('Bot.CallbackCustomThing', { GroupId: `@TGS#${prefix}`, Marker: `${prefix}-c`, Custom: 7, EventTime: 1767225600003 }),
    ev('Group.CallbackAfterGroupInfoChanged', { GroupId: `@TGS#${prefix}`, Type: 'Public', Operator_Account: 'u1', Extra: 'text', EventTime: 1767225600004 }),
    ev('Group.CallbackAfterGroupInfoChanged', { GroupId: `@TGS#${prefix}`, Type: 'Public', Operator_Account: 'u1', Extra: { deep: [1, 2] }, EventTime: 1767225600005 }),
  ];
}

t.test('template, bulk write, search, re-write is idempotent', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const prefix = uniqueName('es-sink');
  const sink = await open({ nodes: [ES], index: `${prefix}-{{yyyy.MM}}`, template: { name: prefix, priority: 300, number_of_replicas: 0 } });
  t.teardown(async () => {
    await sink.close();
    await es('DELETE', `/${prefix}-*`);
    await es('DELETE', `/_index_template/${prefix}`);
  });
  const template = await es('GET', `/_index_template/${prefix}`);
  t.same(template.index_templates[0].index_template.index_patterns, [`${prefix}-*`]);
  t.equal(template.index_templates[0].index_template.priority, 300);

  const events = fixtureEvents();
  await sink.writeBatch(events, AbortSignal.timeout(30_000));
  await sink.writeBatch(events, AbortSignal.timeout(30_000));
  await es('POST', `/${prefix}-*/_refresh`);
  const count = await es('GET', `/${prefix}-*/_count`);
  t.equal(count.count, events.length, 'one document per event, even written twice');

  const mapping = await es('GET', `/${prefix}-*/_mapping`);
  const props = (Object.values(mapping)[0] as any).mappings.properties;
  t.equal(props.id.type, 'keyword');
  t.equal(props.time.type, 'date');
  t.equal(props.data.properties.raw.enabled, false);
  t.notOk(props.data.properties.elements.properties.content.properties, 'element contents added no fields');

  const msg = events.find((e) => typeof e.data.text === 'string' && e.data.conversation.groupId)!;
  const word = String(msg.data.text).split(/\W+/).find((w) => w.length > 4)!;
  const found = await es('POST', `/${prefix}-*/_search`, {
    query: { bool: { filter: [{ term: { 'data.conversation.groupId': msg.data.conversation.groupId } }], must: [{ match: { 'data.text': word } }] } },
  });
  t.ok(found.hits.hits.some((h: any) => h._id === msg.id), `full-text "${word}" in the group finds the message`);
  const byId = await es('POST', `/${prefix}-*/_search`, { query: { ids: { values: [events[3]!.id] } } });
  t.equal(byId.hits.hits[0]._source.id, events[3]!.id);

  await sink.healthcheck!(AbortSignal.timeout(10_000));
});

t.test('a field type conflict dead-letters just that event, with the ES reason (no template)', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const index = uniqueName('es-conflict');
  const sink = await open({ nodes: [ES], index, install_template: false });
  t.teardown(async () => {
    await sink.close();
    await es('DELETE', `/${index}`);
  });
  const events = conflicting(index);
  const error = await sink.writeBatch(events, AbortSignal.timeout(30_000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(error, PartialBatchError);
  const failures = (error as PartialBatchError).failures;
  t.same(
    failures.map((f) => f.index),
    [1, 4],
    'the object after the number (raw) and after the string (changes) are refused',
  );
  for (const f of failures) {
    t.equal(f.retriable, false);
    t.match(f.code, /^ES_(DOCUMENT|MAPPER)_PARSING_EXCEPTION$/);
    t.match(f.message, /^400 (document|mapper)_parsing_exception: .*(Custom|Extra|extra)/);
  }
  await es('POST', `/${index}/_refresh`);
  const ids = (await es('POST', `/${index}/_search`, { size: 10, _source: false })).hits.hits.map((h: any) => h._id).sort();
  t.same(ids, [events[0]!.id, events[2]!.id, events[3]!.id].sort(), 'batch-mates are indexed');
});

t.test('with the template the same callbacks are all indexed', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const prefix = uniqueName('es-safe');
  const sink = await open({ nodes: [ES], index: `${prefix}-{{yyyy}}`, template: { name: prefix, priority: 300, number_of_replicas: 0 } });
  t.teardown(async () => {
    await sink.close();
    await es('DELETE', `/${prefix}-*`);
    await es('DELETE', `/_index_template/${prefix}`);
  });
  const events = conflicting(prefix);
  await sink.writeBatch(events, AbortSignal.timeout(30_000));
  await es('POST', `/${prefix}-*/_refresh`);
  t.equal((await es('GET', `/${prefix}-*/_count`)).count, events.length);
  // data.changes is flattened: searchable by value whatever its shape
  const hits = await es('POST', `/${prefix}-*/_search`, { query: { term: { 'data.changes.extra': 'text' } } });
  t.equal(hits.hits.total.value, 1);
});

t.test('op_type create: a duplicate (409) counts as delivered', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const index = uniqueName('es-create');
  const sink = await open({ nodes: [ES], index, op_type: 'create', template: { name: index, priority: 300, number_of_replicas: 0 } });
  t.teardown(async () => {
    await sink.close();
    await es('DELETE', `/${index}`);
    await es('DELETE', `/_index_template/${index}`);
  });
  const events = fixtureEvents().slice(0, 5);
  await sink.writeBatch(events.slice(0, 3), AbortSignal.timeout(30_000));
  const before = counts.get('create_conflicts_ignored') ?? 0;
  await sink.writeBatch(events, AbortSignal.timeout(30_000));
  t.equal((counts.get('create_conflicts_ignored') ?? 0) - before, 3, 'three duplicates ignored');
  await es('POST', `/${index}/_refresh`);
  t.equal((await es('GET', `/${index}/_count`)).count, 5);
});

t.test('unreachable node: connect and writes fail as retriable, health throws', async (t) => {
  const sink = await plugin.create(config({ nodes: ['http://127.0.0.1:9'], index: 'x', request_timeout_ms: 2000 }), ctx);
  t.teardown(() => sink.close());
  await t.rejects(sink.connect(AbortSignal.timeout(10_000)));
  await t.rejects(sink.writeBatch(fixtureEvents().slice(0, 1), AbortSignal.timeout(10_000)), { name: 'RetriableError', code: 'ES_CONNECTION' });
  await t.rejects(sink.healthcheck!(AbortSignal.timeout(10_000)), RetriableError);
});

t.test('413 from the node: the batch is split until it fits (injected by a proxy)', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const index = uniqueName('es-split');
  const limit = 6000;
  let refused = 0;
  const target = new URL(ES);
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.url?.startsWith('/_bulk') && body.length > limit) {
        refused++;
        res.writeHead(413, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
        res.end(JSON.stringify({ error: { type: 'content_too_long', reason: 'request too large' }, status: 413 }));
        return;
      }
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as AddressInfo).port;
  const sink = await open({ nodes: [`http://127.0.0.1:${port}`], index, install_template: false });
  t.teardown(async () => {
    await sink.close();
    proxy.close();
    await es('DELETE', `/${index}`);
  });
  const events = fixtureEvents();
  const big = ev('Bot.CallbackHuge', { Blob: 'x'.repeat(limit), EventTime: 1767225600009 });
  const error = await sink.writeBatch([...events, big], AbortSignal.timeout(30_000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(refused >= 2, `proxy refused ${refused} requests`);
  t.type(error, PartialBatchError);
  t.same((error as PartialBatchError).failures.map((f) => [f.index, f.retriable, f.code]), [[events.length, false, 'ES_REQUEST_TOO_LARGE']]);
  await es('POST', `/${index}/_refresh`);
  t.equal((await es('GET', `/${index}/_count`)).count, events.length, 'every event that fits is indexed');
});
