/**
 * Group.* callback schemas (reference §4, §7.3). GroupId is a non-empty string wherever the group
 * already exists; `Type` is any string (legacy Private/ChatRoom and current Work/Meeting both occur).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Account, CallbackObject, Int, MemberList, MsgBody, NonEmptyString, UInt } from './common.js';

const Opt = Type.Optional;

/** Fields shared by the group message callbacks (before/after send, send exception). */
const GroupMsgFields = {
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  From_Account: Opt(Account()),
  Operator_Account: Opt(Account()),
  Random: Opt(UInt()),
  MsgId: Opt(Type.String()),
  OnlineOnlyFlag: Opt(Int()),
  MsgBody: MsgBody(),
  CloudCustomData: Opt(Type.String()),
  TopicId: Opt(Type.String()),
};

export const GroupAfterSendMsg = CallbackObject({
  ...GroupMsgFields,
  MsgSeq: Opt(UInt()),
  MsgTime: Opt(UInt()),
});

export const GroupBeforeSendMsg = CallbackObject({
  ...GroupMsgFields,
  MsgSeq: Opt(UInt()),
  MsgTime: Opt(UInt()),
});

export const GroupSendMsgException = CallbackObject({
  ...GroupMsgFields,
  MsgSeq: Opt(UInt()),
  MsgTime: Opt(UInt()),
  ErrorCode: Opt(Int()),
  ErrorInfo: Opt(Type.String()),
});

export const GroupAfterModifyMsg = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  From_Account: Opt(Account()),
  TopicId: Opt(Type.String()),
  MsgSeq: UInt(),
  MsgTime: Opt(UInt()),
  MsgBody: Opt(MsgBody()),
  CloudCustomData: Opt(Type.String()),
});

export const GroupAfterNewMemberJoin = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  JoinType: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  NewMemberList: MemberList(),
});

export const GroupAfterMemberExit = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  ExitType: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  ExitMemberList: MemberList(),
});

export const GroupAfterGroupDestroyed = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Owner_Account: Opt(Account()),
  Name: Opt(Type.String()),
  // Not sent for Community groups.
  MemberList: Opt(MemberList()),
});

const UserDefinedData = Type.Array(Type.Object({ Key: Type.String(), Value: Opt(Type.String()) }));

export const GroupAfterCreateGroup = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  Owner_Account: Opt(Account()),
  Name: Opt(Type.String()),
  MemberList: Opt(MemberList()),
  UserDefinedDataList: Opt(UserDefinedData),
});

export const GroupBeforeCreateGroup = CallbackObject({
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  Owner_Account: Opt(Account()),
  Name: Opt(Type.String()),
  CreateGroupNum: Opt(Int()),
  MemberList: Opt(MemberList()),
  UserDefinedDataList: Opt(UserDefinedData),
});

export const GroupBeforeApplyJoinGroup = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Requestor_Account: Opt(Account()),
});

export const GroupBeforeInviteJoinGroup = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  DestinationMembers: MemberList(),
});

/** Only the changed fields are sent; their set is unconfirmed, so beyond the ids nothing is required. */
export const GroupAfterGroupInfoChanged = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
});

export const GroupAfterRecallMsg = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  TopicId: Opt(Type.String()),
  MsgSeqList: Type.Array(Type.Object({ MsgSeq: UInt() })),
});

export const GroupAfterMemberFieldChanged = CallbackObject({
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  Member_Account: Opt(Account()),
  Role: Opt(Type.String()),
  NameCard: Opt(Type.String()),
});

export const GroupOnMemberStateChange = CallbackObject({
  GroupId: NonEmptyString(),
  EventType: Opt(Type.String()),
  EventCause: Opt(Type.String()),
  MemberList: MemberList(),
});

/** Fields every callback about an existing group carries. */
const InGroup = {
  GroupId: NonEmptyString(),
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
};

export const GroupAfterGroupFull = CallbackObject(InGroup);

/** Before a topic exists there is no TopicId; the sample has no GroupId either. */
export const GroupBeforeCreateTopic = CallbackObject({
  GroupId: Opt(Type.String()),
  Type: Opt(Type.String()),
  Operator_Account: Opt(Account()),
  Name: Opt(Type.String()),
});

export const GroupAfterCreateTopic = CallbackObject({
  ...InGroup,
  TopicId: Opt(Type.String()),
  Owner_Account: Opt(Account()),
  Name: Opt(Type.String()),
  UserDefinedDataList: Opt(UserDefinedData),
});

export const GroupAfterTopicDestroyed = CallbackObject({ ...InGroup, TopicIdList: Type.Array(Type.String()) });

/** Like GroupInfoChanged: only the changed fields are sent. */
export const GroupAfterTopicInfoChanged = CallbackObject({ ...InGroup, TopicId: Opt(Type.String()) });

export const GroupAfterGroupAttrChanged = CallbackObject({
  ...InGroup,
  OptionType: Opt(Type.String()),
  GroupAttr: Opt(Type.Array(Type.Object({ key: Opt(Type.String()), value: Opt(Type.String()) }))),
});

export const GroupAfterReadReceipt = CallbackObject({
  ...InGroup,
  GroupMsgReceiptList: Type.Array(
    Type.Object({ MsgSeq: Opt(UInt()), ReadNum: Opt(Int()), UnreadNum: Opt(Int()), ReadReceiptMembers: Opt(MemberList()) }),
  ),
});

export const GroupAfterChangeGroupOwner = CallbackObject({
  ...InGroup,
  OldOwner_Account: Opt(Account()),
  NewOwner_Account: Account(),
});

export const GroupOnDailyGroupQuotaAlarm = CallbackObject({ QuotaUsed: Opt(Int()), Quota: Opt(Int()) });

export const GroupAfterGroupMsgExtension = CallbackObject({
  ...InGroup,
  MsgSeq: Opt(UInt()),
  TopicId: Opt(Type.String()),
  OperateType: Opt(Int()),
  ExtensionList: Opt(Type.Array(Type.Object({ Key: Opt(Type.String()), Value: Opt(Type.String()), Seq: Opt(UInt()) }))),
  Seq: Opt(UInt()),
});

export const GROUP_SCHEMAS: Readonly<Record<string, TSchema>> = {
  'Group.CallbackAfterGroupFull': GroupAfterGroupFull,
  'Group.CallbackBeforeCreateTopic': GroupBeforeCreateTopic,
  'Group.CallbackAfterCreateTopic': GroupAfterCreateTopic,
  'Group.CallbackAfterTopicDestroyed': GroupAfterTopicDestroyed,
  'Group.CallbackAfterTopicInfoChanged': GroupAfterTopicInfoChanged,
  'Group.CallbackAfterGroupAttrChanged': GroupAfterGroupAttrChanged,
  'Group.CallbackAfterReadReceipt': GroupAfterReadReceipt,
  'Group.CallbackAfterChangeGroupOwner': GroupAfterChangeGroupOwner,
  'Group.CallbackOnDailyGroupQuotaAlarm': GroupOnDailyGroupQuotaAlarm,
  'Group.CallbackAfterGroupMsgExtension': GroupAfterGroupMsgExtension,
  'Group.CallbackAfterSendMsg': GroupAfterSendMsg,
  'Group.CallbackBeforeSendMsg': GroupBeforeSendMsg,
  'Group.CallbackSendMsgException': GroupSendMsgException,
  'Group.CallbackAfterModifyMsg': GroupAfterModifyMsg,
  'Group.CallbackAfterNewMemberJoin': GroupAfterNewMemberJoin,
  'Group.CallbackAfterMemberExit': GroupAfterMemberExit,
  'Group.CallbackAfterGroupDestroyed': GroupAfterGroupDestroyed,
  'Group.CallbackAfterCreateGroup': GroupAfterCreateGroup,
  'Group.CallbackBeforeCreateGroup': GroupBeforeCreateGroup,
  'Group.CallbackBeforeApplyJoinGroup': GroupBeforeApplyJoinGroup,
  'Group.CallbackBeforeInviteJoinGroup': GroupBeforeInviteJoinGroup,
  'Group.CallbackAfterGroupInfoChanged': GroupAfterGroupInfoChanged,
  'Group.CallbackAfterRecallMsg': GroupAfterRecallMsg,
  'Group.CallbackAfterMemberFieldChanged': GroupAfterMemberFieldChanged,
  'Group.CallbackOnMemberStateChange': GroupOnMemberStateChange,
};
