import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  CALLBACK_SCHEMAS,
  createCallbackValidator,
  hasSchema,
  type ValidationResult,
} from '../../../src/ingest/schemas/index.js';
import { SAMPLE_CALLBACKS } from '../../../src/ingest/samples.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '../../fixtures/callbacks');
const v = createCallbackValidator();

type Body = Record<string, unknown>;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const OK: ValidationResult = { ok: true };

function without(body: Body, key: string): Body {
  const copy = clone(body);
  delete copy[key];
  return copy;
}

const groupMsg: Body = clone(SAMPLE_CALLBACKS[0]!.body);

/** A valid body for every command with a schema (fixtures cover most; the rest are inline). */
const VALID: Record<string, Body> = {
  'Group.CallbackAfterSendMsg': groupMsg,
  'Group.CallbackBeforeSendMsg': (() => {
    const b = without(without(groupMsg, 'MsgSeq'), 'MsgTime');
    b.CallbackCommand = 'Group.CallbackBeforeSendMsg';
    return b;
  })(),
  'Group.CallbackSendMsgException': {
    ...without(without(groupMsg, 'MsgSeq'), 'MsgTime'),
    CallbackCommand: 'Group.CallbackSendMsgException',
    ErrorCode: 10023,
    ErrorInfo: 'msg count exceeds limit',
  },
  'Group.CallbackAfterModifyMsg': {
    CallbackCommand: 'Group.CallbackAfterModifyMsg',
    Operator_Account: 'u1',
    GroupId: '@TGS#1',
    TopicId: '',
    MsgSeq: 10,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'edited' } }],
    EventTime: 1767225600000,
  },
  'Group.CallbackAfterNewMemberJoin': {
    GroupId: '@TGS#1',
    Type: 'Public',
    JoinType: 'Invited',
    Operator_Account: 'u1',
    NewMemberList: [{ Member_Account: 'u2' }],
    EventTime: 1767225600000,
  },
  'Group.CallbackAfterMemberExit': {
    GroupId: '@TGS#1',
    Type: 'Public',
    ExitType: 'Quit',
    Operator_Account: 'u2',
    ExitMemberList: [{ Member_Account: 'u2' }],
    EventTime: '1767225600000',
  },
  'Group.CallbackAfterGroupDestroyed': { GroupId: '@TGS#1', Type: 'Community', Owner_Account: 'u1', Name: 'n' },
  'Group.CallbackAfterCreateGroup': {
    GroupId: '@TGS#1',
    Type: 'Work',
    Operator_Account: 'u1',
    Owner_Account: 'u1',
    Name: 'n',
    MemberList: [{ Member_Account: 'u1' }],
    UserDefinedDataList: [{ Key: 'k', Value: 'v' }],
  },
  'Group.CallbackBeforeCreateGroup': {
    Operator_Account: 'u1',
    Owner_Account: 'u1',
    Type: 'Public',
    Name: 'n',
    CreateGroupNum: 3,
    MemberList: [{ Member_Account: 'u1' }],
  },
  'Group.CallbackBeforeApplyJoinGroup': { GroupId: '@TGS#1', Type: 'Public', Requestor_Account: 'u3' },
  'Group.CallbackBeforeInviteJoinGroup': {
    GroupId: '@TGS#1',
    Type: 'Public',
    Operator_Account: 'u1',
    DestinationMembers: [{ Member_Account: 'u4' }],
  },
  'Group.CallbackAfterGroupInfoChanged': { GroupId: '@TGS#1', Type: 'Public', Operator_Account: 'u1', Name: 'new' },
  'Group.CallbackAfterRecallMsg': { GroupId: '@TGS#1', Type: 'Public', Operator_Account: 'u1', MsgSeqList: [{ MsgSeq: 1 }] },
  'Group.CallbackAfterMemberFieldChanged': { GroupId: '@TGS#1', Member_Account: 'u2', Role: 'Member', NameCard: '' },
  'Group.CallbackOnMemberStateChange': {
    GroupId: '@TGS#a1',
    EventType: 'Offline',
    EventCause: 'HeartbeatInterrupt',
    MemberList: [{ Member_Account: 'u5' }],
    EventTime: 1767225600000,
  },
  'C2C.CallbackAfterSendMsg': clone(SAMPLE_CALLBACKS[2]!.body),
  'C2C.CallbackBeforeSendMsg': {
    From_Account: 'a',
    To_Account: 'b',
    MsgSeq: 1,
    MsgRandom: 2,
    MsgTime: 3,
    MsgKey: '1_2_3',
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }],
  },
  'C2C.CallbackAfterMsgWithDraw': { From_Account: 'a', To_Account: 'b', MsgKey: '1_2_3', UnreadMsgNum: 0 },
  'C2C.CallbackAfterMsgReport': { Report_Account: 'a', Peer_Account: 'b', LastReadTime: 1767225600, UnreadMsgNum: 0 },
  'C2C.CallbackAfterModifyMsg': {
    Operator_Account: 'a',
    From_Account: 'a',
    To_Account: 'b',
    MsgSeq: 1,
    MsgRandom: 2,
    MsgTime: 3,
    MsgKey: '1_2_3',
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'edited' } }],
  },
  'State.StateChange': clone(SAMPLE_CALLBACKS.find((s) => s.command === 'State.StateChange')!.body),
  'Sns.CallbackFriendAdd': clone(SAMPLE_CALLBACKS.find((s) => s.command === 'Sns.CallbackFriendAdd')!.body),
  'Sns.CallbackFriendDelete': { PairList: [{ From_Account: 'a', To_Account: 'b' }], ClientCmd: 'friend_delete' },
  'Sns.CallbackBlackListAdd': { PairList: [{ From_Account: 'a', To_Account: 'b' }] },
  'Sns.CallbackBlackListDelete': { PairList: [{ From_Account: 'a', To_Account: 'b' }] },
  'Sns.CallbackPrevFriendAdd': {
    Requester_Account: 'a',
    From_Account: 'a',
    FriendItem: [{ To_Account: 'b', AddSource: 'AddSource_Type_Android' }],
    AddType: 'Add_Type_Single',
    ForceAddFlags: 0,
  },
};

// The official samples (test/fixtures/callbacks/official-*.json, one per catalogue command) cover the rest.
for (const f of readdirSync(fixtures).filter((x) => x.startsWith('official-') && x.endsWith('.json'))) {
  const fx = JSON.parse(readFileSync(join(fixtures, f), 'utf8')) as { query: Record<string, string>; body: Body };
  VALID[fx.query.CallbackCommand!] ??= fx.body;
}

/** [command, patch, expected error] — patch values of undefined delete the key. */
const VIOLATIONS: Array<[string, Body, string]> = [
  ['Group.CallbackAfterSendMsg', { MsgSeq: 'abc' }, '/MsgSeq must be integer'],
  ['Group.CallbackAfterSendMsg', { MsgSeq: 1.5 }, '/MsgSeq must be integer'],
  ['Group.CallbackAfterSendMsg', { MsgSeq: -1 }, '/MsgSeq must be >= 0'],
  ['Group.CallbackAfterSendMsg', { MsgTime: '1490686222' }, '/MsgTime must be integer'],
  ['Group.CallbackAfterSendMsg', { Random: null }, '/Random must be integer'],
  ['Group.CallbackAfterSendMsg', { MsgBody: 'x' }, '/MsgBody must be an array of message elements'],
  ['Group.CallbackAfterSendMsg', { MsgBody: undefined }, '/MsgBody is required'],
  ['Group.CallbackAfterSendMsg', { MsgBody: ['x'] }, '/MsgBody/0 must be an object with a string MsgType'],
  ['Group.CallbackAfterSendMsg', { MsgBody: [{ MsgContent: {} }] }, '/MsgBody/0/MsgType is required'],
  ['Group.CallbackAfterSendMsg', { MsgBody: [{ MsgType: 7 }] }, '/MsgBody/0/MsgType must be string'],
  ['Group.CallbackAfterSendMsg', { MsgBody: [{ MsgType: 'X', MsgContent: 'y' }] }, '/MsgBody/0/MsgContent must be an object'],
  ['Group.CallbackAfterSendMsg', { EventTime: '12a' }, '/EventTime must be a number, a string of digits, "" or null'],
  ['Group.CallbackAfterSendMsg', { EventTime: true }, '/EventTime must be a number, a string of digits, "" or null'],
  ['Group.CallbackAfterSendMsg', { GroupId: '' }, '/GroupId must be a non-empty string'],
  ['Group.CallbackAfterSendMsg', { GroupId: 42 }, '/GroupId must be a non-empty string'],
  ['Group.CallbackAfterSendMsg', { GroupId: undefined }, '/GroupId is required'],
  ['Group.CallbackAfterSendMsg', { From_Account: 1 }, '/From_Account must be string'],
  ['Group.CallbackAfterSendMsg', { Type: 2 }, '/Type must be string'],
  ['Group.CallbackAfterSendMsg', { CloudCustomData: {} }, '/CloudCustomData must be string'],
  ['Group.CallbackAfterSendMsg', { OnlineOnlyFlag: 'no' }, '/OnlineOnlyFlag must be integer'],
  ['Group.CallbackAfterSendMsg', { TopicId: 1 }, '/TopicId must be string'],
  ['Group.CallbackAfterSendMsg', { MsgId: 144115 }, '/MsgId must be string'],
  ['Group.CallbackBeforeSendMsg', { MsgBody: {} }, '/MsgBody must be an array of message elements'],
  ['Group.CallbackSendMsgException', { ErrorCode: '10023' }, '/ErrorCode must be integer'],
  ['Group.CallbackAfterModifyMsg', { MsgSeq: undefined }, '/MsgSeq is required'],
  ['Group.CallbackAfterNewMemberJoin', { NewMemberList: [{}] }, '/NewMemberList/0/Member_Account is required'],
  ['Group.CallbackAfterNewMemberJoin', { NewMemberList: 'u2' }, '/NewMemberList must be array'],
  ['Group.CallbackAfterMemberExit', { ExitMemberList: undefined }, '/ExitMemberList is required'],
  ['Group.CallbackAfterMemberExit', { ExitMemberList: ['u2'] }, '/ExitMemberList/0 must be an object with Member_Account'],
  ['Group.CallbackAfterGroupDestroyed', { MemberList: [{ Member_Account: 5 }] }, '/MemberList/0/Member_Account must be string'],
  ['Group.CallbackAfterCreateGroup', { UserDefinedDataList: [{ Value: 'v' }] }, '/UserDefinedDataList/0/Key is required'],
  ['Group.CallbackBeforeCreateGroup', { CreateGroupNum: 'many' }, '/CreateGroupNum must be integer'],
  ['Group.CallbackBeforeApplyJoinGroup', { GroupId: '' }, '/GroupId must be a non-empty string'],
  ['Group.CallbackBeforeInviteJoinGroup', { DestinationMembers: undefined }, '/DestinationMembers is required'],
  ['Group.CallbackAfterGroupInfoChanged', { GroupId: undefined }, '/GroupId is required'],
  ['Group.CallbackAfterRecallMsg', { MsgSeqList: [{ MsgSeq: 'x' }] }, '/MsgSeqList/0/MsgSeq must be integer'],
  ['Group.CallbackAfterRecallMsg', { MsgSeqList: undefined }, '/MsgSeqList is required'],
  ['Group.CallbackAfterMemberFieldChanged', { Role: 1 }, '/Role must be string'],
  ['Group.CallbackOnMemberStateChange', { MemberList: null }, '/MemberList must be array'],
  ['C2C.CallbackAfterSendMsg', { MsgSeq: 'abc' }, '/MsgSeq must be integer'],
  ['C2C.CallbackAfterSendMsg', { MsgRandom: -3 }, '/MsgRandom must be >= 0'],
  ['C2C.CallbackAfterSendMsg', { MsgBody: 'x' }, '/MsgBody must be an array of message elements'],
  ['C2C.CallbackAfterSendMsg', { To_Account: undefined }, '/To_Account is required'],
  ['C2C.CallbackAfterSendMsg', { SendMsgResult: '0' }, '/SendMsgResult must be integer'],
  ['C2C.CallbackAfterSendMsg', { UnreadMsgNum: 1.5 }, '/UnreadMsgNum must be integer'],
  ['C2C.CallbackAfterSendMsg', { EventTime: '12a' }, '/EventTime must be a number, a string of digits, "" or null'],
  ['C2C.CallbackBeforeSendMsg', { From_Account: undefined }, '/From_Account is required'],
  ['C2C.CallbackAfterMsgWithDraw', { MsgKey: undefined }, '/MsgKey is required'],
  ['C2C.CallbackAfterMsgReport', { LastReadTime: 'now' }, '/LastReadTime must be integer'],
  ['C2C.CallbackAfterMsgReport', { Peer_Account: undefined }, '/Peer_Account is required'],
  ['C2C.CallbackAfterModifyMsg', { MsgBody: [1] }, '/MsgBody/0 must be an object with a string MsgType'],
  ['State.StateChange', { Info: undefined }, '/Info is required'],
  ['State.StateChange', { Info: 'Login' }, '/Info must be object'],
  ['State.StateChange', { Info: { Action: 'Login' } }, '/Info/To_Account is required'],
  ['State.StateChange', { KickedDevice: [{ Platform: 1 }] }, '/KickedDevice/0/Platform must be string'],
  ['State.StateChange', { EventTime: '12a' }, '/EventTime must be a number, a string of digits, "" or null'],
  ['Sns.CallbackFriendAdd', { PairList: undefined }, '/PairList is required'],
  ['Sns.CallbackFriendAdd', { PairList: [{ From_Account: 'a' }] }, '/PairList/0/To_Account is required'],
  ['Sns.CallbackFriendAdd', { ForceFlag: 'yes' }, '/ForceFlag must be integer'],
  ['Sns.CallbackFriendDelete', { PairList: {} }, '/PairList must be array'],
  ['Sns.CallbackBlackListAdd', { PairList: [null] }, '/PairList/0 must be object'],
  ['Sns.CallbackPrevFriendAdd', { FriendItem: [{}] }, '/FriendItem/0/To_Account is required'],
  ['Sns.CallbackPrevFriendAdd', { From_Account: undefined }, '/From_Account is required'],
  ['Sns.CallbackPrevFriendResponse', { ResponseFriendItem: [{}] }, '/ResponseFriendItem/0/To_Account is required'],
  ['C2C.CallbackAfterMsgReadReceipt', { Peer_Account: 1 }, '/Peer_Account must be string'],
  ['C2C.CallbackAfterMsgReadAll', { Report_Account: undefined }, '/Report_Account is required'],
  ['C2C.CallbackAfterC2CMsgExtension', { Seq: 'x' }, '/Seq must be integer'],
  ['Group.CallbackAfterGroupFull', { GroupId: '' }, '/GroupId must be a non-empty string'],
  ['Group.CallbackBeforeCreateTopic', { Name: 1 }, '/Name must be string'],
  ['Group.CallbackAfterCreateTopic', { GroupId: undefined }, '/GroupId is required'],
  ['Group.CallbackAfterTopicDestroyed', { TopicIdList: 'x' }, '/TopicIdList must be array'],
  ['Group.CallbackAfterTopicInfoChanged', { GroupId: 7 }, '/GroupId must be a non-empty string'],
  ['Group.CallbackAfterGroupAttrChanged', { GroupAttr: {} }, '/GroupAttr must be array'],
  ['Group.CallbackAfterReadReceipt', { GroupMsgReceiptList: undefined }, '/GroupMsgReceiptList is required'],
  ['Group.CallbackAfterChangeGroupOwner', { NewOwner_Account: undefined }, '/NewOwner_Account is required'],
  ['Group.CallbackOnDailyGroupQuotaAlarm', { Quota: '10000' }, '/Quota must be integer'],
  ['Group.CallbackAfterGroupMsgExtension', { ExtensionList: [1] }, '/ExtensionList/0 must be object'],
  ['Profile.CallbackPortraitSet', { ProfileItem: [{}] }, '/ProfileItem/0/Tag is required'],
  ['Follow.CallbackAfterFollowAdd', { FollowList: [{}] }, '/FollowList/0/To_Account is required'],
  ['Follow.CallbackAfterFollowDelete', { To_Account: 'UserID_002' }, '/To_Account must be array'],
  ['Alert.RequestOverLimit', { Limit: '200' }, '/Limit must be number'],
  ['ContentCallback.ResultNotify', { ContactItem: 'Jonh' }, '/ContactItem must be object'],
  ['Bot.OnC2CMessage', { MsgBody: undefined }, '/MsgBody is required'],
  ['Bot.OnGroupMessage', { AtRobots_Account: '@RBT#001' }, '/AtRobots_Account must be array'],
  ['Chatbot.OnC2CSignalMessage', { To_Account: undefined }, '/To_Account is required'],
  ['OfficialAccount.CallbackBeforeCreateOfficialAccount', { Owner_Account: 1 }, '/Owner_Account must be string'],
  ['OfficialAccount.CallbackAfterCreateOfficialAccount', { Official_Account: undefined }, '/Official_Account is required'],
  ['OfficialAccount.CallbackAfterOfficialAccountInfoChanged', { Official_Account: '' }, '/Official_Account must be a non-empty string'],
  ['OfficialAccount.CallbackAfterOfficialAccountDestroyed', { Name: 1 }, '/Name must be string'],
  ['OfficialAccount.CallbackBeforeAddSubscriber', { SubscribeAccountList: [{}] }, '/SubscribeAccountList/0/Subscriber_Account is required'],
  ['OfficialAccount.CallbackAfterAddSubscriber', { SubscribeAccountList: undefined }, '/SubscribeAccountList is required'],
  ['OfficialAccount.CallbackAfterOfficialAccountFull', { Official_Account: undefined }, '/Official_Account is required'],
  ['OfficialAccount.CallbackAfterDeleteSubscriber', { SubscribeAccountList: 'jared' }, '/SubscribeAccountList must be array'],
  ['OfficialAccount.CallbackBeforeSendMsg', { MsgBody: undefined }, '/MsgBody is required'],
  ['OfficialAccount.CallbackAfterSendMsg', { MsgTime: -1 }, '/MsgTime must be >= 0'],
  ['OfficialAccount.CallbackAfterMsgWithDraw', { WithdrawMsgList: [{}] }, '/WithdrawMsgList/0/MsgKey is required'],
];

function patched(body: Body, patch: Body): Body {
  const copy = clone(body);
  for (const [k, val] of Object.entries(patch)) {
    if (val === undefined) delete copy[k];
    else copy[k] = val;
  }
  return copy;
}

t.test('every schema has a valid sample that passes', async (t) => {
  for (const command of Object.keys(CALLBACK_SCHEMAS)) {
    const body = VALID[command];
    t.ok(body, `${command} has a valid sample in this test`);
    if (body) t.same(v.validate(command, body), OK, command);
  }
});

t.test('fixtures and SAMPLE_CALLBACKS pass', async (t) => {
  for (const f of readdirSync(fixtures).filter((x) => x.endsWith('.json'))) {
    const fx = JSON.parse(readFileSync(join(fixtures, f), 'utf8')) as { query: Record<string, string>; body: Body };
    t.same(v.validate(fx.query.CallbackCommand ?? '', fx.body), OK, f);
  }
  for (const s of SAMPLE_CALLBACKS) t.same(v.validate(s.command, s.body), OK, s.name);
  t.equal(SAMPLE_CALLBACKS[0]!.command, 'Group.CallbackAfterSendMsg');
});

t.test('violations are rejected with a pointer and a reason', async (t) => {
  const covered = new Set<string>();
  for (const [command, patch, expected] of VIOLATIONS) {
    covered.add(command);
    const res = v.validate(command, patched(VALID[command]!, patch));
    t.same(res, { ok: false, error: expected }, `${command} ${JSON.stringify(patch)}`);
  }
  for (const command of Object.keys(CALLBACK_SCHEMAS)) {
    if (command !== 'Sns.CallbackBlackListDelete') t.ok(covered.has(command), `${command} has violation cases`);
  }
});

t.test('element types', async (t) => {
  const c = 'Group.CallbackAfterSendMsg';
  const withEl = (el: unknown) => ({ ...groupMsg, MsgBody: [el] });
  const good: unknown[] = [
    { MsgType: 'TIMTextElem', MsgContent: { Text: '' } },
    { MsgType: 'TIMLocationElem', MsgContent: { Desc: 'x', Latitude: 1.5, Longitude: -2 } },
    { MsgType: 'TIMLocationElem', MsgContent: { Latitude: 0, Longitude: 0 } },
    { MsgType: 'TIMFaceElem', MsgContent: { Index: 1, Data: 'd' } },
    { MsgType: 'TIMCustomElem', MsgContent: { Data: '{}', Desc: 'd', Ext: 'e', Sound: 's' } },
    { MsgType: 'TIMCustomElem', MsgContent: { Data: 'only' } },
    { MsgType: 'TIMSoundElem', MsgContent: { UUID: 'u', Size: 1, Second: 2 } },
    { MsgType: 'TIMSoundElem', MsgContent: { Url: 'https://x', UUID: 'u', Size: 1, Second: 2, Download_Flag: 2 } },
    { MsgType: 'TIMImageElem', MsgContent: { UUID: 'u', ImageFormat: 255, ImageInfoArray: [] } },
    {
      MsgType: 'TIMImageElem',
      MsgContent: { UUID: 'u', ImageFormat: 1, ImageInfoArray: [{ Type: 1, Size: 1, Width: 0, Height: 0, Url: 'x' }] },
    },
    { MsgType: 'TIMFileElem', MsgContent: { Url: 'x', UUID: 'u', FileSize: 1, FileName: 'a', Download_Flag: 2 } },
    { MsgType: 'TIMFileElem', MsgContent: { URL: 'x', UUID: 'u', FileSize: 1, fileName: 'a' } },
    { MsgType: 'TIMFileElem', MsgContent: { UUID: 'u', FileSize: 1, FileName: 'old-sdk' } },
    {
      MsgType: 'TIMVideoFileElem',
      MsgContent: { VideoUUID: 'v', VideoSize: 1, VideoSecond: 0, VideoFormat: 'mp4', ThumbUUID: 't', ThumbSize: 1, ThumbWidth: 1, ThumbHeight: 1, ThumbFormat: 'JPG' },
    },
    { MsgType: 'TIMRelayElem', MsgContent: { Title: 't', MsgNum: 1, CompatibleText: 'c', AbstractList: ['a'], JsonMsgKey: 'k' } },
    {
      MsgType: 'TIMRelayElem',
      MsgContent: {
        Title: 't',
        MsgNum: 1,
        MsgList: [
          {
            From_Account: 'a',
            GroupId: 'g',
            MsgSeq: 1,
            MsgRandom: 2,
            MsgTimeStamp: 3,
            MsgBody: [{ MsgType: 'TIMRelayElem', MsgContent: { MsgList: [{ MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'deep' } }] }] } }],
          },
        ],
      },
    },
    { MsgType: 'TIMGroupTipsElem', MsgContent: { anything: [1, 2, 3] } },
    { MsgType: 'SomethingNew' },
    { MsgType: 'TIMTextElem', MsgContent: { Text: 'hi', Extra: 1 }, Extra: true },
  ];
  for (const el of good) t.same(v.validate(c, withEl(el)), OK, JSON.stringify(el));

  const bad: Array<[unknown, string]> = [
    [{ MsgType: 'TIMTextElem', MsgContent: {} }, '/MsgBody/0/MsgContent/Text is required'],
    [{ MsgType: 'TIMTextElem', MsgContent: { Text: 1 } }, '/MsgBody/0/MsgContent/Text must be string'],
    [{ MsgType: 'TIMTextElem' }, '/MsgBody/0/MsgContent is required'],
    [{ MsgType: 'TIMLocationElem', MsgContent: { Latitude: '1', Longitude: 2 } }, '/MsgBody/0/MsgContent/Latitude must be number'],
    [{ MsgType: 'TIMFaceElem', MsgContent: { Data: 'x' } }, '/MsgBody/0/MsgContent/Index is required'],
    [{ MsgType: 'TIMCustomElem', MsgContent: { Data: {} } }, '/MsgBody/0/MsgContent/Data must be string'],
    [{ MsgType: 'TIMSoundElem', MsgContent: { Second: '5' } }, '/MsgBody/0/MsgContent/Second must be number'],
    [{ MsgType: 'TIMImageElem', MsgContent: { UUID: 'u' } }, '/MsgBody/0/MsgContent/ImageInfoArray is required'],
    [
      { MsgType: 'TIMImageElem', MsgContent: { ImageInfoArray: [{ Size: 1 }] } },
      '/MsgBody/0/MsgContent/ImageInfoArray/0/Type is required',
    ],
    [{ MsgType: 'TIMFileElem', MsgContent: { FileSize: '1' } }, '/MsgBody/0/MsgContent/FileSize must be number'],
    [{ MsgType: 'TIMVideoFileElem', MsgContent: { VideoFormat: 4 } }, '/MsgBody/0/MsgContent/VideoFormat must be string'],
    [{ MsgType: 'TIMRelayElem', MsgContent: { MsgList: 'x' } }, '/MsgBody/0/MsgContent/MsgList must be array'],
    [{ MsgType: 'TIMRelayElem', MsgContent: { AbstractList: [1] } }, '/MsgBody/0/MsgContent/AbstractList/0 must be string'],
    [
      { MsgType: 'TIMRelayElem', MsgContent: { MsgList: [{ MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 1 } }] }] } },
      '/MsgBody/0/MsgContent/MsgList/0/MsgBody/0/MsgContent/Text must be string',
    ],
    [
      { MsgType: 'TIMRelayElem', MsgContent: { MsgList: [{ MsgSeq: 'x' }] } },
      '/MsgBody/0/MsgContent/MsgList/0/MsgSeq must be integer',
    ],
    [{ MsgType: 'X', MsgContent: [] }, '/MsgBody/0/MsgContent must be an object'],
    [null, '/MsgBody/0 must be an object with a string MsgType'],
  ];
  for (const [el, expected] of bad) t.same(v.validate(c, withEl(el)), { ok: false, error: expected }, JSON.stringify(el));
});

t.test('bodies must be JSON objects', async (t) => {
  for (const command of ['Group.CallbackAfterSendMsg', 'X.Unknown', '', 'Push.OfflinePush']) {
    t.same(v.validate(command, []), { ok: false, error: '/ must be a JSON object (got array)' });
    t.same(v.validate(command, null), { ok: false, error: '/ must be a JSON object (got null)' });
    t.same(v.validate(command, 'x'), { ok: false, error: '/ must be a JSON object (got string)' });
    t.same(v.validate(command, 3), { ok: false, error: '/ must be a JSON object (got number)' });
    t.same(v.validate(command, undefined), { ok: false, error: '/ must be a JSON object (got undefined)' });
  }
});

t.test('commands without a schema accept any object', async (t) => {
  for (const command of ['Call.CallbackAfterStartCall', 'Bot.OnSomethingNew', 'Group.CallbackAfterSomethingNew', 'Nope']) {
    t.notOk(hasSchema(command));
    t.same(v.validate(command, {}), OK);
    t.same(v.validate(command, { MsgSeq: 'abc', MsgBody: 'x', anything: [1, { b: null }] }), OK);
  }
});

t.test('empty command falls back to body.CallbackCommand', async (t) => {
  t.same(v.validate('', { ...groupMsg, MsgSeq: 'abc' }), { ok: false, error: '/MsgSeq must be integer' });
  t.same(v.validate('', { MsgSeq: 'abc' }), OK);
});

t.test('schemas are open', async (t) => {
  t.same(v.validate('Group.CallbackAfterSendMsg', { ...groupMsg, NickName: 'x', MsgPriority: 'High', Future: { a: 1 } }), OK);
  t.same(v.validate('State.StateChange', { Info: { To_Account: 'u', New: 1 }, Other: [] }), OK);
});

t.test('EventTime forms', async (t) => {
  const c = 'Group.CallbackAfterMemberExit';
  const b = VALID[c]!;
  // Tencent's pages show numbers, digit strings, "" , null and fractions: a 400 would lose the callback.
  for (const et of [1767225600000, '1767225600000', 1767225600, '0', '', null, 1.5, 1767225600000.5, '1767225600000.5', -1])
    t.same(v.validate(c, { ...b, EventTime: et }), OK, JSON.stringify(et));
  for (const et of ['12a', ' 1', '-1', {}, [], true, '12345678901234567'])
    t.same(
      v.validate(c, { ...b, EventTime: et }),
      { ok: false, error: '/EventTime must be a number, a string of digits, "" or null' },
      JSON.stringify(et),
    );
});

t.test('Push.* bodies', async (t) => {
  const push = SAMPLE_CALLBACKS.find((s) => s.command === 'Push.OfflinePush')!.body;
  t.ok(hasSchema('Push.AllMemberPush'));
  t.same(v.validate('Push.AllMemberPush', push), OK, 'any Push.* command uses the family schema');
  t.same(v.validate('Push.OfflinePush', {}), { ok: false, error: '/Events is required' });
  // The pages say 1–100 items; a batch outside that range is still a callback (a 400 would lose it).
  t.same(v.validate('Push.OfflinePush', { Events: [] }), OK);
  const many = { Events: Array.from({ length: 101 }, () => ({ EventType: 1, EventTime: 1 })) };
  t.same(v.validate('Push.OfflinePush', many), OK);
  t.same(v.validate('Push.OfflinePush', { Events: {} }), { ok: false, error: '/Events must be array' });
  t.same(v.validate('Push.OfflinePush', { Events: Array.from({ length: 100 }, () => ({})) }), OK);
  t.same(v.validate('Push.OfflinePush', { Events: [1] }), { ok: false, error: '/Events/0 must be object' });
  t.same(v.validate('Push.OfflinePush', { Events: [{ EventTime: 'x' }] }), {
    ok: false,
    error: '/Events/0/EventTime must be a number, a string of digits, "" or null',
  });
  t.same(v.validate('Push.OfflinePush', { Events: [{ EventType: [] }] }), {
    ok: false,
    error: '/Events/0/EventType must be a string or an integer',
  });
});

t.test('deeply nested relay does not crash', async (t) => {
  let el: Body = { MsgType: 'TIMTextElem', MsgContent: { Text: 'x' } };
  for (let i = 0; i < 3000; i++) el = { MsgType: 'TIMRelayElem', MsgContent: { MsgList: [{ MsgBody: [el] }] } };
  const res = v.validate('Group.CallbackAfterSendMsg', { ...groupMsg, MsgBody: [el] });
  t.ok(res.ok === true || res.error === '/ is nested too deeply', JSON.stringify(res));
});
