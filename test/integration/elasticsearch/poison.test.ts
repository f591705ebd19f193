/**
 * The elasticsearch sink driven directly against the real test node: an event whose index name
 * cannot be used fails alone before the `_bulk` (the conformance kit's poison check, every index-name
 * rule, a template that throws), and the distinct index names are bounded (max_indices counting the
 * cluster's matching indices, index_pattern), refused names counted and logged once.
 */
import t from 'tap';
import pino from 'pino';
import { Ajv } from 'ajv';
import plugin, { configSchema } from '../../../plugins/elasticsearch/index.js';
import { IndexBudget } from '../../../plugins/elasticsearch/index-budget.js';
import { PartialBatchError, type CanonicalEvent, type SinkContext } from '../../../src/sink/api.js';
import { formatConformanceReport, runSinkConformance } from '../../../src/sink/conformance.js';
import { normalize } from '../../../src/normalize/index.js';
import { groupMessage } from '../../helpers/daemon.js';
import { elasticsearchUrl, requireService, uniqueName } from '../../helpers/services.js';

const ES = elasticsearchUrl();
const logs: Array<Record<string, unknown>> = [];
const counts = new Map<string, number>();
const ctx: SinkContext = {
  name: 'es-poison',
  logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }),
  signal: new AbortController().signal,
  configDir: process.cwd(),
  count: (metric, value = 1) => void counts.set(metric, (counts.get(metric) ?? 0) + value),
};

async function es(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(ES + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

/** Index names on the node starting with `prefix` (open and closed, hidden excluded). */
async function indicesOf(prefix: string): Promise<string[]> {
  const rows = (await es('GET', `/_cat/indices/${prefix}*?format=json&h=index&expand_wildcards=open,closed`)) as Array<{ index: string }>;
  return rows.map((r) => r.index).sort();
}

async function idsAt(pattern: string, ids: readonly string[]): Promise<string[]> {
  await es('POST', `/${pattern}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
  const found = await es('POST', `/${pattern}/_search?ignore_unavailable=true&allow_no_indices=true`, { size: 10_000, _source: false, query: { ids: { values: ids } } });
  return (found.hits?.hits ?? []).map((h: { _id: string }) => h._id);
}

async function open(options: Record<string, unknown>) {
  const config = structuredClone({ nodes: [ES], ...options });
  const validate = new Ajv({ useDefaults: true, strict: false }).compile(configSchema);
  if (!validate(config)) throw new Error(JSON.stringify(validate.errors));
  const sink = await plugin.create(config as never, ctx);
  await sink.connect(AbortSignal.timeout(30_000));
  return sink;
}

function event(family: string, seq: number): CanonicalEvent {
  const e = normalize(groupMessage(`@TGS#poison`, seq), { sdkAppId: '1400000000', command: 'Group.CallbackAfterSendMsg', receivedAtMs: 1767225600000 + seq }, { includeRaw: true });
  e.id = `${uniqueName('doc')}-${seq}`;
  e.data.family = family;
  return e;
}

async function failuresOf(write: Promise<void>): Promise<Array<[number, boolean, string]>> {
  const error = await write.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) return [];
  if (!(error instanceof PartialBatchError)) throw error;
  return error.failures.map((f) => [f.index, f.retriable, f.code]);
}

t.test('elasticsearch sink: poison events and bounded index names', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;

  t.test('conformance kit, with a poison whose index name is over 255 bytes', async (t) => {
    const prefix = uniqueName('es-conf');
    t.teardown(async () => {
      await es('DELETE', `/${prefix}-*`);
      await es('DELETE', `/_index_template/${prefix}`);
    });
    const report = await runSinkConformance(plugin, {
      config: { nodes: [ES], index: `${prefix}-{{data.family}}`, template: { name: prefix, priority: 400, number_of_replicas: 0 } },
      poison: (e) => ({ ...e, data: { ...e.data, family: 'x'.repeat(300) } }),
      verify: (ids) => idsAt(`${prefix}-*`, ids),
      idempotent: true,
      countCopies: async (id) => (await idsAt(`${prefix}-*`, [id])).length,
      unreachableConfig: { nodes: ['http://127.0.0.1:1'], index: `${prefix}-{{data.family}}`, request_timeout_ms: 1000 },
      timeoutMs: 30_000,
    });
    t.ok(report.passed, formatConformanceReport(report));
    const poison = report.checks.find((c) => c.name.startsWith('a poison event'));
    t.match(poison?.detail, /poison failed alone \(ES_INDEX_INVALID\); 100 event\(s\) verified/, 'the poison failed alone with its code; the 100 arrived');
    t.same(await indicesOf(`${prefix}-`), [`${prefix}-c2c`, `${prefix}-group`], 'no index for the poison');
  });

  t.test('every index-name rule and a template that throws fail that event alone, before the _bulk', async (t) => {
    const prefix = uniqueName('es-rules');
    // The value comes first, so it decides how the name starts.
    const sink = await open({ index: `{{data.family}}-${prefix}`, install_template: false });
    const bad: Array<[string, string]> = [
      ['_under', 'must not start with -, _ or +'],
      ['-dash', 'must not start with -, _ or +'],
      ['+plus', 'must not start with -, _ or +'],
      ['.hidden', 'starts with "."'],
      ['\ud800lone', 'lone UTF-16 surrogate'],
      ['y'.repeat(250), 'bytes long'],
    ];
    const events = [event('good', 1), ...bad.map(([family], i) => event(family, i + 2)), event('good', 9)];
    const thrower = event('good', 10);
    Object.defineProperty(thrower.data, 'family', { enumerable: true, get: () => { throw new URIError('URI malformed'); } });
    events.push(thrower, event('good', 11));
    const error = await sink.writeBatch(events, AbortSignal.timeout(30_000)).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(error, PartialBatchError);
    const failures = (error as PartialBatchError).failures;
    t.same(
      failures.map((f) => [f.index, f.retriable, f.code]),
      [...bad.map((_, i) => [i + 1, false, 'ES_INDEX_INVALID']), [8, false, 'ES_INDEX_RENDER_FAILED']],
    );
    bad.forEach(([, why], i) => t.match(failures[i]!.message, why, `${JSON.stringify(bad[i]![0].slice(0, 12))}: ${why}`));
    t.same(await idsAt(`good-${prefix}`, [0, 7, 9].map((i) => events[i]!.id)).then((ids) => ids.length), 3, 'the good events are indexed');
    const all = (await es('GET', '/_cat/indices/*?format=json&h=index&expand_wildcards=all')) as Array<{ index: string }>;
    t.same(all.map((r) => r.index).filter((name) => name.includes(prefix)), [`good-${prefix}`], 'no index from a bad name, hidden ones included');
    await sink.close();
    await es('DELETE', `/good-${prefix}`);

    // `.` and `..` are whole names: only a template that is all placeholder can give them.
    const whole = await open({ index: '{{data.family}}', install_template: false });
    t.same(await failuresOf(whole.writeBatch([event('.', 1), event('..', 2)], AbortSignal.timeout(30_000))), [
      [0, false, 'ES_INDEX_INVALID'],
      [1, false, 'ES_INDEX_INVALID'],
    ]);
    await whole.close();
  });

  t.test('max_indices counts the matching indices on the cluster and the new names; the rest refused, counted, logged once', async (t) => {
    const prefix = uniqueName('es-budget');
    t.teardown(() => es('DELETE', `/${prefix}-*`));
    await es('PUT', `/${prefix}-old1`);
    await es('PUT', `/${prefix}-old2`);
    logs.length = 0;
    counts.clear();
    const sink = await open({ index: `${prefix}-{{data.family}}`, install_template: false, max_indices: 4 });
    t.ok(logs.some((l) => l.code === 'ES_INDEX_BUDGET' && l.known === 2), 'the two existing indices were learnt at connect');
    const events = ['f1', 'f2', 'f3', 'old1', 'f4', 'f1', 'f3'].map((family, i) => event(family, i + 1));
    t.same(await failuresOf(sink.writeBatch(events, AbortSignal.timeout(30_000))), [
      [2, false, 'ES_INDEX_LIMIT'],
      [4, false, 'ES_INDEX_LIMIT'],
      [6, false, 'ES_INDEX_LIMIT'],
    ]);
    t.same(await indicesOf(`${prefix}-`), [`${prefix}-f1`, `${prefix}-f2`, `${prefix}-old1`, `${prefix}-old2`], 'new indices only up to max_indices (2 existing + 2 new)');
    t.equal(counts.get('indices_refused'), 3, 'every refused event counted');
    const refused = logs.filter((l) => l.code === 'ES_INDEX_LIMIT');
    t.same(refused.map((l) => [l.index, l.reason]).sort(), [[`${prefix}-f3`, 'limit'], [`${prefix}-f4`, 'limit']], 'logged once per name');
    t.same(await failuresOf(sink.writeBatch([event('f3', 20), event('old2', 21)], AbortSignal.timeout(30_000))), [[0, false, 'ES_INDEX_LIMIT']], 'an existing index is written; the refused name stays refused');
    t.equal(logs.filter((l) => l.code === 'ES_INDEX_LIMIT').length, 2, 'not logged again');
    await sink.close();
  });

  t.test('index_pattern: a new name must match it whole', async (t) => {
    const prefix = uniqueName('es-pattern');
    t.teardown(() => es('DELETE', `/${prefix}-*`));
    const sink = await open({ index: `${prefix}-{{data.family}}`, install_template: false, index_pattern: `${prefix}-(group|c2c)` });
    t.same(await failuresOf(sink.writeBatch([event('group', 1), event('groupx', 2), event('junk', 3)], AbortSignal.timeout(30_000))), [
      [1, false, 'ES_INDEX_LIMIT'],
      [2, false, 'ES_INDEX_LIMIT'],
    ]);
    t.same(await indicesOf(`${prefix}-`), [`${prefix}-group`]);
    t.ok(logs.some((l) => l.code === 'ES_INDEX_LIMIT' && l.reason === 'pattern' && l.index === `${prefix}-junk`));
    await sink.close();
    await t.rejects(Promise.resolve().then(() => open({ index: `${prefix}-{{data.family}}`, index_pattern: '(' })), { code: 'ES_CONFIG' });
  });

  t.test('an index deleted on the cluster frees its place at the next listing', async (t) => {
    const prefix = uniqueName('es-relist');
    t.teardown(() => es('DELETE', `/${prefix}-*`));
    await es('PUT', `/${prefix}-a`);
    await es('PUT', `/${prefix}-b`);
    const list = async () => ((await es('GET', `/_resolve/index/${prefix}-*?expand_wildcards=open,closed`)).indices as Array<{ name: string }>).map((i) => i.name);
    let now = 0;
    const budget = new IndexBudget({ maxIndices: 2, list, now: () => now });
    await budget.refresh();
    t.same([...(await budget.admit([`${prefix}-c`]))].map(([name, r]) => [name, r.reason]), [[`${prefix}-c`, 'limit']], 'full: a and b exist');
    await es('DELETE', `/${prefix}-a`);
    t.same([...(await budget.admit([`${prefix}-c`]))].map(([name]) => name), [`${prefix}-c`], 'within a minute of the last listing the cluster is not asked again');
    now += 60_000;
    t.same([...(await budget.admit([`${prefix}-c`]))], [], 'a minute later the cap lists the cluster again: a was deleted, c is admitted');
    t.same([...(await budget.admit([`${prefix}-a`]))].map(([name]) => name), [`${prefix}-a`], 'c counts before its index shows on the cluster');
    await es('PUT', `/${prefix}-c`); // what the _bulk for c does
    now += 60_000;
    t.same([...(await budget.admit([`${prefix}-a`]))].map(([name]) => name), [`${prefix}-a`], 'and once it does: b and c fill the budget');
    t.equal(budget.size, 2);
  });
});
