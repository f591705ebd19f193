/**
 * The real daemon (dist/) with the elasticsearch sink against the real test node:
 * - 10,000 callbacks of mixed commands → 10,000 documents, each findable by its event id, a word of a
 *   sample message found by full-text search; the same callbacks posted again leave 10,000;
 * - a callback whose field type conflicts with the (dynamic) mapping is dead-lettered with the ES
 *   reason while its batch-mates are indexed.
 * A file sink on the same routes records the ids the daemon gave the events.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import type { YamlValue } from '../../helpers/bridge-yaml.js';
import { CLI, daemonYaml, postCallback, postMany, readEvents, startDaemon, waitFor, groupMessage } from '../../helpers/daemon.js';
import { elasticsearchUrl, requireService, uniqueName } from '../../helpers/services.js';

const ES = elasticsearchUrl();
const TOTAL = 10_000;

async function es(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(ES + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

async function count(pattern: string): Promise<number> {
  await es('POST', `/${pattern}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
  return (await es('GET', `/${pattern}/_count?ignore_unavailable=true&allow_no_indices=true`)).count ?? 0;
}

async function delivered(url: string, sink: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('im_bridge_events_delivered_total{') && l.includes(`sink="${sink}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const WORDS = ['harbor', 'lantern', 'meadow', 'quartz', 'saffron', 'tundra', 'velvet', 'willow'];

/** 10,000 callbacks of mixed commands, each with its own event id. */
function mixed(tag: string): Array<{ command: string; body: Record<string, unknown> }> {
  const out: Array<{ command: string; body: Record<string, unknown> }> = [];
  for (let i = 0; i < TOTAL; i++) {
    const t0 = 1767225600000 + i * 1000;
    switch (i % 10) {
      case 6:
        out.push({
          command: 'C2C.CallbackAfterSendMsg',
          body: {
            CallbackCommand: 'C2C.CallbackAfterSendMsg', From_Account: `u_${i % 13}`, To_Account: `u_${(i % 13) + 1}`, MsgSeq: i, MsgRandom: 77 + i,
            MsgTime: Math.floor(t0 / 1000), MsgKey: `${i}_${77 + i}_${Math.floor(t0 / 1000)}_${tag}`, OnlineOnlyFlag: 0, SendMsgResult: 0, ErrorInfo: 'send msg succeed', UnreadMsgNum: 1,
            MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `direct note ${i} ${WORDS[i % WORDS.length]}` } }], CloudCustomData: '', EventTime: t0,
          },
        });
        break;
      case 7:
        out.push({
          command: 'Group.CallbackAfterGroupInfoChanged',
          body: { CallbackCommand: 'Group.CallbackAfterGroupInfoChanged', GroupId: `@TGS#${tag}g${i % 50}`, Type: 'Work', Operator_Account: `u_${i % 7}`, Notification: `notice ${i}`, EventTime: String(t0) },
        });
        break;
      case 8:
        out.push({
          command: 'Group.CallbackAfterNewMemberJoin',
          body: { CallbackCommand: 'Group.CallbackAfterNewMemberJoin', GroupId: `@TGS#${tag}g${i % 50}`, Type: 'Public', JoinType: 'Apply', Operator_Account: 'u_owner', NewMemberList: [{ Member_Account: `m_${i}` }], EventTime: t0 },
        });
        break;
      case 9:
        out.push({
          command: 'State.StateChange',
          body: { CallbackCommand: 'State.StateChange', EventTime: t0, Info: { Action: i % 20 === 9 ? 'Login' : 'Logout', To_Account: `u_${i % 13}`, Reason: 'Register' }, KickedDevice: [{ Platform: 'Android' }] },
        });
        break;
      default:
        out.push({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`@TGS#${tag}g${i % 50}`, i, `hello ${WORDS[i % WORDS.length]} number ${i} token${tag}x${i}`) });
    }
  }
  return out;
}

function daemonConfig(sinkKeys: Record<string, YamlValue>, extraSinks: Record<string, Record<string, YamlValue>> = {}): string {
  return daemonYaml({
    sinks: {
      es: {
        type: 'elasticsearch',
        nodes: [ES],
        ...sinkKeys,
        batch: { max_events: 500, max_wait_ms: 20 },
        retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 },
      },
      ...extraSinks,
    },
  });
}

t.test('10,000 mixed callbacks → 10,000 documents; idempotent on redelivery', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const prefix = uniqueName('im-e2e');
  const tag = prefix.replace(/-/g, '').slice(-10);
  const daemon = await startDaemon({
    config: daemonConfig(
      { index: `${prefix}-{{yyyy.MM}}`, template: { name: prefix, priority: 300, number_of_replicas: 0 } },
      { file: { type: 'file', path: '${DIR}/events.ndjson', fsync: false } },
    ),
  });
  t.teardown(async () => {
    await daemon.stop();
    await es('DELETE', `/${prefix}-*`);
    await es('DELETE', `/_index_template/${prefix}`);
  });
  await daemon.waitForLog('ES_TEMPLATE_INSTALLED', 60_000);
  const items = mixed(tag);
  const statuses = await postMany(daemon.url, items, 32);
  t.equal(statuses.filter((s) => s === 200).length, TOTAL, 'every callback acknowledged');

  await waitFor(() => count(`${prefix}-*`), (n) => n >= TOTAL, 300_000, 1000);
  t.equal(await count(`${prefix}-*`), TOTAL, '10,000 documents');

  const events = await waitFor(() => readEvents(path.join(daemon.dir, 'events.ndjson')), (e) => e.length >= TOTAL, 120_000, 500);
  const ids = [...new Set(events.map((e) => e.id as string))];
  t.equal(ids.length, TOTAL, 'the daemon gave the callbacks 10,000 distinct ids');
  const commands = new Set(events.map((e) => e.imcommand));
  t.equal(commands.size, 5, `mixed commands: ${[...commands].join(', ')}`);

  let found = 0;
  let sourceIdsMatch = true;
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const res = await es('POST', `/${prefix}-*/_search`, { size: chunk.length, query: { ids: { values: chunk } }, _source: ['id'] });
    found += res.hits.hits.length;
    for (const hit of res.hits.hits) if (hit._source.id !== hit._id) sourceIdsMatch = false;
  }
  t.equal(found, TOTAL, 'every document findable by its event id');
  t.ok(sourceIdsMatch, '_id is the event id');

  const sample = 4321; // a group message (i % 10 = 1)
  const hits = await es('POST', `/${prefix}-*/_search`, {
    query: { bool: { filter: [{ term: { 'data.conversation.groupId': `@TGS#${tag}g${sample % 50}` } }], must: [{ match: { 'data.text': `token${tag}x${sample}` } }] } },
  });
  t.equal(hits.hits.total.value, 1, 'full-text search for a word of a sample message finds it');
  t.equal(hits.hits.hits[0]._source.data.seq, sample);
  t.equal(hits.hits.hits[0]._source.data.raw.MsgSeq, sample, 'data.raw is kept in _source');
  const word = await es('POST', `/${prefix}-*/_count`, { query: { match: { 'data.text': 'saffron' } } });
  t.ok(word.count > 0, `"saffron" found in ${word.count} messages`);

  const before = await delivered(daemon.url, 'es');
  const again = await postMany(daemon.url, items, 32);
  t.equal(again.filter((s) => s === 200).length, TOTAL, 'the same callbacks acknowledged again');
  await waitFor(() => delivered(daemon.url, 'es'), (n) => n >= before + TOTAL, 300_000, 1000);
  t.equal(await count(`${prefix}-*`), TOTAL, 'still 10,000 documents after redelivery');
});

t.test('a mapping conflict is dead-lettered with the ES reason; batch-mates are indexed', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const index = uniqueName('im-conflict');
  // No template: Elasticsearch maps fields dynamically, so the first callback fixes data.raw.Custom as a number.
  const daemon = await startDaemon({ config: daemonConfig({ index, install_template: false }) });
  t.teardown(async () => {
    await daemon.stop();
    await es('DELETE', `/${index}`);
  });
  const group = `@TGS#${index}`;
  const body = (n: number, custom: unknown) => ({ CallbackCommand: 'Bot.CallbackCustomEvent', GroupId: group, N: n, Custom: custom, EventTime: 1767225600000 + n });
  // The same group (one subject), so the queue order is the indexing order.
  const sent = [body(1, 5), body(2, 6), body(3, { now: 'an object' }), body(4, 7), body(5, 8)];
  for (const b of sent) t.equal((await postCallback(daemon.url, 'Bot.CallbackCustomEvent', b)).status, 200);

  const dead = await daemon.waitForLog('EVENT_DEAD_LETTERED', 120_000);
  t.match(String(dead.errorCode), /^ES_(DOCUMENT|MAPPER)_PARSING_EXCEPTION$/);
  await waitFor(() => count(index), (n) => n >= 4, 120_000, 500);
  t.equal(await count(index), 4, 'the four batch-mates are indexed');
  const ns = (await es('POST', `/${index}/_search`, { size: 10, sort: [{ 'data.raw.N': 'asc' }] })).hits.hits.map((h: any) => h._source.data.raw.N);
  t.same(ns, [1, 2, 4, 5]);

  const list = execFileSync(process.execPath, [CLI, 'dlq', 'list', '--config', daemon.configFile], { encoding: 'utf8' });
  t.comment(list.trim());
  t.match(list, /ES_(DOCUMENT|MAPPER)_PARSING_EXCEPTION/, 'the dead-letter store has the ES error type');
  t.match(list, /data\.raw\.Custom|\[Custom\]/, 'and the ES reason naming the field');
  t.equal(daemon.logs.filter((l) => l.code === 'EVENT_DEAD_LETTERED').length, 1, 'only that event');
});
