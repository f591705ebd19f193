/**
 * elasticsearch sink, without a server: index-name templates, _bulk bodies, the reading of per-item
 * results, the template mapping, and the README example (parsed, validated against configSchema and
 * loaded through the real config loader).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { errors } from '@elastic/elasticsearch';
import plugin, { configSchema, requestError } from '../../../plugins/elasticsearch/index.js';
import { compileIndexName, IndexNameError } from '../../../plugins/elasticsearch/index-name.js';
import { bulkBody, readBulkItems } from '../../../plugins/elasticsearch/bulk.js';
import { EVENT_MAPPINGS, indexTemplateBody } from '../../../plugins/elasticsearch/mapping.js';
import { FatalError, RetriableError, type CanonicalEvent } from '../../../src/sink/api.js';
import { rememberEventJson } from '../../../src/sink/event-json.js';
import { normalize } from '../../../src/normalize/index.js';
import { loadConfigText } from '../../../src/config/load.js';
import { resolvePlugin } from '../../../src/sink/loader.js';
import { SINK_COMMON_KEYS } from '../../../src/config/schema.js';

const README = fileURLToPath(new URL('../../../plugins/elasticsearch/README.md', import.meta.url));

function event(overrides: Partial<CanonicalEvent> = {}, data: Record<string, unknown> = {}): CanonicalEvent {
  return {
    specversion: '1.0',
    id: 'ev-1',
    type: 'com.tencent.im.Group.CallbackAfterSendMsg',
    source: '/tencent-im/1400000000',
    subject: 'group/@TGS#1',
    time: '2026-03-04T05:06:07.890Z',
    datacontenttype: 'application/json',
    imsdkappid: '1400000000',
    imcommand: 'Group.CallbackAfterSendMsg',
    ...overrides,
    data: { family: 'group', conversation: { kind: 'group', groupId: '@TGS#AbC' }, receivedAtMs: 1, ...data },
  };
}

t.test('index names: date tokens from the event time in UTC', async (t) => {
  const c = compileIndexName('im-events-{{yyyy.MM.dd}}');
  t.equal(c.name(event()), 'im-events-2026.03.04');
  t.equal(c.pattern, 'im-events-*');
  t.equal(c.fixed, false);
  t.equal(compileIndexName('x-{{yy-MM-dd_HH.mm.ss}}').name(event()), 'x-26-03-04_05.06.07');
  // 23:30 at -05:00 is the next day in UTC
  t.equal(c.name(event({ time: '2026-12-31T23:30:00-05:00' })), 'im-events-2027.01.01');
  // unusable time: the receive time
  t.equal(c.name(event({ time: 'garbage' }, { receivedAtMs: Date.UTC(2025, 0, 2) })), 'im-events-2025.01.02');
});

t.test('index names: field paths, lowercased and sanitized', async (t) => {
  const c = compileIndexName('im-{{imsdkappid}}-{{data.family}}-{{data.conversation.groupId}}');
  t.equal(c.name(event()), 'im-1400000000-group-@tgs_abc');
  t.equal(c.pattern, 'im-*-*-*');
  t.equal(compileIndexName('im-{{data.nope}}').name(event()), 'im-unknown');
  t.equal(compileIndexName('im-{{data.conversation}}').name(event()), 'im-unknown', 'objects are not names');
  t.equal(compileIndexName('{{ imcommand }}-x').name(event()), 'group.callbackaftersendmsg-x');
  const fixed = compileIndexName('im-events');
  t.equal(fixed.fixed, true);
  t.equal(fixed.pattern, 'im-events');
  t.equal(compileIndexName('a-{{yyyy}}{{MM}}').pattern, 'a-*', 'adjacent placeholders give one *');
});

t.test('index names: invalid templates are refused', async (t) => {
  for (const bad of ['', 'Im-events', 'im events', 'im-{{yyyy', 'im-{{}}', 'im-{{yyyy/MM}}', '_im', 'a*b', 'im-{{data..x}}']) {
    t.throws(() => compileIndexName(bad), IndexNameError, JSON.stringify(bad));
  }
});

t.test('bulk body: index and create actions with _id = event id and the stored JSON', async (t) => {
  const e1 = event({ id: 'a"1' });
  const e2 = event({ id: 'b2' });
  rememberEventJson(e2, '{"stored":true}');
  const body = bulkBody([e1, e2], { opType: 'index', indexName: () => 'idx', timestamp: false });
  const lines = body.split('\n');
  t.equal(lines.length, 5, 'two pairs of lines and a final newline');
  t.same(JSON.parse(lines[0]!), { index: { _index: 'idx', _id: 'a"1' } });
  t.same(JSON.parse(lines[1]!), JSON.parse(JSON.stringify(e1)));
  t.equal(lines[3], '{"stored":true}', 'the stored serialized event is used as is');
  t.equal(lines[4], '');

  const ds = bulkBody([e1], { opType: 'create', indexName: () => 'im-events', timestamp: true }).split('\n');
  t.same(JSON.parse(ds[0]!), { create: { _index: 'im-events', _id: 'a"1' } });
  const doc = JSON.parse(ds[1]!);
  t.equal(doc['@timestamp'], e1.time, 'data streams get @timestamp');
  t.equal(doc.id, 'a"1');
});

t.test('bulk items: delivered, retried, dead-lettered', async (t) => {
  const mapping = { type: 'document_parsing_exception', reason: '[1:2] failed to parse field [data.raw.X] of type [long]', caused_by: { type: 'illegal_argument_exception', reason: 'For input string: "x"' } };
  const response = {
    errors: true,
    items: [
      { index: { status: 201 } },
      { index: { status: 200 } },
      { index: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution' } } },
      { index: { status: 400, error: mapping } },
      { index: { status: 503, error: { type: 'unavailable_shards_exception', reason: 'primary shard is not active' } } },
      { index: { status: 403, error: { type: 'cluster_block_exception', reason: 'index [x] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark]' } } },
      { index: { status: 404, error: { type: 'index_not_found_exception', reason: 'no such index' } } },
      { index: { status: 409, error: { type: 'version_conflict_engine_exception', reason: 'exists' } } },
    ],
  };
  const { failures, conflictsIgnored } = readBulkItems(response, 8, 'index');
  t.equal(conflictsIgnored, 0);
  t.same(
    failures.map((f) => [f.index, f.retriable, f.code]),
    [
      [2, true, 'ES_REJECTED_EXECUTION_EXCEPTION'],
      [3, false, 'ES_DOCUMENT_PARSING_EXCEPTION'],
      [4, true, 'ES_UNAVAILABLE_SHARDS_EXCEPTION'],
      [5, true, 'ES_CLUSTER_BLOCK_EXCEPTION'],
      [6, false, 'ES_INDEX_NOT_FOUND_EXCEPTION'],
      [7, false, 'ES_VERSION_CONFLICT_ENGINE_EXCEPTION'],
    ],
  );
  t.match(failures[1]!.message, /^400 document_parsing_exception: \[1:2\] failed to parse field \[data\.raw\.X\] of type \[long\] \(caused by illegal_argument_exception: For input string: "x"\)$/);

  const created = readBulkItems({ errors: true, items: [{ create: { status: 201 } }, { create: { status: 409, error: { type: 'version_conflict_engine_exception' } } }] }, 2, 'create');
  t.same(created, { failures: [], conflictsIgnored: 1 }, '409 on create is a duplicate: delivered');

  const short = readBulkItems({ errors: true, items: [{ index: { status: 201 } }] }, 2, 'index');
  t.equal(short.failures.length, 2, 'an answer that does not match the request retries everything');
  t.ok(short.failures.every((f) => f.retriable));
});

t.test('request errors: retriable vs fatal', async (t) => {
  const response = (statusCode: number, body: unknown, headers: Record<string, string> = {}) =>
    new errors.ResponseError({ body, statusCode, headers, warnings: null, meta: {} as never });
  const r429 = requestError(response(429, { error: { type: 'es_rejected_execution_exception', reason: 'busy' } }, { 'retry-after': '3' }));
  t.type(r429, RetriableError);
  t.equal(r429.code, 'ES_REJECTED_EXECUTION_EXCEPTION');
  t.equal((r429 as RetriableError).retryAfterMs, 3000);
  t.type(requestError(response(502, 'Bad Gateway')), RetriableError);
  t.equal(requestError(response(502, 'Bad Gateway')).code, 'ES_HTTP_502');
  t.type(requestError(response(401, { error: { type: 'security_exception', reason: 'missing authentication credentials' } })), RetriableError);
  const bad = requestError(response(400, { error: { type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline' } }));
  t.type(bad, FatalError);
  t.match(bad.message, /terminated by a newline/);
  t.equal(requestError(new errors.ConnectionError('ECONNREFUSED')).code, 'ES_CONNECTION');
  t.equal(requestError(new errors.TimeoutError('timeout')).code, 'ES_TIMEOUT');
  t.equal(requestError(new errors.RequestAbortedError('aborted')).code, 'ES_ABORTED');
});

t.test('template: closed mapping, raw not indexed, changes flattened, explicit priority', async (t) => {
  t.equal(EVENT_MAPPINGS.dynamic, false);
  const data = EVENT_MAPPINGS.properties.data.properties;
  t.same(data.raw, { type: 'object', enabled: false });
  t.equal(data.changes.type, 'flattened');
  t.equal(data.text.type, 'text');
  t.equal(data.text.analyzer, 'standard', 'only the standard analyzer: works on every node');
  t.equal(EVENT_MAPPINGS.properties.id.type, 'keyword');
  t.equal(EVENT_MAPPINGS.properties.time.type, 'date');
  t.equal(data.conversation.properties.groupId.type, 'keyword');
  const body = indexTemplateBody({ indexPatterns: ['im-events-*'], priority: 200, numberOfShards: 1, numberOfReplicas: 0, refreshInterval: '5s', dataStream: false });
  t.same(body.index_patterns, ['im-events-*']);
  t.equal(body.priority, 200);
  t.same((body.template as { settings: unknown }).settings, { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '5s' });
  t.notOk('data_stream' in body);
  const ds = indexTemplateBody({ indexPatterns: ['im-events'], priority: 1, numberOfShards: 1, numberOfReplicas: undefined, refreshInterval: undefined, dataStream: true });
  t.same(ds.data_stream, {});
  t.same((ds.template as { mappings: { properties: Record<string, unknown> } }).mappings.properties['@timestamp'], { type: 'date' });
});

t.test('template: every indexed field of real fixture events has one JSON type', async (t) => {
  // Walk every fixture's canonical event against the mapping: a mapped leaf must get the JSON type
  // its field type accepts, so the template cannot refuse a normalized event.
  const dir = new URL('../../fixtures/callbacks/', import.meta.url);
  const { readdirSync } = await import('node:fs');
  const accepts: Record<string, (v: unknown) => boolean> = {
    keyword: (v) => typeof v === 'string',
    long: (v) => Number.isInteger(v),
    date: (v) => typeof v === 'string' || Number.isInteger(v),
    boolean: (v) => typeof v === 'boolean',
    text: (v) => typeof v === 'string',
    flattened: (v) => typeof v === 'object' && v !== null,
  };
  let checked = 0;
  const walk = (value: unknown, mapping: Record<string, any>, where: string) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, mapping, `${where}[${i}]`));
    if (mapping.type === 'object' && mapping.enabled === false) return;
    if (mapping.properties) {
      t.ok(typeof value === 'object', `${where} is an object`);
      for (const [k, sub] of Object.entries(mapping.properties as Record<string, any>)) walk((value as Record<string, unknown>)[k], sub, `${where}.${k}`);
      return;
    }
    checked++;
    if (!accepts[mapping.type]!(value)) t.fail(`${where}: ${JSON.stringify(value)} does not fit ${mapping.type}`);
  };
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.json')) continue;
    const fx = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { query: Record<string, string>; body: Record<string, unknown> };
    const e = normalize(fx.body, { sdkAppId: fx.query.SdkAppid!, command: fx.query.CallbackCommand!, clientIp: fx.query.ClientIP, optPlatform: fx.query.OptPlatform, receivedAtMs: Date.now() }, { includeRaw: true });
    walk(JSON.parse(JSON.stringify(e)), EVENT_MAPPINGS as never, file);
  }
  t.ok(checked > 100, `${checked} mapped values checked`);
});

t.test('README example: parses, validates against configSchema, loads through the real config loader', async (t) => {
  const text = readFileSync(README, 'utf8');
  const block = /## Example\s+```yaml\n([\s\S]*?)```/.exec(text);
  t.ok(block, 'the README has a yaml example');
  const yaml = block![1]!;
  const doc = parseYaml(yaml) as { sinks: Record<string, Record<string, unknown>> };
  const sink = doc.sinks.search!;
  t.equal(sink.type, 'elasticsearch');
  const own = Object.fromEntries(Object.entries(sink).filter(([k]) => !SINK_COMMON_KEYS.has(k)));
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
  const validate = ajv.compile(configSchema);
  t.ok(validate(own), JSON.stringify(validate.errors));
  t.equal((own as { op_type: string }).op_type, 'index');
  t.equal((own as { template: { name: string } }).template.name, 'im-bridge-events');

  const loaded = await loadConfigText(`apps: [ { sdk_app_id: 1400000000 } ]\n${yaml}`, '/tmp/README-example.yaml', '/tmp', {
    resolvePlugin,
    env: { ES_API_KEY: 'aWQ6a2V5' },
  });
  const options = loaded.config.sinks.search!.options as Record<string, unknown>;
  t.same(options.auth, { api_key: 'aWQ6a2V5' });
  t.equal(options.index, 'im-events-{{yyyy.MM.dd}}');
  t.equal(options.install_template, true);
  t.equal(loaded.config.sinks.search!.max_in_flight, 4);
  t.equal(loaded.plugins.get('search') ?? [...loaded.plugins.values()][0], plugin);
});

t.test('configSchema: defaults, unknown keys and bad values refused', async (t) => {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
  const validate = ajv.compile(configSchema);
  const minimal: Record<string, unknown> = { nodes: ['http://127.0.0.1:9200'] };
  t.ok(validate(minimal), JSON.stringify(validate.errors));
  t.match(minimal, {
    index: 'im-events-{{yyyy.MM.dd}}',
    op_type: 'index',
    data_stream: false,
    compression: false,
    request_timeout_ms: 30000,
    install_template: true,
    template: { name: 'im-bridge-events', priority: 200, number_of_shards: 1 },
  });
  t.notOk(validate({ nodes: ['http://x:9200'], bogus: 1 }), 'unknown key');
  t.notOk(validate({ nodes: [] }), 'no node');
  t.notOk(validate({ nodes: ['x:9200'] }), 'node without scheme');
  t.notOk(validate({ nodes: ['http://x:9200'], op_type: 'update' }));
  t.notOk(validate({ nodes: ['http://x:9200'], auth: { username: 'u', password: 'p', api_key: 'k' } }), 'two auth methods');
  t.ok(validate({ nodes: ['http://x:9200'], auth: { bearer: 't' } }));
  t.ok(validate({ nodes: ['https://x:9200'], tls: { ca_fingerprint: 'AA:BB' } }));
});

t.test('create refuses bad configs with FatalError', async (t) => {
  const ctx = { name: 'es', logger: undefined as never, signal: new AbortController().signal, configDir: '/tmp', count() {} };
  const base = { nodes: ['http://127.0.0.1:9'], index: 'im-events', op_type: 'index' as const, data_stream: false, compression: false, request_timeout_ms: 1000, install_template: true, template: { name: 'x', priority: 1, number_of_shards: 1 } };
  await t.rejects(Promise.resolve().then(() => plugin.create({ ...base, index: 'Bad' }, ctx)), FatalError);
  await t.rejects(Promise.resolve().then(() => plugin.create({ ...base, data_stream: true }, ctx)), FatalError);
  await t.rejects(Promise.resolve().then(() => plugin.create({ ...base, index: '{{data.family}}' }, ctx)), FatalError, 'template on * refused');
  await t.rejects(Promise.resolve().then(() => plugin.create({ ...base, tls: { ca_file: './does-not-exist.pem', reject_unauthorized: true } }, ctx)), FatalError);
  const sink = await plugin.create({ ...base, index: '{{data.family}}', install_template: false }, ctx);
  await sink.close();
});

t.test('validate: the cross-field rules, pure, each at its key', async (t) => {
  const ajv = new Ajv({ useDefaults: true, strict: false });
  const schema = ajv.compile(configSchema);
  const problems = (extra: Record<string, unknown>) => {
    const config: Record<string, unknown> = { nodes: ['http://127.0.0.1:1'], ...structuredClone(extra) };
    t.ok(schema(config), `schema-valid: ${JSON.stringify(extra)}`);
    return plugin.validate!(config as never).map((p) => [p.path, p.code]);
  };
  const C = 'ES_CONFIG';
  t.same(problems({}), [], 'a good config has no problem');
  t.same(problems({ data_stream: true, op_type: 'create', index: 'logs-im-default' }), []);
  t.same(problems({ data_stream: true, op_type: 'index' }), [['data_stream', C]], 'data streams need op_type: create');
  t.same(problems({ data_stream: true }), [['data_stream', C]], 'op_type defaults to index');
  t.same(problems({ index: 'Im-Events' }), [['index', C]], 'an index name Elasticsearch refuses');
  t.same(problems({ index: 'im-{{yyyy' }), [['index', C]], 'an unclosed placeholder');
  t.same(problems({ index: '{{data.family}}' }), [['index', C]], 'a template whose index pattern is "*"');
  t.same(problems({ index: '{{data.family}}', template: { index_patterns: ['*'] } }), [['template.index_patterns', C]]);
  t.same(problems({ index: '{{data.family}}', install_template: false }), [], 'no template installed: no pattern to refuse');
  t.same(problems({ index: 'im-{{data.family}}', index_pattern: '(' }), [['index_pattern', C]]);
  t.same(problems({ index: 'im-fixed', index_pattern: '(' }), [['index_pattern', C]], 'also with a fixed name');
  t.same(problems({ data_stream: true, index: 'im-{{yyyy' }).length, 2, 'every problem, not only the first');
});
