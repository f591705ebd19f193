// Issue 25: backfill against the REST simulator (test/helpers/tencent-rest-sim.ts): real UserSig
// (tls-sig-api-v2), real HTTP, a real gap monitor on a real gaps.db. The events are compared with
// those the callbacks would have produced through the same normalize().
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { Backfiller, backfillApps, classify, RestError, TencentRestClient, UserSigSource } from '../../../src/backfill/index.js';
import { GapMonitor } from '../../../src/gaps/index.js';
import { normalize, type CanonicalEvent } from '../../../src/normalize/index.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import { REPO_ROOT, groupMessage, tempDir } from '../../helpers/daemon.js';
import { TencentRestSim, restMessageFor } from '../../helpers/tencent-rest-sim.js';

const APP = '1400000000';
const KEY = '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e';
const gaps = { enabled: true, grace_ms: 0, max_groups: 1000, max_ranges_per_group: 100, max_jump: 100_000, flush_interval_ms: 1000 };

function logger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({ write: (c, _e, done) => (String(c).split('\n').filter(Boolean).forEach((l) => lines.push(JSON.parse(l))), done()) });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

const callbackEvent = (body: Record<string, unknown>) => normalize(body, { sdkAppId: APP, command: 'Group.CallbackAfterSendMsg', receivedAtMs: 1 }, { includeRaw: true });

async function setup(t: { teardown(fn: () => unknown): void }, options: { maxAttempts?: number } = {}) {
  const sim = new TencentRestSim({ sdkAppId: APP, secretKey: KEY, admins: ['administrator'] });
  const url = await sim.start();
  t.teardown(() => sim.stop());
  let now = 1_000_000;
  const metrics = new Metrics({ processMetrics: false });
  const log = logger();
  const monitor = GapMonitor.open({ dir: tempDir(), config: gaps, metrics, logger: log.logger, now: () => now });
  t.teardown(() => monitor.close());
  const queued: CanonicalEvent[] = [];
  const apps = backfillApps([{ sdk_app_id: APP, backfill: { identifier: 'administrator', secret_key: KEY, api_host: url, rate_per_second: 200, interval_ms: 1000, max_attempts: options.maxAttempts ?? 3, timeout_ms: 5000, usersig_ttl_s: 86400 } }]);
  const backfiller = new Backfiller({ monitor, apps, enqueue: async (e) => void queued.push(e), includeRaw: true, metrics, logger: log.logger, now: () => now });
  return { sim, monitor, backfiller, queued, metrics, log, tick: (ms: number) => ((now += ms), monitor.tick()) };
}

/** Tencent stores seqs 1..n of a group; the callbacks of `lost` never reach the bridge. */
function send(s: Awaited<ReturnType<typeof setup>>, groupId: string, n: number, lost: Set<number>, topicId = '') {
  for (let seq = 1; seq <= n; seq++) {
    const body = { ...groupMessage(groupId, seq), ...(topicId ? { TopicId: topicId, Type: 'Community' } : {}) };
    s.sim.store(groupId, restMessageFor(body), topicId);
    if (!lost.has(seq)) s.monitor.observe(callbackEvent(body));
  }
}

async function metric(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((n, v) => n + Number(v.value), 0);
}

t.test('the missing messages come back as the events their callbacks would have been', async (t) => {
  const s = await setup(t);
  // g1: a single seq; g2: a run longer than a page (20), paged down; g3: one deleted at Tencent.
  send(s, 'g1', 10, new Set([4]));
  send(s, 'g2', 60, new Set(Array.from({ length: 45 }, (_, i) => 8 + i)));
  send(s, 'g3', 10, new Set([5, 6]));
  send(s, 'community', 6, new Set([3]), 'topic-a');
  s.sim.delete('g3', 6);
  s.tick(1);
  t.equal(s.monitor.report().missing, 1 + 45 + 2 + 1);

  const result = await s.backfiller.run();
  t.same(result, { ranges: 4, backfilled: 1 + 45 + 1 + 1, placeholders: 1, failed: 0 });
  t.equal(s.monitor.report().missing, 0, 'every gap closed');
  t.equal(s.monitor.report().openGaps, 0);
  const g2Requests = s.sim.requests.filter((r) => r.body.GroupId === 'g2');
  t.same(g2Requests.map((r) => [r.body.ReqMsgSeq, r.body.ReqMsgNumber]), [[52, 20], [32, 20], [12, 5]], 'paged newest first, 20 at most');
  t.ok(s.sim.requests.every((r) => r.answer.ErrorCode === 0), 'the UserSig passed verification');
  t.equal(s.sim.requests.find((r) => r.body.GroupId === 'community')!.body.TopicId, 'topic-a', 'a topic is asked by TopicId');

  // Same id, type, subject and data as the callback's event; marked; no event for the deleted seq.
  t.equal(s.queued.length, 48);
  for (const event of s.queued) {
    const seq = event.data.seq!;
    const groupId = event.data.conversation.groupId!;
    const body = { ...groupMessage(groupId, seq), ...(groupId === 'community' ? { TopicId: 'topic-a', Type: 'Community' } : {}) };
    const expected = callbackEvent(body);
    t.equal(event.id, expected.id, `${groupId}#${seq}: same id`);
    t.equal((event as CanonicalEvent & { imorigin?: string }).imorigin, 'backfill');
    t.equal(event.type, expected.type);
    t.equal(event.subject, expected.subject);
    const strip = (d: Record<string, unknown>) => {
      const { receivedAtMs: _r, eventTimeMs: _e, raw: _raw, onlineOnly: _o, ...rest } = d;
      return rest;
    };
    t.same(strip(event.data), strip(expected.data), `${groupId}#${seq}: same data`);
  }
  t.notOk(s.queued.some((e) => e.data.conversation.groupId === 'g3' && e.data.seq === 6), 'IsPlaceMsg: nothing queued');
  t.equal(await metric(s.metrics, 'im_bridge_group_seq_gaps_closed_seqs_total', { how: 'place_msg' }), 1, 'IsPlaceMsg closes the seq, counted');
  t.equal(await metric(s.metrics, 'im_bridge_backfill_events_total', { outcome: 'backfilled' }), 48);

  // Nothing left: a second run asks nothing.
  const before = s.sim.requests.length;
  t.same(await s.backfiller.run(), { ranges: 0, backfilled: 0, placeholders: 0, failed: 0 });
  t.equal(s.sim.requests.length, before, 'a closed gap (place_msg included) is never asked again');

  // A late callback after its backfill is a duplicate, not a new gap.
  s.monitor.observe(callbackEvent(groupMessage('g1', 4)));
  t.equal(await metric(s.metrics, 'im_bridge_group_seq_duplicates_total'), 1);
});

t.test('Tencent error codes: retriable ones back off and succeed, a gone group and a wrong key stop', async (t) => {
  const s = await setup(t);
  send(s, 'g1', 5, new Set([2]));
  s.tick(1);
  s.sim.failNext(2, 10002);
  let r = await s.backfiller.run();
  t.same([r.backfilled, r.failed], [0, 1], 'internal error: left open');
  r = await s.backfiller.run();
  t.equal(r.ranges, 0, 'backing off: not asked again at once');
  s.tick(1000);
  r = await s.backfiller.run();
  t.same([r.backfilled, r.failed], [0, 1], 'second failure');
  s.tick(2000);
  r = await s.backfiller.run();
  t.same([r.backfilled, r.failed], [1, 0], 'then it works');
  t.ok(s.log.lines.some((l) => l.code === 'BACKFILL_RETRY'));

  // A group dismissed at Tencent: given up, listed, never asked again.
  send(s, 'gone', 5, new Set([3]));
  s.tick(1);
  s.sim.failNext(1, 10010);
  r = await s.backfiller.run();
  t.equal(r.failed, 1);
  t.ok(s.log.lines.some((l) => l.code === 'BACKFILL_GROUP_GONE' && l.groupId === 'gone'));
  s.tick(600_000);
  t.equal((await s.backfiller.run()).ranges, 0, 'given up');
  t.equal(s.monitor.report().missing, 1, 'still listed as missing');

  t.equal(classify(10006), 'retriable');
  t.equal(classify(70001), 'retriable');
  t.equal(classify(10015), 'group_gone');
  t.equal(classify(70009), 'fatal');
  t.equal(classify(60010), 'fatal');
});

t.test('UserSig: made by tls-sig-api-v2, checked by the simulator; a wrong key or a non-admin is fatal', async (t) => {
  const sim = new TencentRestSim({ sdkAppId: APP, secretKey: KEY, admins: ['administrator'] });
  const url = await sim.start();
  t.teardown(() => sim.stop());
  sim.store('g', restMessageFor(groupMessage('g', 1)));
  const client = (key: string, identifier = 'administrator') => new TencentRestClient({ apiHost: url, userSig: new UserSigSource(APP, identifier, key, 86400), ratePerSecond: 100, timeoutMs: 5000 });
  const ok = await client(KEY).groupMsgGetSimple({ GroupId: 'g', ReqMsgNumber: 1 });
  t.equal(ok.RspMsgList?.[0]?.MsgSeq, 1);
  const wrongKey = await client('0'.repeat(64)).groupMsgGetSimple({ GroupId: 'g', ReqMsgNumber: 1 }).catch((e: unknown) => e);
  t.ok(wrongKey instanceof RestError && wrongKey.errorCode === 70009 && wrongKey.verdict === 'fatal', 'wrong secret key: 70009, fatal');
  const notAdmin = await client(KEY, 'someone').groupMsgGetSimple({ GroupId: 'g', ReqMsgNumber: 1 }).catch((e: unknown) => e);
  t.ok(notAdmin instanceof RestError && notAdmin.errorCode === 60010 && notAdmin.verdict === 'fatal', 'not an admin: 60010, fatal');
  const tooMany = await client(KEY).groupMsgGetSimple({ GroupId: 'g', ReqMsgNumber: 21 }).catch((e: unknown) => e);
  t.ok(tooMany instanceof RestError && tooMany.errorCode === 10004, 'ReqMsgNumber over 20: 10004');
  const sigDoc = sim.requests[0]!.query.usersig!;
  t.match(sigDoc, /^[A-Za-z0-9*_-]+$/, 'base64url as Tencent escapes it');
});

t.test('the documented answer shape: the simulator answers with the fields of the docs sample, and the sample maps', async (t) => {
  const fixture = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/tencent-rest/group_msg_get_simple.response.json'), 'utf8')) as Record<string, any>;
  const sim = new TencentRestSim({ sdkAppId: APP, secretKey: KEY, admins: ['administrator'] });
  const url = await sim.start();
  t.teardown(() => sim.stop());
  for (const m of fixture.RspMsgList) sim.store(fixture.GroupId, m);
  const client = new TencentRestClient({ apiHost: url, userSig: new UserSigSource(APP, 'administrator', KEY, 86400), ratePerSecond: 100, timeoutMs: 5000 });
  const answer = await client.groupMsgGetSimple({ GroupId: fixture.GroupId, ReqMsgSeq: 7803321, ReqMsgNumber: 2 });
  t.same(Object.keys(answer).sort(), Object.keys(fixture).sort(), 'top-level fields');
  t.same(Object.keys(answer.RspMsgList![0]!).sort(), Object.keys(fixture.RspMsgList[0]).sort(), 'message fields');
  t.same(answer.RspMsgList, fixture.RspMsgList, 'the sample, newest first');
});
