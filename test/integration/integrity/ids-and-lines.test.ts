/**
 * Issue 18 acceptance through the real daemon, the real NATS JetStream and the real Elasticsearch node:
 * - Tencent's indented Group.CallbackAfterSendMsg sample (and CRLF, tab, BOM variants) → one
 *   searchable document each in Elasticsearch, one line each in the file sink;
 * - two identical bodies of each key-less family posted 1 s apart → two events with different ids,
 *   both kept by NATS (inside its duplicate window) and by Elasticsearch (`_id`); a group message
 *   posted twice with the same GroupId+MsgSeq keeps one id and one copy.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { connect } from 'nats';
import { REPO_ROOT, groupMessage, postCallback, readEvents, startDaemon, waitFor } from '../../helpers/daemon.js';
import { elasticsearchUrl, natsUrl, requireService, uniqueName } from '../../helpers/services.js';

const ES = elasticsearchUrl();

async function es(method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(ES + url, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

async function search(index: string, query: unknown): Promise<Array<{ _id: string; _source: Record<string, any> }>> {
  await es('POST', `/${index}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
  const res = await es('POST', `/${index}/_search?ignore_unavailable=true&allow_no_indices=true`, { size: 100, query });
  return res.hits?.hits ?? [];
}

function config(stream: string, subjectPrefix: string, index: string): string {
  return `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue }
log: { level: info }
sinks:
  js:
    type: nats
    servers: [${natsUrl()}]
    subject: "${subjectPrefix}.{{data.family}}"
    stream: ${stream}
    create_stream: { storage: file, duplicate_window_ms: 600000 }
    batch: { max_events: 100, max_wait_ms: 5 }
  es:
    type: elasticsearch
    nodes: [${ES}]
    index: "${index}"
    batch: { max_events: 100, max_wait_ms: 5 }
  file: { type: file, path: \${DIR}/events.ndjson }
routes:
  - { name: all, match: { command: "*" }, to: [js, es, file] }
  - { name: before, match: { command: "*.CallbackBefore*" }, to: [js, es, file] }
`;
}

const KEYLESS: Array<[string, Record<string, unknown>]> = [
  ['Group.CallbackOnMemberStateChange', { CallbackCommand: 'Group.CallbackOnMemberStateChange', GroupId: '@TGS#state', EventType: 'Offline', MemberList: [{ Member_Account: 'bob' }] }],
  ['Sns.CallbackFriendAdd', { CallbackCommand: 'Sns.CallbackFriendAdd', PairList: [{ From_Account: 'alice', To_Account: 'bob', Initiator_Account: 'alice' }], ClientCmd: 'friend_add', AdminAccount: 'admin', ForceFlag: 0 }],
  ['Sns.CallbackBlackListAdd', { CallbackCommand: 'Sns.CallbackBlackListAdd', PairList: [{ From_Account: 'alice', To_Account: 'bob' }], ClientCmd: 'blacklist_add' }],
  ['Alert.RequestOverLimit', { CallbackCommand: 'Alert.RequestOverLimit', RequestCommand: 'v4/openim/sendmsg', Frequency: 200, Limit: 100 }],
  ['Group.CallbackAfterTopicInfoChanged', { CallbackCommand: 'Group.CallbackAfterTopicInfoChanged', GroupId: '@TGS#_@TGS#topic', Operator_Account: 'admin', TopicId: '@TGS#_@TGS#topic@TOPIC#_t1', Name: 'topic' }],
  ['Group.CallbackBeforeCreateTopic', { CallbackCommand: 'Group.CallbackBeforeCreateTopic', GroupId: '@TGS#_@TGS#topic', Operator_Account: 'admin', TopicName: 'new topic' }],
];

t.test('indented bodies and key-less families through NATS JetStream and Elasticsearch', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  if (!(await requireService(t, 'elasticsearch'))) return;
  const name = uniqueName('integrity');
  const stream = name.replace(/[^A-Za-z0-9]/g, '_').toUpperCase();
  const subjectPrefix = name.replace(/[^A-Za-z0-9]/g, '');
  const index = name.toLowerCase();
  const daemon = await startDaemon({ config: config(stream, subjectPrefix, index) });
  const nc = await connect({ servers: natsUrl() });
  t.teardown(async () => {
    await daemon.stop();
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.close();
    await es('DELETE', `/${index}`);
  });

  // Tencent's own sample, indented as its documentation shows it, and three more whitespace variants.
  const sample = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/callbacks/group-after-send-msg-tencent-doc.json'), 'utf8')) as { body: Record<string, unknown> };
  const word = `zephyr${Date.now().toString(36)}`;
  const variants = [
    JSON.stringify({ ...sample.body, MsgSeq: 7001, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `${word} indented` } }] }, null, 4),
    JSON.stringify({ ...sample.body, MsgSeq: 7002, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `${word} crlf` } }] }, null, 2).replaceAll('\n', '\r\n'),
    JSON.stringify({ ...sample.body, MsgSeq: 7003, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `${word} tabs` } }] }, null, '\t'),
    '\ufeff' + JSON.stringify({ ...sample.body, MsgSeq: 7004, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `${word} bom` } }] }, null, 1),
  ];
  for (const body of variants) t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', body)).status, 200);
  const found = await waitFor(() => search(index, { match: { 'data.text': word } }), (h) => h.length >= 4, 60_000, 500);
  t.equal(found.length, 4, 'four searchable documents in Elasticsearch');
  t.same(found.map((h) => h._source.data.seq).sort(), [7001, 7002, 7003, 7004]);

  // Key-less families: the same body twice, 1 s apart; and a group message redelivered.
  for (const [command, body] of KEYLESS) t.equal((await postCallback(daemon.url, command, body)).status, 200, command);
  await new Promise((r) => setTimeout(r, 1000)); // the "1 s apart": a later reception, not a wait for a result
  for (const [command, body] of KEYLESS) t.equal((await postCallback(daemon.url, command, body)).status, 200, command);
  const redelivered = groupMessage('@TGS#redelivered', 42);
  for (let i = 0; i < 2; i++) t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', redelivered)).status, 200);

  const file = path.join(daemon.dir, 'events.ndjson');
  const expected = variants.length + 2 * KEYLESS.length + 2;
  const events = await waitFor(() => readEvents(file), (e) => e.length >= expected, 60_000, 200);
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  t.equal(lines.length, expected, 'one line per event in the file sink');

  const jsm = await nc.jetstreamManager();
  for (const [command] of KEYLESS) {
    const ids = events.filter((e) => e.imcommand === command).map((e) => e.id as string);
    t.equal(ids.length, 2, `${command}: two events`);
    t.not(ids[0], ids[1], `${command}: two ids`);
    const docs = await waitFor(() => search(index, { ids: { values: ids } }), (h) => h.length >= 2, 60_000, 500);
    t.equal(docs.length, 2, `${command}: two documents in Elasticsearch`);
  }
  const info = await waitFor(() => jsm.streams.info(stream), (i) => i.state.messages >= expected - 1, 60_000, 200);
  t.equal(info.state.messages, expected - 1, 'NATS kept every key-less event twice and the redelivered message once');
  // Forged CallbackCommand values never reach a sink: 400 and quarantined, and the NATS sink stays up.
  for (const command of ['A' + '.a'.repeat(3000), 'Group.' + 'x'.repeat(10_000), 'Group.Call\u0001back']) {
    const res = await postCallback(daemon.url, command, { Anything: 1 });
    t.equal(res.status, 400, `forged command of ${command.length} characters`);
    t.match(String(res.json?.ErrorInfo), /^COMMAND_INVALID/);
  }
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#after-forgery', 1))).status, 200);
  const after = await waitFor(() => jsm.streams.info(stream), (i) => i.state.messages >= expected, 60_000, 200);
  t.equal(after.state.messages, expected, 'the next good event reached NATS');
  const sinks = ((await (await fetch(`${daemon.url}/readyz`)).json()) as { sinks: Record<string, { state: string }> }).sinks;
  t.equal(sinks.js?.state, 'up', 'the NATS sink stayed up');
  t.notOk(daemon.logs.some((l) => l.code === 'SINK_WRITE_RETRY'), 'no retries anywhere');
  const redeliveredIds = events.filter((e) => e.data?.conversation?.groupId === '@TGS#redelivered').map((e) => e.id);
  t.equal(redeliveredIds.length, 2);
  t.equal(redeliveredIds[0], redeliveredIds[1], 'the same GroupId+MsgSeq keeps its id');
  const redeliveredDocs = await search(index, { term: { _id: redeliveredIds[0] } });
  t.equal(redeliveredDocs.length, 1, 'one document for the redelivered message');
});
