/**
 * Schemas of the families without a dedicated normalizer (reference §7.1, §7.4): Profile, Follow,
 * Alert, ContentCallback, Bot/Chatbot and OfficialAccount. Open objects like the rest: they pin the
 * fields that name the party and the types a consumer relies on, nothing more.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Account, CallbackObject, Int, MsgBody, NonEmptyString, UInt } from './common.js';

const Opt = Type.Optional;

export const ProfilePortraitSet = CallbackObject({
  Operator_Account: Opt(Account()),
  From_Account: Account(),
  ProfileItem: Type.Array(Type.Object({ Tag: Type.String() })),
});

export const FollowAdd = CallbackObject({
  From_Account: Account(),
  FollowList: Type.Array(Type.Object({ To_Account: Account() })),
});

export const FollowDelete = CallbackObject({
  From_Account: Account(),
  To_Account: Type.Array(Account()),
});

export const AlertRequestOverLimit = CallbackObject({
  ServiceName: Opt(Type.String()),
  Command: Opt(Type.String()),
  Request: Opt(Type.Number()),
  Limit: Opt(Type.Number()),
});

/** The moderation result: `ContactItem` names the peer (To_Account) or the group (GroupId). */
export const ContentResultNotify = CallbackObject({
  Scene: Opt(Type.String()),
  From_Account: Opt(Account()),
  ContactItem: Opt(Type.Object({ To_Account: Opt(Account()), GroupId: Opt(Type.String()) })),
  ContentType: Opt(Type.String()),
  MsgID: Opt(Type.String()),
  CtxcbResult: Opt(Type.Union([Type.Integer(), Type.String()], { 'x-expect': 'an integer or a string' })),
});

const BotC2CMessage = CallbackObject({
  From_Account: Account(),
  To_Account: Account(),
  MsgSeq: Opt(UInt()),
  MsgRandom: Opt(UInt()),
  MsgTime: Opt(UInt()),
  MsgKey: Opt(Type.String()),
  OnlineOnlyFlag: Opt(Int()),
  SendMsgResult: Opt(Int()),
  ErrorInfo: Opt(Type.String()),
  MsgBody: MsgBody(),
  CloudCustomData: Opt(Type.String()),
});

export const BotGroupMessage = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  From_Account: Opt(Account()),
  Operator_Account: Opt(Account()),
  Random: Opt(UInt()),
  MsgSeq: Opt(UInt()),
  MsgTime: Opt(UInt()),
  OnlineOnlyFlag: Opt(Int()),
  MsgBody: MsgBody(),
  AtRobots_Account: Opt(Type.Array(Account())),
  CloudCustomData: Opt(Type.String()),
  TopicId: Opt(Type.String()),
});

const Official = { Official_Account: NonEmptyString() };
const Subscribers = Type.Array(Type.Object({ Subscriber_Account: Account() }));

export const OfficialAccountBeforeCreate = CallbackObject({
  Operator_Account: Opt(Account()),
  Owner_Account: Opt(Account()),
  Name: Opt(Type.String()),
});

export const OfficialAccountCreatedOrDestroyed = CallbackObject({
  ...Official,
  Operator_Account: Opt(Account()),
  Owner_Account: Opt(Account()),
  Name: Opt(Type.String()),
});

export const OfficialAccountInfoChanged = CallbackObject({ ...Official, Operator_Account: Opt(Account()) });

export const OfficialAccountSubscribers = CallbackObject({
  ...Official,
  Operator_Account: Opt(Account()),
  SubscribeAccountList: Subscribers,
});

export const OfficialAccountFull = CallbackObject(Official);

export const OfficialAccountMessage = CallbackObject({
  ...Official,
  MsgKey: Opt(Type.String()),
  MsgTime: Opt(UInt()),
  OnlineOnlyFlag: Opt(Int()),
  MsgBody: MsgBody(),
  CloudCustomData: Opt(Type.String()),
});

export const OfficialAccountMsgWithDraw = CallbackObject({
  ...Official,
  WithdrawMsgList: Type.Array(Type.Object({ MsgKey: Type.String() })),
});

export const OTHER_SCHEMAS: Readonly<Record<string, TSchema>> = {
  'Profile.CallbackPortraitSet': ProfilePortraitSet,
  'Follow.CallbackAfterFollowAdd': FollowAdd,
  'Follow.CallbackAfterFollowDelete': FollowDelete,
  'Alert.RequestOverLimit': AlertRequestOverLimit,
  'ContentCallback.ResultNotify': ContentResultNotify,
  'Bot.OnC2CMessage': BotC2CMessage,
  'Bot.OnGroupMessage': BotGroupMessage,
  // No page; the only known source names it next to Bot.OnC2CMessage, whose shape is assumed.
  'Chatbot.OnC2CSignalMessage': BotC2CMessage,
  'OfficialAccount.CallbackBeforeCreateOfficialAccount': OfficialAccountBeforeCreate,
  'OfficialAccount.CallbackAfterCreateOfficialAccount': OfficialAccountCreatedOrDestroyed,
  'OfficialAccount.CallbackAfterOfficialAccountInfoChanged': OfficialAccountInfoChanged,
  'OfficialAccount.CallbackAfterOfficialAccountDestroyed': OfficialAccountCreatedOrDestroyed,
  'OfficialAccount.CallbackBeforeAddSubscriber': OfficialAccountSubscribers,
  'OfficialAccount.CallbackAfterAddSubscriber': OfficialAccountSubscribers,
  'OfficialAccount.CallbackAfterOfficialAccountFull': OfficialAccountFull,
  'OfficialAccount.CallbackAfterDeleteSubscriber': OfficialAccountSubscribers,
  'OfficialAccount.CallbackBeforeSendMsg': OfficialAccountMessage,
  'OfficialAccount.CallbackAfterSendMsg': OfficialAccountMessage,
  'OfficialAccount.CallbackAfterMsgWithDraw': OfficialAccountMsgWithDraw,
};
