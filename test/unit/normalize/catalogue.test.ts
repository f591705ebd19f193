/**
 * The command catalogue against everything that uses it (issue 20): one entry and one official-sample
 * fixture per documented command; each sample passes its schema and normalizes to the catalogue's
 * subject, time and id rule with every documented top-level field in `data`; edge values are
 * accepted and normalized; before-callbacks get the reply their page documents; the README table is
 * the catalogue's.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { CATALOGUE, catalogueEntry, supportedCommandsTable } from '../../../src/catalogue/index.js';
import { normalize, isBeforeCallback, familyOf } from '../../../src/normalize/index.js';
import type { CallbackMeta } from '../../../src/normalize/event.js';
import { missingFields, subjectFor } from '../../../src/normalize/catalogue-fields.js';
import { formatRfc3339 } from '../../../src/normalize/time.js';
import { expectedTime, officialFixtures, sameIdTwice } from '../../helpers/catalogue.js';
import { createCallbackValidator, hasSchema } from '../../../src/ingest/schemas/index.js';
import { beforeCallbackAnswer } from '../../../src/ingest/before-reply.js';
import { OK_BODY } from '../../../src/ingest/answers.js';

const here = dirname(fileURLToPath(import.meta.url));
const readme = join(here, '../../../README.md');
const APP = '1400000000';
const RECEIVED_AT = 1767225600000;

const official = officialFixtures();
const meta = (command: string, receivedAtMs = RECEIVED_AT): CallbackMeta => ({ sdkAppId: APP, command, receivedAtMs });
const validator = createCallbackValidator();

t.test('the catalogue: 61 commands, 11 before-callbacks, consistent with the code', async (t) => {
  t.equal(CATALOGUE.length, 61);
  t.equal(new Set(CATALOGUE.map((e) => e.command)).size, 61, 'no command twice');
  t.equal(CATALOGUE.filter((e) => e.before).length, 11);
  for (const e of CATALOGUE) {
    t.equal(isBeforeCallback(e.command), e.before, `${e.command}: before/after`);
    t.equal(familyOf(e.command), e.family, `${e.command}: family`);
    t.ok(hasSchema(e.command), `${e.command} has a schema`);
    t.match(e.docUrl, /^https:\/\//, `${e.command}: doc URL`);
    t.equal(catalogueEntry(e.command), e);
    for (const [field, target] of Object.entries(e.fields)) t.not(target, '', `${e.command}: ${field} has a target`);
  }
  t.equal(catalogueEntry('Call.CallbackAfterStartCall'), undefined, 'unknown commands have no entry');
});

t.test('one official-sample fixture per command, with its source', async (t) => {
  t.same([...official.keys()].sort(), CATALOGUE.map((e) => e.command).sort());
  for (const fx of official.values()) {
    const file = fx.file;
    t.match(fx.source, /^https:\/\//, `${file}: source URL`);
    t.ok(fx.sample !== undefined || fx.note !== undefined || fx.source.startsWith('https://trtc.io/'), `${file}: says where the body comes from`);
  }
});

t.test('each official sample: schema, subject, time, id rule, every documented field, raw', async (t) => {
  for (const entry of CATALOGUE) {
    const fx = official.get(entry.command)!;
    t.test(entry.command, async (t) => {
      t.same(validator.validate(entry.command, fx.body), { ok: true }, 'passes its schema');
      const a = normalize(fx.body, meta(entry.command), { includeRaw: true });
      const b = normalize(fx.body, meta(entry.command, RECEIVED_AT + 60_000), { includeRaw: true });
      t.equal(a.subject, subjectFor(entry.subject, fx.body, APP), 'subject as the catalogue says');
      t.equal(a.time, expectedTime(entry, fx.body, RECEIVED_AT), 'time as the catalogue says');
      t.same(missingFields(entry, fx.body, a), [], 'every documented field is in the event');
      t.same(a.data.raw, fx.body, 'data.raw is the body');
      t.equal(a.data.before, entry.before);
      if (sameIdTwice(entry, fx.body)) t.equal(a.id, b.id, 'keyed or timed: a redelivery keeps its id');
      else t.not(a.id, b.id, 'no key, no time: two receptions are two events');
    });
  }
});

t.test('subjects named by the issue', async (t) => {
  const subject = (command: string) => normalize(official.get(command)!.body, meta(command), { includeRaw: false }).subject;
  t.equal(subject('Profile.CallbackPortraitSet'), 'user/id1');
  t.equal(subject('Follow.CallbackAfterFollowAdd'), 'user/UserID_001');
  t.equal(subject('Follow.CallbackAfterFollowDelete'), 'user/UserID_001');
  t.equal(subject('OfficialAccount.CallbackAfterCreateOfficialAccount'), 'officialaccount/@TOA#_test_OA_for_penn');
  t.equal(subject('OfficialAccount.CallbackAfterMsgWithDraw'), 'officialaccount/#TOA#_123');
  t.equal(subject('OfficialAccount.CallbackBeforeCreateOfficialAccount'), `app/${APP}`, 'no account exists yet');
  t.equal(subject('ContentCallback.ResultNotify'), 'c2c/Jonh/jared');
  t.equal(subject('Bot.OnC2CMessage'), 'c2c/Jonh/jared');
  t.equal(subject('Bot.OnGroupMessage'), 'group/@TGS#2J4SZEAEL');
  const group = normalize({ From_Account: 'a', ContactItem: { GroupId: '@TGS#g' } }, meta('ContentCallback.ResultNotify'), { includeRaw: false });
  t.equal(group.subject, 'group/@TGS#g', 'a moderated group message: the group');
});

t.test('normalized fields of the commands that had none', async (t) => {
  const data = (command: string) => normalize(official.get(command)!.body, meta(command), { includeRaw: false }).data;
  t.same(data('Group.CallbackAfterTopicInfoChanged').changes, { name: 'TestTopic', introduction: 'TestIntroduction', notification: 'NewNotification', faceUrl: 'http://this.is.face.url' });
  t.same(data('Group.CallbackAfterTopicDestroyed').topicIds, ['@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic', '@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic_1']);
  t.same(data('Group.CallbackAfterGroupAttrChanged').attributes, [{ key: 'key1', value: 'value1' }, { key: 'key2', value: 'values' }]);
  t.match(data('Group.CallbackAfterChangeGroupOwner'), { oldOwner: 'user1', newOwner: 'user2', operator: 'admin' });
  t.match(data('Group.CallbackOnDailyGroupQuotaAlarm'), { quotaUsed: 7321, quota: 10000 });
  const ext = data('Group.CallbackAfterGroupMsgExtension');
  t.match(ext, { seq: 10, extensionSeq: 56, operateType: 1 }, 'message Seq and extension version both kept');
  t.same(ext.extensions, [{ key: 'key2', value: 'value2', seq: 56 }, { key: 'key3', value: '12122', seq: 56 }]);
  t.match(data('Group.CallbackAfterReadReceipt').receipts, [{ msgSeq: 1, readNum: 1, unreadNum: 6, readReceiptMembers: [{ memberAccount: 'user0' }] }]);
  t.match(data('Alert.RequestOverLimit'), { serviceName: 'openim', apiCommand: 'batchsendmsg', request: 510, limit: 200 });
  t.same(data('OfficialAccount.CallbackAfterAddSubscriber').subscribers, ['jared', 'leckie']);
  t.same(data('OfficialAccount.CallbackAfterMsgWithDraw').withdrawnMsgKeys, ['71_1_1698741698']);
  t.same(data('OfficialAccount.CallbackAfterOfficialAccountInfoChanged').changes, { name: 'NewName', introduction: 'NewNotification', faceUrl: 'http://this.is.newface.url', organization: 'NewOrganization' });
  t.same(data('Profile.CallbackPortraitSet').profileItems, [
    { tag: 'Tag_Profile_IM_Nick', value: 'nick1' },
    { tag: 'Tag_Profile_IM_Gender', value: 'Gender_Type_Male' },
    { tag: 'Tag_Profile_IM_AllowType', value: 'AllowType_Type_NeedConfirm' },
    { tag: 'Tag_Profile_Custom_Data', value: 'your custom data' },
  ]);
  t.same(data('Follow.CallbackAfterFollowAdd').followed, ['UserID_002', 'UserID_003']);
  t.same(data('Bot.OnGroupMessage').atRobots, ['@RBT#001']);
  t.match(data('Bot.OnC2CMessage'), { sendMsgResult: 0, errorInfo: 'send msg succeed', msgKey: '48374_2837546_1557481126' });
  t.same(data('Push.OfflinePush').conversations, ['c2c/user1/user2', 'group/@TGS#12DEVUDHQ']);
  t.equal((data('Push.OfflinePush').events as Array<Record<string, unknown>>)[1]!.groupId, '@TGS#12DEVUDHQ', 'GroupID → groupId');
  const modify = normalize(official.get('C2C.CallbackAfterModifyMsg')!.body, meta('C2C.CallbackAfterModifyMsg'), { includeRaw: false });
  t.equal(modify.time, '2026-01-30T11:20:27.036Z', 'an edit is timed by the edit');
  t.equal(modify.data.msgTimeMs, Date.parse('2026-01-30T11:12:09Z'), 'the original message time is kept');
});

t.test('edge values are accepted and normalized', async (t) => {
  const command = 'Group.CallbackAfterMemberExit';
  const body = official.get(command)!.body;
  const cases: Array<[unknown, number | undefined]> = [
    ['1670574414123', 1670574414123],
    [1670574414123, 1670574414123],
    ['', undefined],
    [null, undefined],
    [1670574414123.5, 1670574414123],
    ['1670574414123.5', 1670574414123],
    ['1670574414', 1670574414000],
  ];
  for (const [value, ms] of cases) {
    const b = { ...body, EventTime: value };
    t.same(validator.validate(command, b), { ok: true }, `EventTime ${JSON.stringify(value)} accepted`);
    const e = normalize(b, meta(command), { includeRaw: true });
    t.equal(e.data.eventTimeMs, ms, `EventTime ${JSON.stringify(value)} → ${ms}`);
    t.equal(e.time, formatRfc3339(ms ?? RECEIVED_AT));
  }
  for (const value of [{}, [], true, 'soon'] as unknown[]) {
    t.equal(validator.validate(command, { ...body, EventTime: value }).ok, false, `EventTime ${JSON.stringify(value)} cannot be a callback's`);
  }
  const item = (official.get('Push.OfflinePush')!.body.Events as unknown[])[0];
  for (const n of [0, 1, 100, 101]) {
    const b = { Events: Array.from({ length: n }, () => item) };
    t.same(validator.validate('Push.OfflinePush', b), { ok: true }, `${n} push items accepted`);
    const e = normalize(b, meta('Push.OfflinePush'), { includeRaw: false });
    t.equal((e.data.events as unknown[]).length, n, `${n} items normalized`);
    t.same(e.data.conversations, n === 0 ? [] : ['c2c/user1/user2']);
  }
  t.equal(validator.validate('Push.OfflinePush', { Events: 'x' }).ok, false, 'Events must be a list');
  t.equal(validator.validate('Profile.CallbackPortraitSet', { From_Account: 1, ProfileItem: [] }).ok, false, 'a numeric account is not a callback');
});

t.test('before-callback replies, per command, in the documented shape', async (t) => {
  const before = CATALOGUE.filter((e) => e.before);
  t.equal(before.length, 11);
  for (const entry of before) {
    const answer = beforeCallbackAnswer(entry.command, official.get(entry.command)!.body);
    t.equal(answer.status, 200, entry.command);
    const json = JSON.parse(answer.body) as Record<string, unknown>;
    if (entry.reply === 'ok+ResultItem') continue; // checked below against the pages
    t.equal(answer.body, OK_BODY, `${entry.command}: ActionStatus OK, ErrorCode 0 (allow), ErrorInfo "", nothing rewritten`);
    t.notOk('MsgBody' in json || 'RefusedMembers_Account' in json || 'RefusedSubscribers_Account' in json, `${entry.command}: unchanged`);
  }
  // The sample responses of https://intl.cloud.tencent.com/document/product/1047/43468 and /43467: both
  // pages answer the sample request (To_Account id1, id2) with this body.
  const documented = {
    ActionStatus: 'OK',
    ErrorCode: 0,
    ErrorInfo: '',
    ResultItem: [
      { To_Account: 'id1', ResultCode: 0, ResultInfo: '' },
      { To_Account: 'id2', ResultCode: 0, ResultInfo: '' },
    ],
  };
  for (const command of ['Sns.CallbackPrevFriendAdd', 'Sns.CallbackPrevFriendResponse']) {
    t.same(JSON.parse(beforeCallbackAnswer(command, official.get(command)!.body).body), documented, command);
  }
  t.same(JSON.parse(beforeCallbackAnswer('Sns.CallbackPrevFriendAdd', { FriendItem: [] }).body).ResultItem, [], 'no accounts, no items');
  t.equal(beforeCallbackAnswer('X.CallbackBeforeSomething', {}).body, OK_BODY, 'unknown before-callbacks: the plain OK');
});

t.test('README "Supported commands" is the catalogue', async (t) => {
  const text = readFileSync(readme, 'utf8');
  const begin = text.indexOf('<!-- supported-commands:begin');
  const end = text.indexOf('<!-- supported-commands:end -->');
  t.ok(begin > 0 && end > begin, 'README has the table markers');
  const table = text.slice(text.indexOf('\n', begin) + 1, end).trim();
  t.equal(table, supportedCommandsTable(), 'regenerate with supportedCommandsTable() (src/catalogue) after changing the catalogue');
});
