/**
 * Event integrity at the edges, through the real daemon and the real file sink (issue 18):
 * one event is one line whatever the body's whitespace; a body means one thing (duplicate keys are
 * refused); CallbackCommand has a shape; ids never merge two receptions of a key-less body while
 * Tencent's keys keep redeliveries together; a plugin that throws while preparing one event fails that
 * event alone; a forwarded before-callback the queue refuses is counted and logged.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CLI, REPO_ROOT, groupMessage, postCallback, postMany, readEvents, startDaemon, waitFor } from '../helpers/daemon.js';
import { metric, queueRows } from '../helpers/observe.js';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/callbacks');
const fixture = (name: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as { query: Record<string, string>; body: Record<string, unknown> };

function fileConfig(extra = ''): string {
  return `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue }
log: { level: info }
sinks:
  out: { type: file, path: \${DIR}/events.ndjson, batch: { max_events: 100, max_wait_ms: 5 } }
${extra}
routes:
  - { name: all, match: { command: "*" }, to: [out] }
`;
}

function lines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

t.test('one event, one line: indented, CRLF, tab and BOM bodies are stored compact; a compact body is spliced verbatim', async (t) => {
  const daemon = await startDaemon({ config: fileConfig() });
  t.teardown(() => daemon.stop());
  const sample = fixture('group-after-send-msg-tencent-doc');
  const command = sample.query.CallbackCommand!;
  const variants: Array<[string, string]> = [
    ['indented as in Tencent\'s docs', JSON.stringify({ ...sample.body, MsgSeq: 9001 }, null, 4)],
    ['CRLF line ends', JSON.stringify({ ...sample.body, MsgSeq: 9002 }, null, 2).replaceAll('\n', '\r\n')],
    ['tabs', JSON.stringify({ ...sample.body, MsgSeq: 9003 }, null, '\t')],
    ['BOM + spaces', '\ufeff' + JSON.stringify({ ...sample.body, MsgSeq: 9004 }).replaceAll('":', '" : ').replaceAll(',"', ' , "')],
  ];
  const compact = JSON.stringify(groupMessage('@TGS#compact', 1, 'a text with  spaces,\ttabs and "quotes"\n')).replace(/}$/, ',"Big":144115212830834855}');
  for (const [what, body] of variants) t.equal((await postCallback(daemon.url, command, body)).status, 200, what);
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', compact)).status, 200, 'compact body');
  const file = path.join(daemon.dir, 'events.ndjson');
  await waitFor(() => lines(file).length, (n) => n >= 5, 30_000);
  const stored = lines(file);
  t.equal(stored.length, 5, 'five events, five lines');
  // Events of different conversations may be written in any order: find each line by its seq.
  const lineOf = (seq: number, group: string) => stored.find((l) => (JSON.parse(l) as { data: { seq?: number; conversation?: { groupId?: string } } }).data.seq === seq && l.includes(group))!;
  for (const [i, [what, body]] of variants.entries()) {
    const line = lineOf(9001 + i, String(sample.body.GroupId));
    t.ok(line, `${what}: stored`);
    const event = JSON.parse(line) as { data: { raw: unknown; seq: number } };
    t.same(event.data.raw, JSON.parse(body.replace(/^\ufeff/, '')), `${what}: data.raw equals the body`);
    t.notOk(/\s/.test(line.replace(/"(?:[^"\\]|\\.)*"/g, '""')), `${what}: no whitespace between tokens`);
  }
  const compactLine = lineOf(1, '@TGS#compact');
  t.ok(compactLine.endsWith(`,"raw":${compact}}}`), 'a compact body is spliced byte for byte (64-bit numbers stay exact)');
  t.ok(compactLine.includes('144115212830834855'), 'the 64-bit number is exact');
});

t.test('one reading of the body: duplicate keys are refused with 400 BODY_DUPLICATE_KEY and quarantined', async (t) => {
  const daemon = await startDaemon({ config: fileConfig() });
  t.teardown(() => daemon.stop());
  const dup = '{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#first","GroupId":"@TGS#second","Type":"Public","From_Account":"a","MsgSeq":1,"MsgBody":[]}';
  const nested = '{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#n","Type":"Public","From_Account":"a","MsgSeq":2,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"a","Text":"b"}}]}';
  const fine = '{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#ok","Type":"Public","From_Account":"a:b","MsgSeq":3,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x: {\\"Text\\": 1}"}}],"A":{"Text":1},"B":{"Text":2}}';
  for (const body of [dup, nested]) {
    const res = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', body);
    t.equal(res.status, 400);
    t.match(String(res.json?.ErrorInfo), /^BODY_DUPLICATE_KEY: body has the key "(GroupId|Text)" twice/);
  }
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', fine)).status, 200, 'equal keys in different objects and colons in strings are fine');
  const quarantined = await waitFor(() => queueRows(daemon.dir, "SELECT error_code FROM dead_letters WHERE kind = 'request'"), (r) => r.length >= 2);
  t.same(quarantined.map((r) => r.error_code), ['BODY_DUPLICATE_KEY', 'BODY_DUPLICATE_KEY']);
});

t.test('CallbackCommand has a shape: forged values get 400 COMMAND_INVALID and are quarantined; good events flow', async (t) => {
  const daemon = await startDaemon({ config: fileConfig() });
  t.teardown(() => daemon.stop());
  const forged = ['A' + '.a'.repeat(3000), 'Group.' + 'x'.repeat(10_000), 'Group.Callback\u0000After', 'Group.Send\nMsg', 'Group..Send', '../../etc.passwd', 'Group.CallbackAfterSendMsg.extra', '1Group.X', 'Group.'];
  for (const command of forged) {
    const viaQuery = await postCallback(daemon.url, command, groupMessage('@TGS#forged', 1));
    t.equal(viaQuery.status, 400, `query ${JSON.stringify(command.slice(0, 30))}`);
    t.match(String(viaQuery.json?.ErrorInfo), /^COMMAND_INVALID: /);
    const viaBody = await postCallback(daemon.url, '', { ...groupMessage('@TGS#forged', 2), CallbackCommand: command });
    t.equal(viaBody.status, 400, `body ${JSON.stringify(command.slice(0, 30))}`);
  }
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#good', 1))).status, 200);
  t.equal((await postCallback(daemon.url, 'Future.CallbackAfterSomethingNew', { Anything: 1 })).status, 200, 'an unknown command of the right shape passes through');
  const file = path.join(daemon.dir, 'events.ndjson');
  await waitFor(() => readEvents(file).length, (n) => n >= 2);
  t.same(readEvents(file).map((e) => e.imcommand).sort(), ['Future.CallbackAfterSomethingNew', 'Group.CallbackAfterSendMsg'], 'only the two good events (order across subjects is free)');
  const quarantined = await waitFor(() => queueRows(daemon.dir, "SELECT error_code FROM dead_letters WHERE kind = 'request'"), (r) => r.length >= forged.length * 2);
  t.ok(quarantined.every((r) => r.error_code === 'COMMAND_INVALID'), `${quarantined.length} forged requests quarantined with COMMAND_INVALID`);
  t.equal(await metric(daemon.url, 'im_bridge_requests_rejected_total', { code: 'COMMAND_INVALID' }), forged.length * 2, 'counted');
});

/** Key-less families: bodies with no unique key and no time of their own (Tencent's documented shapes). */
const KEYLESS: Array<[string, Record<string, unknown>]> = [
  ['Group.CallbackOnMemberStateChange', { CallbackCommand: 'Group.CallbackOnMemberStateChange', GroupId: '@TGS#state', EventType: 'Offline', MemberList: [{ Member_Account: 'bob' }] }],
  ['Sns.CallbackFriendAdd', { CallbackCommand: 'Sns.CallbackFriendAdd', PairList: [{ From_Account: 'alice', To_Account: 'bob', Initiator_Account: 'alice' }], ClientCmd: 'friend_add', AdminAccount: 'admin', ForceFlag: 0 }],
  ['Sns.CallbackFriendDelete', { CallbackCommand: 'Sns.CallbackFriendDelete', PairList: [{ From_Account: 'alice', To_Account: 'bob' }], ClientCmd: 'friend_delete' }],
  ['Sns.CallbackBlackListAdd', { CallbackCommand: 'Sns.CallbackBlackListAdd', PairList: [{ From_Account: 'alice', To_Account: 'bob' }], ClientCmd: 'blacklist_add' }],
  ['Sns.CallbackBlackListDelete', { CallbackCommand: 'Sns.CallbackBlackListDelete', PairList: [{ From_Account: 'alice', To_Account: 'bob' }], ClientCmd: 'blacklist_delete' }],
  ['Alert.RequestOverLimit', { CallbackCommand: 'Alert.RequestOverLimit', RequestCommand: 'v4/openim/sendmsg', Frequency: 200, Limit: 100 }],
  ['Group.CallbackAfterTopicInfoChanged', { CallbackCommand: 'Group.CallbackAfterTopicInfoChanged', GroupId: '@TGS#_@TGS#topic', Operator_Account: 'admin', TopicId: '@TGS#_@TGS#topic@TOPIC#_t1', Name: 'topic' }],
  ['Group.CallbackBeforeCreateTopic', { CallbackCommand: 'Group.CallbackBeforeCreateTopic', GroupId: '@TGS#_@TGS#topic', Operator_Account: 'admin', TopicName: 'new topic' }],
];

t.test('ids: two receptions of a key-less body are two events; Tencent keys keep redeliveries together', async (t) => {
  const daemon = await startDaemon({ config: fileConfig() });
  t.teardown(() => daemon.stop());
  for (const [command, body] of KEYLESS) {
    t.equal((await postCallback(daemon.url, command, body)).status, 200);
    t.equal((await postCallback(daemon.url, command, body)).status, 200);
  }
  const keyed: Array<[string, Record<string, unknown>]> = [
    ['Group.CallbackAfterSendMsg', groupMessage('@TGS#keyed', 7)],
    ['C2C.CallbackAfterSendMsg', fixture('c2c-after-send-image').body],
    ['State.StateChange', fixture('state-change-login-ios').body],
  ];
  for (const [command, body] of keyed) for (let i = 0; i < 2; i++) t.equal((await postCallback(daemon.url, command, body)).status, 200);
  const file = path.join(daemon.dir, 'events.ndjson');
  const total = 2 * KEYLESS.filter(([c]) => !c.includes('Before')).length + 2 * keyed.length;
  // Before-callbacks are not routed to a sink here unless a route names them: all.* matches them too.
  const events = await waitFor(() => readEvents(file), (e) => e.length >= total);
  for (const [command] of KEYLESS) {
    const ids = events.filter((e) => e.imcommand === command).map((e) => e.id);
    if (ids.length === 0) continue;
    t.equal(ids.length, 2, `${command}: two events`);
    t.not(ids[0], ids[1], `${command}: two ids`);
  }
  for (const [command] of keyed) {
    const ids = events.filter((e) => e.imcommand === command).map((e) => e.id);
    t.equal(ids.length, 2, `${command}: two deliveries`);
    t.equal(ids[0], ids[1], `${command}: one id (Tencent's key or the body's own time)`);
  }
});

t.test('a plugin that throws while preparing one event: that event fails alone; 100 good ones delivered once, no retries for them', async (t) => {
  const plugin = path.join(REPO_ROOT, 'test/fixtures/plugins/throws-while-preparing.mjs');
  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue }
log: { level: info }
sinks:
  out:
    type: plugin
    module: ${plugin}
    path: \${DIR}/out.ndjson
    batch: { max_events: 200, max_wait_ms: 200 }
    retry: { initial_backoff_ms: 50, max_backoff_ms: 100, max_attempts: 3 }
routes:
  - { name: all, match: { command: "*" }, to: [out] }
`;
  const daemon = await startDaemon({ config });
  t.teardown(() => daemon.stop());
  const items = Array.from({ length: 100 }, (_, i) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`@TGS#p${i % 4}`, Math.floor(i / 4) + 1) }));
  items.splice(50, 0, { command: 'Group.CallbackAfterSendMsg', body: groupMessage('@TGS#p9', 1, 'POISON') });
  t.same(new Set(await postMany(daemon.url, items, 16)), new Set([200]));
  const dead = await waitFor(() => queueRows(daemon.dir, "SELECT error_code FROM dead_letters WHERE kind = 'event'"), (r) => r.length >= 1, 60_000);
  const file = path.join(daemon.dir, 'out.ndjson');
  const delivered = await waitFor(() => readEvents(file), (e) => e.length >= 100, 60_000);
  t.equal(delivered.length, 100, '100 lines');
  t.equal(new Set(delivered.map((e) => e.id)).size, 100, 'each good event once');
  t.notOk(delivered.some((e) => String(e.data.text).includes('POISON')));
  t.equal(dead.length, 1, 'only the poison dead-lettered');
  t.match(dead[0]!.error_code, /SINK_UNEXPECTED_ERROR/);
  t.ok((await metric(daemon.url, 'im_bridge_events_retried_total', { sink: 'out' })) <= 2, 'retries only for the poison (max_attempts 3)');
  t.ok(daemon.logs.some((l) => l.code === 'SINK_BATCH_ISOLATED'), 'the isolation is logged');
});

t.test('a forwarded before-callback that the queue refuses is answered, counted and logged, never silent', async (t) => {
  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue, max_events: 20 }
log: { level: info }
sinks:
  dead: { type: webhook, url: "http://127.0.0.1:9/nothing", retry: { max_attempts: 1000 } }
routes:
  - { name: all, match: { command: "*" }, to: [dead] }
  - { name: before, match: { command: "Group.CallbackBefore*" }, to: [dead] }
`;
  const daemon = await startDaemon({ config });
  t.teardown(() => daemon.stop());
  const statuses = await postMany(daemon.url, Array.from({ length: 25 }, (_, i) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage('@TGS#full', i + 1) })), 1);
  t.ok(statuses.includes(503), 'the queue is full');
  for (let i = 0; i < 5; i++) {
    const res = await postCallback(daemon.url, 'Group.CallbackBeforeSendMsg', { ...groupMessage('@TGS#before', 100 + i), CallbackCommand: 'Group.CallbackBeforeSendMsg' });
    t.equal(res.status, 200, 'Tencent gets its answer at once');
  }
  // Every series of im_bridge_events_dropped_total has reason="before_callback_not_queued:<queue code>".
  const dropped = await waitFor(() => metric(daemon.url, 'im_bridge_events_dropped_total'), (n) => n >= 5);
  t.equal(dropped, 5, 'five drops counted');
  // The log lines reach this process through the daemon's stdout, after the counter: wait for them.
  const logged = await waitFor(() => daemon.logs.filter((l) => l.code === 'BEFORE_CALLBACK_NOT_QUEUED').length, (n) => n >= 5);
  t.equal(logged, 5, 'five log lines with a code');
});

t.test('events waiting for a removed sink: visible in /readyz, metrics and queue stats, movable; replay to an unknown sink refused', async (t) => {
  const withGone = fileConfig(`  gone: { type: webhook, url: "http://127.0.0.1:9/nothing", retry: { max_attempts: 1000 } }`).replace('to: [out] }', 'to: [out, gone] }');
  const daemon = await startDaemon({ config: withGone });
  const statuses = await postMany(daemon.url, Array.from({ length: 5 }, (_, i) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage('@TGS#orphan', i + 1) })), 1);
  t.same(statuses, [200, 200, 200, 200, 200]);
  const file = path.join(daemon.dir, 'events.ndjson');
  await waitFor(() => readEvents(file).length, (n) => n >= 5);
  await daemon.stop();
  fs.writeFileSync(daemon.configFile, fs.readFileSync(daemon.configFile, 'utf8').replace(/^ {2}gone:.*\n/m, '').replace('to: [out, gone] }', 'to: [out] }'));
  const again = await startDaemon({ config: fs.readFileSync(daemon.configFile, 'utf8'), dir: daemon.dir, port: daemon.port });
  t.teardown(() => again.stop());
  const ready = (await (await fetch(`${again.url}/readyz`)).json()) as { orphaned?: Record<string, { pending: number }> };
  t.equal(ready.orphaned?.gone?.pending, 5, '/readyz lists the 5 events waiting for the removed sink');
  t.equal(await metric(again.url, 'im_bridge_queue_depth_events', { sink: 'gone' }), 5, 'and /metrics has their depth');
  t.ok(again.logs.some((l) => l.code === 'QUEUE_ORPHANED_EVENTS' && l.sinkName === 'gone'), 'logged with a code');

  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args, '--config', again.configFile], { encoding: 'utf8' });
  const stats = cli('queue', 'stats');
  t.match(stats.stdout, /gone: depth 5, .*not configured/, 'queue stats marks it');
  for (const args of [['dlq', 'replay', '--to-sink', 'nope'], ['dlq', 'replay', '--sink', 'nope'], ['queue', 'move', '--from', 'gone', '--to-sink', 'nope']]) {
    const refused = cli(...args);
    t.equal(refused.status, 2, `${args.join(' ')}: exit 2`);
    t.match(refused.stderr, /no such sink in .*\(sinks: out\)/);
  }
  const moved = cli('queue', 'move', '--from', 'gone', '--to-sink', 'out');
  t.equal(moved.status, 0, moved.stderr);
  t.match(moved.stdout, /moved 5 event\(s\)/);
  // The running daemon picks the moved events up: the 5 arrive again at `out`, same ids.
  const events = await waitFor(() => readEvents(file), (e) => e.length >= 10, 60_000);
  t.equal(new Set(events.map((e) => e.id)).size, 5, 'the same 5 ids');
  // A probe whose connection fails is asked again (a keep-alive connection can be closed under it);
  // a daemon that is gone fails the test with its exit and its last lines.
  const orphans = async (): Promise<unknown> => {
    try {
      return ((await (await fetch(`${again.url}/readyz`)).json()) as { orphaned?: unknown }).orphaned ?? 'none';
    } catch (error) {
      if (again.process.exitCode !== null || again.process.signalCode !== null) throw new Error(`the daemon exited (${again.process.exitCode ?? again.process.signalCode}): ${again.stdout().slice(-2000)}`);
      return `probe failed: ${(error as Error).message}`;
    }
  };
  await waitFor(orphans, (o) => o === 'none', 30_000, 500);
  t.pass('nothing orphaned any more');
});
