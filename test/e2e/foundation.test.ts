// Issue #2 acceptance over real HTTP against the spawned daemon.
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { CLI, groupMessage, postCallback, readEvents, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';

const TOKEN = 's3cr3t-demo-token';
const SEED = {
  CallbackCommand: 'Group.CallbackAfterSendMsg',
  GroupId: '@TGS#2J4SZEAEL',
  Type: 'Public',
  From_Account: 'jared',
  Operator_Account: 'admin',
  Random: 2010324,
  MsgSeq: 123,
  MsgTime: 1490686222,
  OnlineOnlyFlag: 0,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'red packet' } }],
  CloudCustomData: 'your cloud custom data',
};

const config = (token: string) => `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps:
  - sdk_app_id: 1400000000
    token: "${token}"
queue: { dir: ./data/queue }
sinks:
  archive: { type: file, path: ./data/events.ndjson, batch: { max_wait_ms: 5 } }
routes:
  - { name: everything, match: { command: "*" }, to: [archive] }
`;

t.test('default config: the seed callback becomes a CloudEvent in ./data/events.ndjson', async (t) => {
  const daemon = await startDaemon({ config: config('') });
  t.teardown(() => daemon.stop());
  const answer = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', SEED);
  t.equal(answer.status, 200);
  t.equal(answer.body, '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}', 'exact body');
  const file = path.join(daemon.dir, 'data/events.ndjson');
  const [event] = await waitFor(() => readEvents(file), (e) => e.length === 1);
  t.match(event, {
    specversion: '1.0',
    type: 'com.tencent.im.Group.CallbackAfterSendMsg',
    source: '/tencent-im/1400000000',
    subject: 'group/@TGS#2J4SZEAEL',
    time: '2017-03-28T07:30:22Z',
    imsdkappid: '1400000000',
    imcommand: 'Group.CallbackAfterSendMsg',
    data: { raw: SEED, text: 'red packet', seq: 123 },
  });

  const again = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', SEED);
  t.equal(again.status, 200);
  const events = await waitFor(() => readEvents(file), (e) => e.length === 2);
  t.equal(events[1]!.id, events[0]!.id, 'the same callback posted twice has the same id');
});

t.test('with a token: every bad request gets its answer, none reaches the sink, the daemon stays up', async (t) => {
  const daemon: Daemon = await startDaemon({ config: config(TOKEN) });
  t.teardown(() => daemon.stop());
  const url = daemon.url;
  const command = 'Group.CallbackAfterSendMsg';
  const body = groupMessage('@TGS#auth', 1);

  t.equal((await postCallback(url, command, body, { token: TOKEN })).status, 200, 'good Sign → 200');
  const cases: Array<[string, Promise<{ status: number; json?: Record<string, unknown> }>, number, string]> = [
    ['wrong Sign', postCallback(url, command, body, { token: 'not-the-token' }), 401, 'SIGN_INVALID'],
    ['missing Sign', postCallback(url, command, body), 401, 'SIGN_MISSING'],
    ['RequestTime 10 minutes off', postCallback(url, command, body, { token: TOKEN, requestTime: Math.floor(Date.now() / 1000) - 600 }), 401, 'REQUEST_TIME_OUT_OF_WINDOW'],
    ['foreign SdkAppid', postCallback(url, command, body, { token: TOKEN, sdkAppId: '1400099999' }), 403, 'APP_UNKNOWN'],
    ['truncated JSON', postCallback(url, command, JSON.stringify(body).slice(0, 40), { token: TOKEN }), 400, 'BODY_NOT_JSON'],
    ['a JSON array', postCallback(url, command, '[1,2,3]', { token: TOKEN }), 400, 'BODY_NOT_OBJECT'],
    ['MsgSeq "abc"', postCallback(url, command, { ...body, MsgSeq: 'abc' }, { token: TOKEN }), 400, 'SCHEMA_VIOLATION'],
    ['MsgBody "x"', postCallback(url, command, { ...body, MsgBody: 'x' }, { token: TOKEN }), 400, 'SCHEMA_VIOLATION'],
    ['a 16 MiB body', postCallback(url, command, Buffer.alloc(16 * 1024 * 1024, 0x20), { token: TOKEN }), 413, 'PAYLOAD_TOO_LARGE'],
    ['wrong path', postCallback(url, command, body, { token: TOKEN, path: '/elsewhere' }), 404, 'NOT_FOUND'],
  ];
  for (const [name, promise, status, code] of cases) {
    const answer = await promise;
    t.equal(answer.status, status, `${name} → ${status}`);
    t.equal(answer.json?.ActionStatus, 'FAIL', `${name}: ActionStatus FAIL`);
    t.ok(Number(answer.json?.ErrorCode) > 0, `${name}: nonzero ErrorCode`);
    t.match(String(answer.json?.ErrorInfo), new RegExp(`^${code}: `), `${name}: ErrorInfo names ${code}`);
    const logged = await waitFor(() => daemon.logs.some((l) => l.code === code && typeof l.reason === 'string'), Boolean, 60_000).catch(() => false);
    t.ok(logged, `${name}: logged with its reason`);
  }
  const get = await fetch(`${url}/im/callback`);
  t.equal(get.status, 405, 'GET → 405');

  t.equal((await postCallback(url, command, groupMessage('@TGS#auth', 2), { token: TOKEN })).status, 200, 'still answering valid callbacks');
  const events = await waitFor(() => readEvents(path.join(daemon.dir, 'data/events.ndjson')), (e) => e.length === 2);
  t.same(events.map((e) => e.data.seq), [1, 2], 'only the two valid callbacks reached the sink');
  t.equal((await fetch(`${url}/healthz`)).status, 200);

  const list = execFileSync(process.execPath, [CLI, 'dlq', 'list', '--config', daemon.configFile, '--kind', 'request'], { encoding: 'utf8' });
  t.match(list, /BODY_NOT_JSON/, 'invalid bodies are quarantined for inspection');
  t.notMatch(list, /SIGN_INVALID/, 'unauthenticated requests are not stored');
});

t.test('before-callbacks are answered at once and not forwarded by a catch-all route', async (t) => {
  const daemon = await startDaemon({ config: config('') });
  t.teardown(() => daemon.stop());
  const answer = await postCallback(daemon.url, 'Group.CallbackBeforeSendMsg', { GroupId: 'g', Type: 'Public', From_Account: 'a', Random: 1, MsgBody: [] });
  t.equal(answer.body, '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}');
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('g', 1))).status, 200);
  const events = await waitFor(() => readEvents(path.join(daemon.dir, 'data/events.ndjson')), (e) => e.length >= 1);
  await new Promise((r) => setTimeout(r, 300));
  t.same(readEvents(path.join(daemon.dir, 'data/events.ndjson')).map((e) => e.imcommand), ['Group.CallbackAfterSendMsg']);
  t.ok(events);
});

t.test('SIGTERM drains and exits 0; `check` validates; send-sample works', async (t) => {
  const daemon = await startDaemon({ config: config('') });
  const out = execFileSync(process.execPath, [CLI, 'send-sample', '--config', daemon.configFile], { encoding: 'utf8' });
  t.match(out, /^200 Group.CallbackAfterSendMsg/m);
  t.notMatch(out, /^[45]\d\d /m, 'every sample accepted');
  t.equal(await daemon.stop(), 0, 'exit code 0');
  t.ok(daemon.logs.some((l) => l.code === 'BRIDGE_STOPPED'));
  const check = execFileSync(process.execPath, [CLI, 'check', '--config', daemon.configFile], { encoding: 'utf8' });
  t.match(check, /^ok: /m);
  t.match(check, /^warning: AUTH_DISABLED: app 1400000000 has no token/m, 'check says that signature checking is off');
});

t.test('listen.rate_limit: over the per-IP budget → 429 RATE_LIMITED', async (t) => {
  const daemon = await startDaemon({ config: config('').replace('listen: { host: 127.0.0.1, port: ${PORT}, path: /im/callback }', 'listen: { host: 127.0.0.1, port: ${PORT}, path: /im/callback, rate_limit: { per_ip_per_second: 1, burst: 5 } }') });
  t.teardown(() => daemon.stop());
  const statuses = [];
  for (let i = 1; i <= 8; i++) statuses.push((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#rate', i))).status);
  t.same(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
  t.ok(statuses.slice(5).includes(429), `then 429 (${statuses.join(',')})`);
  const limited = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#rate', 9));
  t.match(limited.json, { ActionStatus: 'FAIL', ErrorCode: 42900, ErrorInfo: /^RATE_LIMITED: / });
});
