/**
 * The command catalogue: one entry per documented Tencent IM callback command (61: the official
 * command lists plus the third-party-only `Chatbot.OnC2CSignalMessage`, see
 * ../shared/reference/protocol-audit.md §3). Schemas, normalizers, the before-callback reply, the
 * README table and the tests all read it, so a new command is one entry here plus a fixture.
 * Commands not in the catalogue still pass through (family normalizer or generic.ts).
 *
 * Per entry:
 * - `fields`: every documented top-level body field → where the canonical event carries it: a `data`
 *   key (`members`, or a path such as `changes.name`), `(conversation)` (subject/conversation),
 *   `(time)` (the event time / data.eventTimeMs) or `(command)` (type/imcommand). A `data` target may
 *   end in `:<Field>` to keep only that field of each item of a list (`subscribers:Subscriber_Account`).
 * - `subject`: a template; `<Path>` is a body field (dots for nested fields, digits for list items),
 *   `<A>+<B>` the two accounts sorted, `||` separates alternatives tried in order; a template whose
 *   fields are missing falls back to `app/<SdkAppid>`.
 * - `idKey`: Tencent's unique key (the id is hashed from it, so a redelivery keeps its id). Without one
 *   the id comes from the body when it carries its own time (EventTime, MsgTime), else from the body
 *   plus this reception (normalize/index.ts): identical key-less, time-less bodies are two events.
 * - `time`: which body time becomes the event time (`MsgTime`: MsgTime, else EventTime; `EventTime`:
 *   EventTime first, for edits whose MsgTime is the original message's; both fall back to the
 *   reception time).
 * - `reply`: the "allow, unchanged" answer of a before-callback in the shape its page documents.
 */

export type TimeRule = 'MsgTime' | 'EventTime' | 'EventTime of the first item';
export type ReplyShape = 'ok' | 'ok+ResultItem';

export interface CommandEntry {
  readonly command: string;
  /** Lowercased prefix before the dot, as in data.family. */
  readonly family: string;
  readonly before: boolean;
  /** The official page (the sample's source). */
  readonly docUrl: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly subject: string;
  readonly idKey: string | undefined;
  readonly time: TimeRule;
  readonly reply: ReplyShape;
  /** For `ok+ResultItem`: the request list whose To_Account each ResultItem answers. */
  readonly replyItems?: string;
}

/** Where fields common to many commands go, unless an entry says otherwise. */
const DEFAULT_TARGETS: Readonly<Record<string, string>> = {
  CallbackCommand: '(command)',
  EventTime: '(time)',
  MsgTime: '(time)',
  GroupId: '(conversation)',
  Type: '(conversation)',
  TopicId: '(conversation)',
  To_Account: '(conversation)',
  From_Account: 'sender',
  Operator_Account: 'operator',
  Owner_Account: 'owner',
  MsgSeq: 'seq',
  Random: 'random',
  MsgRandom: 'random',
  MsgId: 'msgId',
  MsgKey: 'msgKey',
  MsgBody: 'elements',
  CloudCustomData: 'cloudCustomData',
  OnlineOnlyFlag: 'onlineOnly',
  Official_Account: 'officialAccount',
  Name: 'name',
};

const C2C_MSG_KEY = 'MsgId, else MsgKey';
const GROUP_MSG_KEY = 'GroupId|TopicId|MsgSeq (AVChatRoom or no MsgSeq: GroupId|msgid|MsgId, else GroupId|From_Account|Random|MsgTime)';
const C2C_SUBJECT = 'c2c/<From_Account>+<To_Account>';
const GROUP_SUBJECT = 'group/<GroupId>';
const OA_SUBJECT = 'officialaccount/<Official_Account>';
const APP_SUBJECT = 'app';

interface Options {
  subject: string;
  idKey?: string;
  time?: TimeRule;
  replyItems?: string;
}

/** `fields`: space-separated documented fields, each `Field` or `Field=target`. */
function entry(command: string, kind: 'B' | 'A', docUrl: string, fields: string, options: Options): CommandEntry {
  const map: Record<string, string> = {};
  for (const token of fields.split(/\s+/)) {
    if (token === '') continue;
    const eq = token.indexOf('=');
    const field = eq === -1 ? token : token.slice(0, eq);
    map[field] = eq === -1 ? (DEFAULT_TARGETS[field] ?? '') : token.slice(eq + 1);
  }
  const dot = command.indexOf('.');
  return Object.freeze({
    command,
    family: command.slice(0, dot).toLowerCase(),
    before: kind === 'B',
    docUrl,
    fields: Object.freeze(map),
    subject: options.subject,
    idKey: options.idKey,
    time: options.time ?? 'MsgTime',
    reply: options.replyItems !== undefined ? 'ok+ResultItem' : 'ok',
    ...(options.replyItems !== undefined ? { replyItems: options.replyItems } : {}),
  });
}

const C2C_MSG = 'CallbackCommand From_Account To_Account MsgSeq MsgRandom MsgTime MsgKey MsgId OnlineOnlyFlag MsgBody CloudCustomData EventTime';
const GROUP_MSG = 'CallbackCommand GroupId Type From_Account Operator_Account Random MsgSeq MsgTime MsgId OnlineOnlyFlag MsgBody CloudCustomData TopicId EventTime';
const INFO_CHANGES = 'Name=changes.name Introduction=changes.introduction Notification=changes.notification FaceUrl=changes.faceUrl';

export const CATALOGUE: readonly CommandEntry[] = Object.freeze([
  entry('State.StateChange', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34357', 'CallbackCommand Info=account KickedDevice=kickedDevices EventTime', { subject: 'user/<Info.To_Account>' }),
  entry('Profile.CallbackPortraitSet', 'A', 'https://intl.cloud.tencent.com/document/product/1047/48733', 'CallbackCommand Operator_Account From_Account ProfileItem=profileItems EventTime', { subject: 'user/<From_Account>' }),
  entry('Sns.CallbackPrevFriendAdd', 'B', 'https://intl.cloud.tencent.com/document/product/1047/43468', 'CallbackCommand Requester_Account=requester From_Account FriendItem=friendItems AddType=addType ForceAddFlags=forceAddFlags EventTime', { subject: 'user/<From_Account>', replyItems: 'FriendItem' }),
  entry('Sns.CallbackPrevFriendResponse', 'B', 'https://intl.cloud.tencent.com/document/product/1047/43467', 'CallbackCommand Requester_Account=requester From_Account ResponseFriendItem=friendItems EventTime', { subject: 'user/<From_Account>', replyItems: 'ResponseFriendItem' }),
  entry('Sns.CallbackFriendAdd', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34359', 'CallbackCommand PairList=pairs ClientCmd=clientCmd Admin_Account=admin ForceFlag=forceFlag EventTime', { subject: 'user/<PairList.0.From_Account>' }),
  entry('Sns.CallbackFriendDelete', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34360', 'CallbackCommand PairList=pairs ClientCmd=clientCmd EventTime', { subject: 'user/<PairList.0.From_Account>' }),
  entry('Sns.CallbackBlackListAdd', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34361', 'CallbackCommand PairList=pairs EventTime', { subject: 'user/<PairList.0.From_Account>' }),
  entry('Sns.CallbackBlackListDelete', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34362', 'CallbackCommand PairList=pairs EventTime', { subject: 'user/<PairList.0.From_Account>' }),
  entry('Follow.CallbackAfterFollowAdd', 'A', 'https://www.tencentcloud.com/document/product/1047/70355', 'CallbackCommand From_Account FollowList=followed:To_Account EventTime', { subject: 'user/<From_Account>' }),
  entry('Follow.CallbackAfterFollowDelete', 'A', 'https://www.tencentcloud.com/document/product/1047/70356', 'CallbackCommand From_Account To_Account=unfollowed EventTime', { subject: 'user/<From_Account>' }),
  entry('C2C.CallbackBeforeSendMsg', 'B', 'https://intl.cloud.tencent.com/document/product/1047/34364', C2C_MSG, { subject: C2C_SUBJECT, idKey: C2C_MSG_KEY }),
  entry('C2C.CallbackAfterSendMsg', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34365', C2C_MSG + ' SendMsgResult=sendMsgResult ErrorInfo=errorInfo UnreadMsgNum=unreadMsgNum', { subject: C2C_SUBJECT, idKey: C2C_MSG_KEY }),
  entry('C2C.CallbackAfterMsgReport', 'A', 'https://intl.cloud.tencent.com/document/product/1047/43465', 'CallbackCommand Report_Account=reporter Peer_Account=peer LastReadTime=lastReadTimeMs UnreadMsgNum=unreadMsgNum EventTime', { subject: 'c2c/<Report_Account>+<Peer_Account>' }),
  entry('C2C.CallbackAfterMsgWithDraw', 'A', 'https://intl.cloud.tencent.com/document/product/1047/43466', 'CallbackCommand From_Account To_Account MsgKey MsgId UnreadMsgNum=unreadMsgNum EventTime', { subject: C2C_SUBJECT, idKey: C2C_MSG_KEY }),
  entry('C2C.CallbackAfterMsgReadReceipt', 'A', 'https://cloud.tencent.com/document/product/269/128223', 'CallbackCommand Operator_Account Peer_Account=peer C2CMsgInfo=receipts EventTime', { subject: 'c2c/<Operator_Account>+<Peer_Account>' }),
  entry('C2C.CallbackAfterModifyMsg', 'A', 'https://cloud.tencent.com/document/product/269/128224', 'CallbackCommand Operator_Account From_Account To_Account MsgSeq MsgRandom MsgTime=msgTimeMs MsgKey MsgBody CloudCustomData EventTime', { subject: C2C_SUBJECT, time: 'EventTime' }),
  entry('C2C.CallbackAfterMsgReadAll', 'A', 'https://cloud.tencent.com/document/product/269/128225', 'CallbackCommand Report_Account=reporter GroupReadInfo=groupReadInfo EventTime', { subject: 'user/<Report_Account>' }),
  entry('C2C.CallbackAfterC2CMsgExtension', 'A', 'https://www.tencentcloud.com/document/product/1047/76006', 'CallbackCommand From_Account To_Account MsgKey OperateType=operateType ExtensionList=extensions Seq=extensionSeq EventTime', { subject: C2C_SUBJECT }),
  entry('Group.CallbackBeforeCreateGroup', 'B', 'https://intl.cloud.tencent.com/document/product/1047/34368', 'CallbackCommand Operator_Account Owner_Account Type=groupType Name CreateGroupNum=createGroupNum CreatedGroupNum=createdGroupNum MemberList=members UserDefinedDataList=userDefinedData EventTime', { subject: APP_SUBJECT }),
  entry('Group.CallbackAfterCreateGroup', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34369', 'CallbackCommand GroupId Type Operator_Account Owner_Account Name MemberList=members UserDefinedDataList=userDefinedData EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackBeforeApplyJoinGroup', 'B', 'https://intl.cloud.tencent.com/document/product/1047/34370', 'CallbackCommand GroupId Type Requestor_Account=requestor EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackBeforeInviteJoinGroup', 'B', 'https://intl.cloud.tencent.com/document/product/1047/34371', 'CallbackCommand GroupId Type Operator_Account DestinationMembers=members EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterNewMemberJoin', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34372', 'CallbackCommand GroupId Type JoinType=joinType Operator_Account NewMemberList=members EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterMemberExit', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34373', 'CallbackCommand GroupId Type ExitType=exitType Operator_Account ExitMemberList=members EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackBeforeSendMsg', 'B', 'https://intl.cloud.tencent.com/document/product/1047/34374', GROUP_MSG, { subject: GROUP_SUBJECT, idKey: GROUP_MSG_KEY }),
  entry('Group.CallbackAfterSendMsg', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34375', GROUP_MSG, { subject: GROUP_SUBJECT, idKey: GROUP_MSG_KEY }),
  entry('Group.CallbackAfterGroupFull', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34376', 'CallbackCommand GroupId Type EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterGroupDestroyed', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34377', 'CallbackCommand GroupId Type Owner_Account Name MemberList=members EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterGroupInfoChanged', 'A', 'https://intl.cloud.tencent.com/document/product/1047/34378', `CallbackCommand GroupId Type Operator_Account ${INFO_CHANGES} ShutUpAllMember=changes.shutUpAllMember EventTime`, { subject: GROUP_SUBJECT }),
  entry('Group.CallbackOnMemberStateChange', 'A', 'https://intl.cloud.tencent.com/document/product/1047/48734', 'CallbackCommand GroupId EventType=eventType EventCause=eventCause MemberList=members EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackSendMsgException', 'A', 'https://intl.cloud.tencent.com/document/product/1047/49462', GROUP_MSG + ' ErrorCode=errorCode ErrorInfo=errorInfo', { subject: GROUP_SUBJECT, idKey: GROUP_MSG_KEY }),
  entry('Group.CallbackAfterRecallMsg', 'A', 'https://www.tencentcloud.com/document/product/1047/46979', 'CallbackCommand Operator_Account Type GroupId MsgSeqList=recalledSeqs TopicId EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackBeforeCreateTopic', 'B', 'https://intl.cloud.tencent.com/document/product/1047/49463', 'CallbackCommand GroupId Operator_Account Type=groupType Name EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterCreateTopic', 'A', 'https://intl.cloud.tencent.com/document/product/1047/49464', 'CallbackCommand GroupId TopicId Operator_Account Owner_Account Type Name UserDefinedDataList=userDefinedData EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterTopicDestroyed', 'A', 'https://intl.cloud.tencent.com/document/product/1047/49465', 'CallbackCommand GroupId Type TopicIdList=topicIds EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterTopicInfoChanged', 'A', 'https://intl.cloud.tencent.com/document/product/1047/49466', `CallbackCommand GroupId TopicId Type Operator_Account ${INFO_CHANGES} EventTime`, { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterMemberFieldChanged', 'A', 'https://www.tencentcloud.com/document/product/1047/60393', 'CallbackCommand GroupId Type Operator_Account Member_Account=member Role=role NameCard=nameCard EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterGroupAttrChanged', 'A', 'https://www.tencentcloud.com/document/product/1047/60394', 'CallbackCommand GroupId Type Operator_Account OptionType=optionType GroupAttr=attributes EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterReadReceipt', 'A', 'https://www.tencentcloud.com/document/product/1047/60395', 'CallbackCommand GroupId Type GroupMsgReceiptList=receipts EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterChangeGroupOwner', 'A', 'https://www.tencentcloud.com/document/product/1047/60396', 'CallbackCommand GroupId Type Operator_Account OldOwner_Account=oldOwner NewOwner_Account=newOwner EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackOnDailyGroupQuotaAlarm', 'A', 'https://www.tencentcloud.com/document/product/1047/57455', 'CallbackCommand QuotaUsed=quotaUsed Quota=quota EventTime', { subject: APP_SUBJECT }),
  entry('Group.CallbackAfterGroupMsgExtension', 'A', 'https://www.tencentcloud.com/document/product/1047/76007', 'CallbackCommand GroupId MsgSeq OperateType=operateType ExtensionList=extensions Seq=extensionSeq EventTime', { subject: GROUP_SUBJECT }),
  entry('Group.CallbackAfterModifyMsg', 'A', 'https://cloud.tencent.com/document/product/269/129193', 'CallbackCommand Operator_Account GroupId Type TopicId From_Account MsgSeq MsgTime=msgTimeMs MsgBody CloudCustomData EventTime', { subject: GROUP_SUBJECT, time: 'EventTime' }),
  entry('Alert.RequestOverLimit', 'A', 'https://trtc.io/document/60256', 'CallbackCommand ServiceName=serviceName Command=apiCommand Request=request Limit=limit', { subject: APP_SUBJECT }),
  entry('ContentCallback.ResultNotify', 'A', 'https://cloud.tencent.com/document/product/269/95616', 'Scene=scene SdkAppId=sdkAppId From_Account ContactItem=contactItem ContentType=contentType TextContent=textContent MsgID=msgId CtxcbResult=ctxcbResult CtxcbRequestId=ctxcbRequestId CtxcbKeywords=ctxcbKeywords CtxcbSuggestion=ctxcbSuggestion CtxcbLabel=ctxcbLabel CtxcbSubLabel=ctxcbSubLabel CtxcbSubLabelDesc=ctxcbSubLabelDesc CtxcbLibName=ctxcbLibName', { subject: 'group/<ContactItem.GroupId> || c2c/<From_Account>+<ContactItem.To_Account>' }),
  entry('Bot.OnC2CMessage', 'A', 'https://www.tencentcloud.com/document/product/1047/68952', C2C_MSG + ' SendMsgResult=sendMsgResult ErrorInfo=errorInfo', { subject: C2C_SUBJECT }),
  entry('Bot.OnGroupMessage', 'A', 'https://www.tencentcloud.com/document/product/1047/68953', GROUP_MSG + ' AtRobots_Account=atRobots', { subject: GROUP_SUBJECT }),
  entry('Chatbot.OnC2CSignalMessage', 'A', 'https://github.com/doocs/qcloud-im-server-sdk-java/blob/main/src/main/java/io/github/doocs/im/constant/CallbackCommand.java', C2C_MSG + ' SendMsgResult=sendMsgResult ErrorInfo=errorInfo', { subject: C2C_SUBJECT }),
  entry('OfficialAccount.CallbackBeforeCreateOfficialAccount', 'B', 'https://www.tencentcloud.com/document/product/1047/60795', 'CallbackCommand Operator_Account Owner_Account Name EventTime', { subject: APP_SUBJECT }),
  entry('OfficialAccount.CallbackAfterCreateOfficialAccount', 'A', 'https://www.tencentcloud.com/document/product/1047/60796', 'CallbackCommand Official_Account Operator_Account Owner_Account Name EventTime', { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackAfterOfficialAccountInfoChanged', 'A', 'https://www.tencentcloud.com/document/product/1047/60797', `CallbackCommand Official_Account Operator_Account ${INFO_CHANGES} Organization=changes.organization EventTime`, { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackAfterOfficialAccountDestroyed', 'A', 'https://www.tencentcloud.com/document/product/1047/60798', 'CallbackCommand Official_Account Owner_Account Name EventTime', { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackBeforeAddSubscriber', 'B', 'https://www.tencentcloud.com/document/product/1047/60799', 'CallbackCommand Official_Account Operator_Account SubscribeAccountList=subscribers:Subscriber_Account EventTime', { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackAfterAddSubscriber', 'A', 'https://trtc.io/document/60800', 'CallbackCommand Official_Account Operator_Account SubscribeAccountList=subscribers:Subscriber_Account EventTime', { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackAfterOfficialAccountFull', 'A', 'https://www.tencentcloud.com/document/product/1047/60801', 'CallbackCommand Official_Account EventTime', { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackAfterDeleteSubscriber', 'A', 'https://trtc.io/document/60802', 'CallbackCommand Official_Account Operator_Account SubscribeAccountList=subscribers:Subscriber_Account EventTime', { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackBeforeSendMsg', 'B', 'https://trtc.io/document/60803', 'CallbackCommand Official_Account OnlineOnlyFlag MsgBody CloudCustomData EventTime', { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackAfterSendMsg', 'A', 'https://trtc.io/document/60804', 'CallbackCommand Official_Account MsgKey MsgTime OnlineOnlyFlag MsgBody CloudCustomData EventTime', { subject: OA_SUBJECT }),
  entry('OfficialAccount.CallbackAfterMsgWithDraw', 'A', 'https://trtc.io/document/60805', 'CallbackCommand Official_Account WithdrawMsgList=withdrawnMsgKeys:MsgKey EventTime', { subject: OA_SUBJECT }),
  entry('Push.OfflinePush', 'A', 'https://www.tencentcloud.com/document/product/1047/67552', 'Events=events', { subject: APP_SUBJECT, time: 'EventTime of the first item' }),
  entry('Push.AllMemberPush', 'A', 'https://www.tencentcloud.com/document/product/1047/67551', 'Events=events', { subject: APP_SUBJECT, time: 'EventTime of the first item' }),
]);

const BY_COMMAND: ReadonlyMap<string, CommandEntry> = new Map(CATALOGUE.map((e) => [e.command, e]));

/** The catalogue entry of a documented command; undefined for unknown (passed-through) commands. */
export function catalogueEntry(command: string): CommandEntry | undefined {
  return BY_COMMAND.get(command);
}

const TIME_TEXT: Readonly<Record<TimeRule, string>> = {
  MsgTime: 'MsgTime, else EventTime, else reception',
  EventTime: 'EventTime, else MsgTime, else reception',
  'EventTime of the first item': 'first item\'s EventTime, else reception',
};

/** The "Supported commands" table of README.md, generated from the catalogue (a test compares them). */
export function supportedCommandsTable(): string {
  const lines = [
    '| Command | Kind | Subject | Id key | Time | Before-callback reply |',
    '|---|---|---|---|---|---|',
  ];
  for (const e of CATALOGUE) {
    const subject = e.subject === APP_SUBJECT ? 'app/<SdkAppid>' : e.subject.replaceAll(' || ', ', else ') + ', else app/<SdkAppid>';
    const id = e.idKey ?? 'none';
    const reply = !e.before ? '—' : e.reply === 'ok+ResultItem' ? `OK + ResultItem per ${e.replyItems} entry (ResultCode 0)` : 'OK (ErrorCode 0)';
    lines.push(`| [\`${e.command}\`](${e.docUrl}) | ${e.before ? 'before' : 'after'} | \`${subject}\` | ${id.replaceAll('|', '\\|')} | ${TIME_TEXT[e.time]} | ${reply} |`);
  }
  return lines.join('\n');
}
