/**
 * The compiled daemon with the elasticsearch sink against the real test node, at the edges (issue 18):
 * - one poison event (its sender makes the index name longer than 255 bytes) among 100 good ones of
 *   the same and of other conversations: the 100 are indexed exactly once, the poison is
 *   dead-lettered with ES_INDEX_INVALID, and no event is retried;
 * - a flood of 10,000 distinct unknown commands with an index template over data.family: at most
 *   max_indices indices are created, every other event is dead-lettered (ES_INDEX_LIMIT) and counted.
 * Needs dist/ (npm run build).
 */
import t from 'tap';
import type { YamlValue } from '../../helpers/bridge-yaml.js';
import { daemonYaml, groupMessage, postMany, startDaemon, waitFor, type Daemon } from '../../helpers/daemon.js';
import { elasticsearchUrl, requireService, uniqueName } from '../../helpers/services.js';
import { deadLetters, metric } from '../../helpers/observe.js';

const ES = elasticsearchUrl();

async function es(method: string, urlPath: string, body?: unknown): Promise<any> {
  const res = await fetch(ES + urlPath, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

function config(sinkKeys: Record<string, YamlValue>): string {
  return daemonYaml({
    sinks: { search: { type: 'elasticsearch', nodes: [ES], ...sinkKeys, retry: { initial_backoff_ms: 100, max_backoff_ms: 1000, max_attempts: 50 } } },
  });
}

async function indicesOf(prefix: string): Promise<string[]> {
  const rows = (await es('GET', `/_cat/indices/${prefix}*?format=json&h=index&expand_wildcards=all`)) as Array<{ index: string }>;
  return rows.map((r) => r.index).sort();
}

t.test('elasticsearch sink through the daemon: a poison fails alone, destinations are bounded', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  let daemon: Daemon | undefined;
  t.afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  t.test('one event with an over-long index name among 100 good ones: the 100 indexed once, the poison dead-lettered alone, no retry', async (t) => {
    const prefix = uniqueName('es-dpoison');
    t.teardown(async () => {
      await es('DELETE', `/${prefix}-*`);
      await es('DELETE', `/_index_template/${prefix}`);
    });
    // One index per sender: good senders are user_0..user_6; the poison's sender is 300 characters.
    daemon = await startDaemon({
      config: config({ index: `${prefix}-{{data.sender}}`, template: { name: prefix, priority: 300, number_of_replicas: 0 }, batch: { max_events: 500, max_wait_ms: 300 } }),
    });
    const good = Array.from({ length: 100 }, (_, i) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`@TGS#p${i % 5}`, i + 1) }));
    const poison = { command: 'Group.CallbackAfterSendMsg', body: { ...groupMessage('@TGS#p0', 1000), From_Account: 'x'.repeat(300) } };
    const statuses = await postMany(daemon.url, [...good.slice(0, 50), poison, ...good.slice(50)], 32);
    t.same([...new Set(statuses)], [200], 'all 101 acknowledged');
    const d = daemon;
    await waitFor(async () => (await metric(d.url, 'im_bridge_events_delivered_total', { sink: 'search' })) + deadLetters(d.dir, { kind: 'event' }).length, (n) => n >= 101, 60_000, 100);
    t.same(deadLetters(daemon.dir, { kind: 'event' }).map((r) => [r.error_code, r.subject, r.attempts]), [['ES_INDEX_INVALID', 'group/@TGS#p0', 1]], 'the poison alone, dead-lettered at its first attempt');
    t.equal(await metric(daemon.url, 'im_bridge_events_retried_total', { sink: 'search' }), 0, 'no event was retried');
    t.equal(await metric(daemon.url, 'im_bridge_events_delivered_total', { sink: 'search' }), 100);
    await es('POST', `/${prefix}-*/_refresh`);
    const found = await es('POST', `/${prefix}-*/_search`, { size: 1000, _source: ['data.conversation.groupId', 'data.seq'] });
    const hits = found.hits.hits as Array<{ _id: string; _source: { data: { seq: number; conversation: { groupId: string } } } }>;
    t.equal(found.hits.total.value, 100, 'exactly 100 documents');
    t.equal(new Set(hits.map((h) => h._id)).size, 100, '100 distinct ids');
    t.same(hits.map((h) => `${h._source.data.conversation.groupId}#${h._source.data.seq}`).sort(), good.map((g) => `${g.body.GroupId}#${g.body.MsgSeq}`).sort(), 'each good event once');
    t.equal((await indicesOf(`${prefix}-`)).length, 7, 'one index per good sender, none for the poison');
    const batches = await metric(daemon.url, 'im_bridge_sink_batch_events_count', { sink: 'search' });
    t.ok(batches < 101, `the events went out in ${batches} batch(es), so the poison had batch-mates`);
  });

  t.test('10,000 distinct unknown commands, index over data.family: at most max_indices created, the rest counted', async (t) => {
    const prefix = uniqueName('es-flood');
    const maxIndices = 20;
    t.teardown(async () => {
      await es('DELETE', `/${prefix}-*`);
      await es('DELETE', `/_index_template/${prefix}`);
    });
    daemon = await startDaemon({
      config: config({
        index: `${prefix}-{{data.family}}-{{yyyy.MM}}`,
        max_indices: maxIndices,
        template: { name: prefix, priority: 300, number_of_replicas: 0 },
        batch: { max_events: 1000, max_wait_ms: 50 },
        max_in_flight: 4,
      }),
    });
    const total = 10_000;
    const items = Array.from({ length: total }, (_, i) => ({ command: `Junk${i}.Cmd`, body: { EventTime: 1767225600000 + i } }));
    const started = Date.now();
    const statuses = await postMany(daemon.url, items, 64);
    const postedMs = Date.now() - started;
    t.equal(statuses.filter((s) => s === 200).length, total, 'every flood callback acknowledged (they are command-shaped)');
    const d = daemon;
    await waitFor(
      async () => (await metric(d.url, 'im_bridge_events_delivered_total', { sink: 'search' })) + (await metric(d.url, 'im_bridge_events_dead_lettered_total', { sink: 'search' })),
      (n) => n >= total,
      120_000,
      250,
    );
    const doneMs = Date.now() - started;
    const created = await indicesOf(`${prefix}-`);
    t.equal(created.length, maxIndices, `exactly max_indices (${maxIndices}) indices created`);
    t.equal(await metric(daemon.url, 'im_bridge_events_delivered_total', { sink: 'search' }), maxIndices, 'one event per created index delivered');
    t.equal(await metric(daemon.url, 'im_bridge_events_dead_lettered_total', { sink: 'search', code: 'ES_INDEX_LIMIT' }), total - maxIndices, 'every other event dead-lettered with ES_INDEX_LIMIT');
    t.equal(await metric(daemon.url, 'im_bridge_sink_plugin_events_total', { sink: 'search', name: 'indices_refused' }), total - maxIndices, 'and counted by the sink');
    t.equal(await metric(daemon.url, 'im_bridge_events_retried_total', { sink: 'search' }), 0, 'nothing retried');
    const refusedLines = daemon.logs.filter((l) => l.code === 'ES_INDEX_LIMIT').length;
    t.ok(refusedLines >= 1 && refusedLines <= 10 * Math.ceil(doneMs / 60_000), `refusals logged with a code, rate-limited (${refusedLines} lines)`);
    t.comment(`posted ${total} in ${postedMs} ms; all settled after ${doneMs} ms`);
  });
});
