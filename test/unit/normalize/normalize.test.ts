import t from 'tap';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { normalize, isBeforeCallback, familyOf } from '../../../src/normalize/index.js';
import type { CallbackMeta, CanonicalEvent } from '../../../src/normalize/event.js';
import { normalizePlatform } from '../../../src/normalize/platform.js';
import { eventTimeToMs, formatRfc3339 } from '../../../src/normalize/time.js';
import { canonicalJson, hashId } from '../../../src/normalize/ids.js';
import { camelKey } from '../../../src/normalize/common.js';
import { MAX_RELAY_DEPTH, normalizeElement } from '../../../src/normalize/elements.js';
import { createCallbackValidator } from '../../../src/ingest/schemas/index.js';
import { SAMPLE_CALLBACKS } from '../../../src/ingest/samples.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '../../fixtures/callbacks');
const goldens = join(here, '../../fixtures/golden');
const RECEIVED_AT = 1767225600000;
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const RECEPTION_ID = '<per reception>';

interface Fixture {
  query: Record<string, string>;
  body: Record<string, unknown>;
}

function metaOf(query: Record<string, string>, receivedAtMs = RECEIVED_AT): CallbackMeta {
  const meta: CallbackMeta = {
    sdkAppId: query.SdkAppid ?? '',
    command: query.CallbackCommand ?? '',
    receivedAtMs,
  };
  if (query.ClientIP !== undefined) meta.clientIp = query.ClientIP;
  if (query.OptPlatform !== undefined) meta.optPlatform = query.OptPlatform;
  return meta;
}

function load(name: string): Fixture {
  return JSON.parse(readFileSync(join(fixtures, name + '.json'), 'utf8')) as Fixture;
}

const jsonClone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const APP = '1400000000';
const meta = (command: string, extra: Partial<CallbackMeta> = {}): CallbackMeta => ({
  sdkAppId: APP,
  command,
  receivedAtMs: RECEIVED_AT,
  ...extra,
});

t.test('golden files', async (t) => {
  const names = readdirSync(fixtures)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
  t.ok(names.length >= 15, `at least 15 fixtures (${names.length})`);
  const validator = createCallbackValidator();
  for (const name of names) {
    t.test(name, async (t) => {
      const fx = load(name);
      const rawCopy = jsonClone(fx.body);
      t.same(validator.validate(fx.query.CallbackCommand ?? '', fx.body), { ok: true }, 'fixture passes its schema');
      const event = normalize(fx.body, metaOf(fx.query), { includeRaw: true });
      t.same(fx.body, rawCopy, 'normalize does not mutate the body');
      const actual = jsonClone(event);
      // A body with no key and no time of its own gets an id per reception (ids.ts): not reproducible,
      // so the golden holds a placeholder and the test checks that a second reception differs.
      const again = normalize(fx.body, metaOf(fx.query), { includeRaw: true });
      if (again.id !== event.id) actual.id = RECEPTION_ID;
      const goldenPath = join(goldens, name + '.json');
      if (UPDATE || !existsSync(goldenPath)) {
        writeFileSync(goldenPath, JSON.stringify(actual, null, 2) + '\n');
        t.pass(`wrote ${name}.json`);
        return;
      }
      const expected = JSON.parse(readFileSync(goldenPath, 'utf8')) as unknown;
      t.same(actual, expected, 'matches golden (UPDATE_GOLDEN=1 to rewrite)');
      // strict key-by-key JSON equality, including key order
      t.equal(JSON.stringify(actual, null, 2) + '\n', readFileSync(goldenPath, 'utf8'));
    });
  }
});

t.test('Tencent documented sample', async (t) => {
  const s = SAMPLE_CALLBACKS[0]!;
  t.equal(s.command, 'Group.CallbackAfterSendMsg');
  const e = normalize(s.body, meta(s.command, { optPlatform: 'Android', clientIp: '203.0.113.7' }), { includeRaw: true });
  t.equal(e.time, '2017-03-28T07:30:22Z');
  t.equal(e.specversion, '1.0');
  t.equal(e.type, 'com.tencent.im.Group.CallbackAfterSendMsg');
  t.equal(e.source, '/tencent-im/1400000000');
  t.equal(e.subject, 'group/@TGS#2J4SZEAEL');
  t.equal(e.datacontenttype, 'application/json');
  t.equal(e.imsdkappid, APP);
  t.equal(e.imcommand, 'Group.CallbackAfterSendMsg');
  t.equal(e.implatform, 'Android');
  t.equal(e.imclientip, '203.0.113.7');
  t.match(e.id, /^[0-9a-f]{32}$/);
  t.equal(e.id, hashId(`${APP}|Group.CallbackAfterSendMsg|@TGS#2J4SZEAEL||123`));
  t.equal(e.data.family, 'group');
  t.equal(e.data.before, false);
  t.same(e.data.conversation, { kind: 'group', groupId: '@TGS#2J4SZEAEL', groupType: 'Public' });
  t.equal(e.data.sender, 'jared');
  t.equal(e.data.operator, 'admin');
  t.equal(e.data.seq, 123);
  t.equal(e.data.random, 2010324);
  t.equal(e.data.text, 'red packet');
  t.equal(e.data.cloudCustomData, 'your cloud custom data');
  t.equal(e.data.eventTimeMs, 1670574414123);
  t.equal(e.data.receivedAtMs, RECEIVED_AT);
  t.same(e.data.elements, [{ type: 'TIMTextElem', kind: 'text', content: { text: 'red packet' } }]);
});

t.test('command fallback to body.CallbackCommand; unknown commands', async (t) => {
  const body = { CallbackCommand: 'C2C.CallbackAfterMsgReport', Report_Account: 'b', Peer_Account: 'a' };
  const e = normalize(body, meta(''), { includeRaw: false });
  t.equal(e.imcommand, 'C2C.CallbackAfterMsgReport');
  t.equal(e.subject, 'c2c/a/b');
  const u = normalize({ Foo: { Bar: 1 } }, meta(''), { includeRaw: true });
  t.equal(u.imcommand, 'Unknown');
  t.equal(u.data.family, 'unknown');
  t.equal(u.subject, `app/${APP}`);
  t.same(u.data.raw, { Foo: { Bar: 1 } });
  t.notOk('implatform' in u, 'implatform omitted when absent');
  t.notOk('imclientip' in u, 'imclientip omitted when absent');
  const g = normalize({ GroupId: 'g1', Type: 'Private', Whatever: 1 }, meta('Group.CallbackAfterSomethingNew'), {
    includeRaw: true,
  });
  t.equal(g.subject, 'group/g1');
  t.equal(g.data.conversation.groupType, 'Work');
  t.equal(g.data.family, 'group');
});

t.test('id stability', async (t) => {
  const fx = load('group-member-exit-kicked');
  const m = metaOf(fx.query);
  const a = normalize(fx.body, m, { includeRaw: true });
  const b = normalize(jsonClone(fx.body), { ...m, receivedAtMs: RECEIVED_AT + 5000 }, { includeRaw: false });
  t.equal(a.id, b.id, 'same body twice (and another receive time) → same id');
  // permute key order, recursively
  const permuted: Record<string, unknown> = {};
  for (const k of Object.keys(fx.body).reverse()) {
    const v = fx.body[k];
    permuted[k] = Array.isArray(v)
      ? v.map((x) => Object.fromEntries(Object.entries(x as object).reverse()))
      : v;
  }
  t.not(JSON.stringify(permuted), JSON.stringify(fx.body));
  t.equal(normalize(permuted, m, { includeRaw: true }).id, a.id, 'key order does not matter');
  const changed = { ...fx.body, ExitType: 'Quit' };
  t.not(normalize(changed, m, { includeRaw: true }).id, a.id, 'a different body → a different id');
  t.not(normalize(fx.body, { ...m, sdkAppId: '1400000001' }, { includeRaw: true }).id, a.id, 'sdkAppId is in the key');
  t.not(normalize(fx.body, { ...m, command: 'Group.CallbackAfterMemberExit2' }, { includeRaw: true }).id, a.id);

  const msg = load('group-after-send-msg-tencent-doc');
  const m1 = normalize(msg.body, metaOf(msg.query), { includeRaw: true });
  const m2 = normalize({ ...msg.body, MsgSeq: 124 }, metaOf(msg.query), { includeRaw: true });
  t.not(m1.id, m2.id, 'different MsgSeq → different id');
  const m3 = normalize({ ...msg.body, EventTime: '1670574419999', CloudCustomData: 'x' }, metaOf(msg.query), {
    includeRaw: true,
  });
  t.equal(m1.id, m3.id, 'group message id depends on GroupId/TopicId/MsgSeq only');
  const m4 = normalize({ ...msg.body, TopicId: 't1' }, metaOf(msg.query), { includeRaw: true });
  t.not(m1.id, m4.id, 'TopicId is part of the key');

  // AVChatRoom: MsgId, else From_Account|Random|MsgTime
  const av = { ...msg.body, Type: 'AVChatRoom' };
  const avId = normalize(av, metaOf(msg.query), { includeRaw: true }).id;
  t.equal(avId, hashId(`${APP}|Group.CallbackAfterSendMsg|@TGS#2J4SZEAEL|jared|2010324|1490686222`));
  t.equal(normalize({ ...av, MsgSeq: 999 }, metaOf(msg.query), { includeRaw: true }).id, avId, 'AVChatRoom ignores MsgSeq');
  const avMsgId = normalize({ ...av, MsgId: 'mid-1' }, metaOf(msg.query), { includeRaw: true }).id;
  t.equal(avMsgId, hashId(`${APP}|Group.CallbackAfterSendMsg|@TGS#2J4SZEAEL|msgid|mid-1`));

  // C2C: MsgId when present, else MsgKey
  const c2c = load('c2c-after-send-image');
  const c1 = normalize(c2c.body, metaOf(c2c.query), { includeRaw: true });
  t.equal(c1.id, hashId(`${APP}|C2C.CallbackAfterSendMsg|msgid|144115298765432109-1767225712-1748820093`));
  const noMsgId = { ...c2c.body };
  delete noMsgId.MsgId;
  t.equal(
    normalize(noMsgId, metaOf(c2c.query), { includeRaw: true }).id,
    hashId(`${APP}|C2C.CallbackAfterSendMsg|msgkey|90211_1748820093_1767225712`),
  );
  // key parts with separators are escaped, so they cannot collide
  const x = normalize({ GroupId: 'a|b', MsgSeq: 1, MsgBody: [] }, meta('Group.CallbackAfterSendMsg'), { includeRaw: false });
  const y = normalize({ GroupId: 'a', TopicId: 'b|', MsgSeq: 1, MsgBody: [] }, meta('Group.CallbackAfterSendMsg'), {
    includeRaw: false,
  });
  t.not(x.id, y.id);
  for (const e of [c1, m1, m2, x, y]) t.match(e.id, /^[0-9a-f]{32}$/);
});

t.test('canonicalJson', async (t) => {
  t.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }, null, 'x'] }), '{"a":[{"c":2,"d":1},null,"x"],"b":1}');
  t.equal(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
  t.equal(canonicalJson('s"'), '"s\\""');
  t.equal(canonicalJson({ u: undefined, a: 1 }), '{"a":1}');
  // The JSON.stringify shortcut for already-sorted flat objects must give the same answer.
  t.equal(canonicalJson({ a: 1, b: 'x' }), '{"a":1,"b":"x"}');
  t.equal(canonicalJson([{ Member_Account: 'u1' }, { Member_Account: 'u2' }, 3]), '[{"Member_Account":"u1"},{"Member_Account":"u2"},3]');
  t.equal(canonicalJson({ 9: 1, 10: 2 }), '{"10":2,"9":1}', 'integer-like keys sort as strings');
  t.equal(canonicalJson([{ b: 1, a: 2 }, { a: 1 }]), '[{"a":2,"b":1},{"a":1}]');
  t.equal(canonicalJson([{ a: { c: 1, b: 2 } }]), '[{"a":{"b":2,"c":1}}]', 'nested objects are not flat');
  t.equal(canonicalJson(JSON.parse('{"__proto__":1,"a":2}')), '{"__proto__":1,"a":2}');
  t.equal(canonicalJson([undefined, 1]), '[null,1]');
});

t.test('time rules', async (t) => {
  t.equal(formatRfc3339(1490686222000), '2017-03-28T07:30:22Z');
  t.equal(formatRfc3339(1767225600431), '2026-01-01T00:00:00.431Z');
  t.equal(formatRfc3339(1767225600001), '2026-01-01T00:00:00.001Z');
  t.equal(eventTimeToMs('1670574414123'), 1670574414123);
  t.equal(eventTimeToMs(1670574414123), 1670574414123);
  t.equal(eventTimeToMs(1767226900), 1767226900000, 'seconds (< 1e12) → ms');
  t.equal(eventTimeToMs('1767226900'), 1767226900000);
  t.equal(eventTimeToMs('12a'), undefined);
  t.equal(eventTimeToMs(''), undefined);
  t.equal(eventTimeToMs(null), undefined);
  t.equal(eventTimeToMs(-5), undefined);

  const c = 'Group.CallbackAfterMemberExit';
  const base = { GroupId: 'g', ExitMemberList: [] };
  // MsgTime wins
  t.equal(
    normalize({ ...base, MsgTime: 1490686222, EventTime: 1767225600431 }, meta(c), { includeRaw: false }).time,
    '2017-03-28T07:30:22Z',
  );
  // EventTime ms, as number or string
  t.equal(normalize({ ...base, EventTime: 1767225600431 }, meta(c), { includeRaw: false }).time, '2026-01-01T00:00:00.431Z');
  t.equal(normalize({ ...base, EventTime: '1767225600431' }, meta(c), { includeRaw: false }).time, '2026-01-01T00:00:00.431Z');
  // EventTime in seconds
  t.equal(normalize({ ...base, EventTime: 1767225601 }, meta(c), { includeRaw: false }).time, '2026-01-01T00:00:01Z');
  // neither → receive time
  const r = normalize(base, meta(c, { receivedAtMs: 1767225600777 }), { includeRaw: false });
  t.equal(r.time, '2026-01-01T00:00:00.777Z');
  t.notOk('eventTimeMs' in r.data);
  // unusable EventTime → receive time
  t.equal(normalize({ ...base, EventTime: 'soon' }, meta(c), { includeRaw: false }).time, '2026-01-01T00:00:00Z');
  // beyond year 9999 (not expressible in RFC 3339) → unusable → receive time
  const far = normalize({ ...base, EventTime: '253402300800' }, meta(c), { includeRaw: false });
  t.equal(far.time, '2026-01-01T00:00:00Z');
  t.notOk('eventTimeMs' in far.data);
  t.equal(normalize({ ...base, MsgTime: 2 ** 40 }, meta(c), { includeRaw: false }).time, '2026-01-01T00:00:00Z');
  // Push: first event's EventTime, seconds
  const push = SAMPLE_CALLBACKS.find((s) => s.command === 'Push.OfflinePush')!;
  const p = normalize(push.body, meta(push.command), { includeRaw: false });
  t.equal(p.time, '2026-01-01T00:21:40Z');
  t.equal(p.data.eventTimeMs, 1767226900000);
  t.equal(p.subject, `app/${APP}`);
});

t.test('platform normalization', async (t) => {
  const cases: Array<[string, string]> = [
    ['IOS', 'iOS'],
    ['iOS', 'iOS'],
    ['ios', 'iOS'],
    ['Mac', 'macOS'],
    ['macOS', 'macOS'],
    ['MACOS', 'macOS'],
    ['IPad', 'iPad'],
    ['ipad', 'iPad'],
    ['android', 'Android'],
    ['RESTAPI', 'RESTAPI'],
    ['restapi', 'RESTAPI'],
    ['Web', 'Web'],
    ['Windows', 'Windows'],
    ['Unknown', 'Unknown'],
    ['HarmonyOS', 'HarmonyOS'],
    ['visionOS-beta', 'visionOS-beta'],
  ];
  for (const [input, expected] of cases) t.equal(normalizePlatform(input), expected, input);
  const e = normalize(
    { Info: { Action: 'Logout', To_Account: 'u1', Reason: 'Unregister' }, KickedDevice: [{ Platform: 'IPad' }, { Platform: 'Mac' }] },
    meta('State.StateChange', { optPlatform: 'IOS' }),
    { includeRaw: false },
  );
  t.equal(e.implatform, 'iOS');
  t.same(e.data.kickedDevices, ['iPad', 'macOS']);
  t.equal(e.subject, 'user/u1');
  t.same(e.data.conversation, { kind: 'user', accounts: ['u1'] });
});

t.test('group type mapping', async (t) => {
  const cases: Array<[string, string]> = [
    ['Private', 'Work'],
    ['ChatRoom', 'Meeting'],
    ['Public', 'Public'],
    ['Work', 'Work'],
    ['Meeting', 'Meeting'],
    ['AVChatRoom', 'AVChatRoom'],
    ['Community', 'Community'],
    ['BChatRoom', 'BChatRoom'],
    ['SomethingNew', 'SomethingNew'],
  ];
  for (const [input, expected] of cases) {
    const e = normalize(
      { GroupId: 'g', Type: input, MsgSeq: 1, MsgBody: [] },
      meta('Group.CallbackAfterSendMsg'),
      { includeRaw: false },
    );
    t.equal(e.data.conversation.groupType, expected, input);
  }
});

t.test('raw preserved / includeRaw false', async (t) => {
  for (const name of ['c2c-after-send-relay', 'group-unknown-element', 'push-offline-push-results', 'unknown-alert-request-over-limit']) {
    const fx = load(name);
    const copy = jsonClone(fx.body);
    const withRaw = normalize(fx.body, metaOf(fx.query), { includeRaw: true });
    t.same(withRaw.data.raw, copy, `${name}: raw deep-equals the body`);
    t.equal(withRaw.data.raw, fx.body, `${name}: raw is the body as received`);
    const noRaw = normalize(fx.body, metaOf(fx.query), { includeRaw: false });
    t.notOk('raw' in noRaw.data, `${name}: no raw`);
    t.equal(noRaw.id, withRaw.id, `${name}: includeRaw does not change the id`);
    const { raw: _raw, ...rest } = withRaw.data;
    t.same(noRaw.data, rest, `${name}: otherwise identical`);
  }
});

t.test('before callbacks and families', async (t) => {
  t.ok(isBeforeCallback('Group.CallbackBeforeSendMsg'));
  t.ok(isBeforeCallback('C2C.CallbackBeforeSendMsg'));
  t.ok(isBeforeCallback('OfficialAccount.CallbackBeforeSendMsg'));
  t.ok(isBeforeCallback('Sns.CallbackPrevFriendAdd'));
  t.ok(isBeforeCallback('Sns.CallbackPrevFriendResponse'));
  t.notOk(isBeforeCallback('Group.CallbackAfterSendMsg'));
  t.notOk(isBeforeCallback('Sns.CallbackFriendAdd'));
  t.notOk(isBeforeCallback('State.StateChange'));
  t.notOk(isBeforeCallback('Push.OfflinePush'));
  t.equal(familyOf('C2C.CallbackAfterSendMsg'), 'c2c');
  t.equal(familyOf('OfficialAccount.CallbackAfterSendMsg'), 'officialaccount');
  t.equal(familyOf('NoDot'), 'nodot');
  const e = normalize(load('group-before-send-face-sound').body, meta('Group.CallbackBeforeSendMsg'), { includeRaw: false });
  t.equal(e.data.before, true);
});

t.test('elements', async (t) => {
  const file1 = normalizeElement({ MsgType: 'TIMFileElem', MsgContent: { Url: 'u', FileName: 'a.pdf', FileSize: 3 } }, 0);
  const file2 = normalizeElement({ MsgType: 'TIMFileElem', MsgContent: { URL: 'u', fileName: 'a.pdf', FileSize: 3 } }, 0);
  t.same(file1, file2, 'FileName/fileName and Url/URL');
  t.same(file1.content, { url: 'u', fileSize: 3, fileName: 'a.pdf' });
  const img = normalizeElement(
    { MsgType: 'TIMImageElem', MsgContent: { UUID: 'x', ImageFormat: 9, ImageInfoArray: [{ Type: 7, Url: 'y' }] } },
    0,
  );
  t.same(img.content, { uuid: 'x', format: 'other', images: [{ type: '7', url: 'y' }] });
  const unknown = normalizeElement({ MsgType: 'TIMNewElem', MsgContent: { A_b: 1, nested: { x: [1] } } }, 0);
  t.same(unknown, { type: 'TIMNewElem', kind: 'unknown', content: { A_b: 1, nested: { x: [1] } } });
  t.same(normalizeElement({ MsgType: 'TIMNewElem' }, 0), { type: 'TIMNewElem', kind: 'unknown', content: {} });

  // relay depth guard
  let el: Record<string, unknown> = { MsgType: 'TIMTextElem', MsgContent: { Text: 'deep' } };
  for (let i = 0; i < MAX_RELAY_DEPTH + 5; i++) {
    el = { MsgType: 'TIMRelayElem', MsgContent: { Title: `level ${i}`, MsgList: [{ MsgBody: [el] }] } };
  }
  const relay = normalizeElement(el, 0);
  let depth = 0;
  let cur = relay;
  while (cur.kind === 'relay' && Array.isArray(cur.content.messages)) {
    const messages = cur.content.messages as Array<{ elements: typeof cur[] }>;
    cur = messages[0]!.elements[0]!;
    depth++;
  }
  t.equal(depth, MAX_RELAY_DEPTH, 'relay nesting stops at MAX_RELAY_DEPTH');
  t.equal(cur.content.truncated, true);

  // text: text + custom desc + location desc, empty pieces skipped
  const e = normalize(
    {
      GroupId: 'g',
      MsgSeq: 1,
      MsgBody: [
        { MsgType: 'TIMTextElem', MsgContent: { Text: 'a' } },
        { MsgType: 'TIMCustomElem', MsgContent: { Data: 'd', Desc: '' } },
        { MsgType: 'TIMLocationElem', MsgContent: { Desc: 'loc', Latitude: 1, Longitude: 2 } },
        { MsgType: 'TIMCustomElem', MsgContent: { Data: 'd', Desc: 'cd' } },
        { MsgType: 'TIMFaceElem', MsgContent: { Index: 1 } },
      ],
    },
    meta('Group.CallbackAfterSendMsg'),
    { includeRaw: false },
  );
  t.equal(e.data.text, 'a\nloc\ncd');
  const empty = normalize(
    { GroupId: 'g', MsgSeq: 1, MsgBody: [{ MsgType: 'TIMFaceElem', MsgContent: { Index: 1 } }] },
    meta('Group.CallbackAfterSendMsg'),
    { includeRaw: false },
  );
  t.notOk('text' in empty.data, 'no text when empty');
});

t.test('camelKey', async (t) => {
  t.equal(camelKey('Member_Account'), 'memberAccount');
  t.equal(camelKey('UUID'), 'uuid');
  t.equal(camelKey('FaceUrl'), 'faceUrl');
  t.equal(camelKey('PushPlatform'), 'pushPlatform');
  t.equal(camelKey('URLList'), 'urlList');
  t.equal(camelKey('already'), 'already');
});

t.test('never throws on odd bodies', async (t) => {
  const odd: Array<Record<string, unknown>> = [
    {},
    { GroupId: 5, MsgBody: 'x', MsgSeq: 'abc' },
    { MsgBody: [null, 1, 'x', [], { MsgType: 3 }] },
    { Info: 'x', KickedDevice: [null] },
    { PairList: [null, 1], FriendItem: 'x' },
    { Events: [null, { EventTime: 'x' }] },
    { ProfileItem: 'x', To_Account: [1, null], SubscribeAccountList: [null, 3, { Subscriber_Account: 1 }], ContactItem: [], Official_Account: 5, MsgTime: 'x', Name: { a: 1 } },
    JSON.parse('{"ProfileItem":[{"__proto__":{"polluted":true}}],"Official_Account":"a","SubscribeAccountList":{"__proto__":1}}') as Record<string, unknown>,
    JSON.parse('{"__proto__": {"polluted": true}, "GroupId": "g"}') as Record<string, unknown>,
  ];
  for (const command of [
    'Group.CallbackAfterSendMsg',
    'Group.CallbackAfterGroupInfoChanged',
    'C2C.CallbackAfterSendMsg',
    'State.StateChange',
    'Sns.CallbackPrevFriendAdd',
    'Push.OfflinePush',
    // catalogue-mapped fields of the families without a normalizer of their own
    'Profile.CallbackPortraitSet',
    'Follow.CallbackAfterFollowDelete',
    'OfficialAccount.CallbackAfterAddSubscriber',
    'ContentCallback.ResultNotify',
    'Group.CallbackAfterTopicInfoChanged',
    'C2C.CallbackAfterModifyMsg',
    'X.Y',
  ]) {
    for (const body of odd) {
      const e: CanonicalEvent = normalize(body, meta(command), { includeRaw: true });
      t.match(e.id, /^[0-9a-f]{32}$/);
    }
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  const info = normalize(
    JSON.parse('{"GroupId":"g","__proto__":{"x":1}}') as Record<string, unknown>,
    meta('Group.CallbackAfterGroupInfoChanged'),
    { includeRaw: false },
  );
  t.equal(Object.getPrototypeOf(info.data.changes), Object.prototype);
});
