// Issue 25: `im-bridge gaps backfill-c2c` against the REST simulator's admin_getroammsg. Some C2C
// messages arrive as callbacks, the rest only exist in Tencent's roaming history (their callbacks
// were lost). After the backfill and a daemon start, the file sink holds every message under one id:
// a message both delivered and backfilled has the same id twice (sinks that deduplicate keep one),
// the lost ones appear once, marked imorigin: backfill. Refused (exit 1) while the daemon runs.
import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { CLI, postMany, readEvents, startDaemon, waitFor } from '../../helpers/daemon.js';
import { TencentRestSim, roamMessageFor } from '../../helpers/tencent-rest-sim.js';

const APP = '1400000000';
const KEY = '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e';
const T0 = 1767225600; // 2026-01-01T00:00:00Z

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, IM_SDK_SECRET: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

/** A C2C.CallbackAfterSendMsg as Tencent sends it; every third one also carries MsgId (newer accounts). */
function c2cMessage(i: number, from: string, to: string, time = T0 + 60 + i): Record<string, unknown> {
  const seq = 5000 + i;
  const random = 70000 + i;
  return {
    CallbackCommand: 'C2C.CallbackAfterSendMsg',
    From_Account: from,
    To_Account: to,
    MsgSeq: seq,
    MsgRandom: random,
    MsgTime: time,
    MsgKey: `${seq}_${random}_${time}`,
    ...(i % 3 === 0 ? { MsgId: `144115${i}-${time}-${random}` } : {}),
    OnlineOnlyFlag: 0,
    SendMsgResult: 0,
    ErrorInfo: 'send msg succeed',
    UnreadMsgNum: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `c2c ${i}` } }],
    CloudCustomData: '',
  };
}

t.test('gaps backfill-c2c: lost C2C callbacks come back once by id, marked; delivered ones keep their id', async (t) => {
  const sim = new TencentRestSim({ sdkAppId: APP, secretKey: KEY, admins: ['administrator'] });
  sim.c2cPageLimit = 7; // several pages: LastMsgTime/LastMsgKey paging until Complete 1
  const simUrl = await sim.start();
  t.teardown(() => sim.stop());

  const messages: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 30; i++) messages.push(i % 2 === 0 ? c2cMessage(i, 'alice', 'bob') : c2cMessage(i, 'bob', 'alice'));
  // Two messages in the same second across a page edge: LastMsgKey, not the time alone, says where to go on.
  messages.push(c2cMessage(30, 'alice', 'bob', T0 + 60 + 23), c2cMessage(31, 'bob', 'alice', T0 + 60 + 23));
  const lost = new Set([1, 4, 5, 9, 16, 22, 23, 30, 31]);
  for (const m of messages) sim.storeC2C(roamMessageFor(m));
  // In the history but not to be queued: a recalled message (empty body), another conversation, outside the window.
  sim.storeC2C({ ...roamMessageFor(c2cMessage(40, 'alice', 'bob')), MsgFlagBits: 1, MsgBody: [] });
  sim.storeC2C(roamMessageFor(c2cMessage(41, 'alice', 'carol')));
  sim.storeC2C(roamMessageFor(c2cMessage(42, 'bob', 'alice', T0 + 7200)));

  const delivered = messages.filter((_, i) => !lost.has(i));
  const daemon = await startDaemon({
    env: { IM_SDK_SECRET: KEY },
    config: `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps:
  - sdk_app_id: ${APP}
    backfill: { identifier: administrator, secret_key: "\${IM_SDK_SECRET}", api_host: "${simUrl}", interval_ms: 3600000 }
queue: { dir: ./queue }
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
routes: [ { name: all, match: { command: "*" }, to: [archive] } ]
`,
  });
  t.teardown(() => daemon.stop());
  t.ok((await postMany(daemon.url, delivered.map((body) => ({ command: 'C2C.CallbackAfterSendMsg', body })), 8)).every((s) => s === 200));
  const file = path.join(daemon.dir, 'events.ndjson');
  const first = await waitFor(() => readEvents(file), (e) => e.length === delivered.length);
  const callbackIds = new Map(first.map((e) => [e.data.msgKey as string, e.id as string]));

  const args = ['gaps', 'backfill-c2c', '--app', APP, '--account', 'bob', '--peer', 'alice', '--since', '2026-01-01T00:00:00Z', '--until', '2026-01-01T01:00:00Z', '--config', daemon.configFile];
  let r = await cli(args);
  t.equal(r.code, 1, 'refused while the daemon holds the queue');
  t.match(r.stderr, /holds .*queue.*backfill-c2c needs its queue/);
  t.equal(sim.requests.length, 0, 'nothing fetched');
  await daemon.stop();

  r = await cli(['gaps', 'backfill-c2c', '--app', APP, '--account', 'bob', '--since', '1h', '--config', daemon.configFile]);
  t.equal(r.code, 2, 'a missing required option is a usage error');
  t.match(r.stderr, /--peer is required/);
  r = await cli(['gaps', 'backfill-c2c', '--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /--account USER[\s\S]*--peer USER[\s\S]*--until TIME/);

  sim.failNext(1, 10006);
  r = await cli(args);
  t.equal(r.code, 1, 'a Tencent error ends the run with exit 1');
  t.match(r.stderr, /TENCENT_REST_RETRIABLE: v4\/openim\/admin_getroammsg: ErrorCode 10006/);
  const before = sim.requests.length;

  r = await cli([...args, '--json']);
  t.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as Record<string, unknown>;
  t.match(result, { listed: 33, backfilled: 32, skipped: 1, withoutId: 0 }, 'the 32 messages of the window, the recalled one skipped');
  t.ok((result.requests as number) >= 5, `paged (${String(result.requests)} requests)`);
  const roam = sim.requests.slice(before).filter((q) => q.api === 'v4/openim/admin_getroammsg');
  t.equal(roam.length, result.requests);
  t.ok(roam.every((q) => q.answer.ErrorCode === 0 && q.query.identifier === 'administrator'), 'signed as the admin, every answer OK');
  t.same(roam[0]!.body, { Operator_Account: 'bob', Peer_Account: 'alice', MaxCnt: 100, MinTime: T0, MaxTime: T0 + 3600 });
  t.same(roam.map((q) => q.answer.Complete), [...roam.slice(1).map(() => 0), 1]);
  for (let i = 1; i < roam.length; i++) {
    t.equal(roam[i]!.body.MaxTime, roam[i - 1]!.answer.LastMsgTime, 'MaxTime = LastMsgTime');
    t.equal(roam[i]!.body.LastMsgKey, roam[i - 1]!.answer.LastMsgKey, 'LastMsgKey passed on');
  }

  const again = await daemon.restart();
  t.teardown(() => again.stop());
  const events = await waitFor(() => readEvents(path.join(again.dir, 'events.ndjson')), (e) => e.length === delivered.length + 32);
  t.equal(new Set(events.map((e) => e.id)).size, messages.length, 'every message exactly once by id');
  const backfilled = events.filter((e) => e.imorigin === 'backfill');
  t.equal(backfilled.length, 32, 'every message of the window was queued, marked');
  t.ok(events.filter((e) => e.imorigin !== 'backfill').every((e) => e.imorigin === undefined));
  for (const e of backfilled) {
    const i = Number(String(e.data.text).slice(4));
    const m = messages[i]!;
    const callbackId = callbackIds.get(m.MsgKey as string);
    if (lost.has(i)) t.equal(callbackId, undefined);
    else t.equal(e.id, callbackId, `message ${i}: delivered and backfilled, one id`);
    t.equal(e.type, 'com.tencent.im.C2C.CallbackAfterSendMsg');
    t.equal(e.subject, 'c2c/alice/bob');
    t.equal(e.time, new Date(Number(m.MsgTime) * 1000).toISOString().replace('.000Z', 'Z'));
    t.match(e.data, { sender: m.From_Account, seq: m.MsgSeq, random: m.MsgRandom, msgKey: m.MsgKey, text: `c2c ${i}`, sendMsgResult: 0, unreadMsgNum: 0, onlineOnly: false });
    if (typeof m.MsgId === 'string') t.equal(e.data.msgId, m.MsgId);
  }
  const lostIds = backfilled.filter((e) => lost.has(Number(String(e.data.text).slice(4))));
  t.equal(lostIds.length, lost.size, 'the lost ones came back');
});
