/**
 * Group.* callbacks → canonical data (reference §4, §7.3).
 *
 * Id keys:
 * - message callbacks (MsgBody present, not an edit) with a MsgSeq, except AVChatRoom:
 *   `GroupId|TopicId|MsgSeq`;
 * - AVChatRoom messages, or messages without MsgSeq (before-send, send exception): `GroupId|msgid|MsgId`
 *   when MsgId is present, else `GroupId|From_Account|Random|MsgTime` when Random is present;
 * - everything else: hash of the canonical body.
 */
import {
  type Body,
  type Draft,
  applyMessageFields,
  camelKey,
  isMessageCallback,
  isObject,
  keyPart,
  mapGroupType,
  memberAccounts,
  nonEmpty,
  num,
  put,
  safeSet,
  setGroupConversation,
  str,
} from './common.js';

/** Top-level keys of Group.CallbackAfterGroupInfoChanged / AfterTopicInfoChanged that are not part of the change set. */
const INFO_CHANGED_ENVELOPE: ReadonlySet<string> = new Set([
  'CallbackCommand',
  'GroupId',
  'Type',
  'Operator_Account',
  'EventTime',
  // Group.CallbackAfterTopicInfoChanged: the topic is the conversation, not a change.
  'TopicId',
]);

export function normalizeGroup(body: Body, draft: Draft): void {
  const data = draft.data;
  const groupId = nonEmpty(body.GroupId);
  if (groupId !== undefined) setGroupConversation(draft, body, groupId);

  const command = draft.command;
  const dot = command.indexOf('.');
  const name = dot === -1 ? command : command.slice(dot + 1);

  if (isMessageCallback(command, body)) {
    applyMessageFields(body, data);
    if (name === 'CallbackSendMsgException') {
      put(data, 'errorCode', num(body.ErrorCode));
      put(data, 'errorInfo', str(body.ErrorInfo));
    }
    draft.idKey = groupMessageKey(body, groupId);
    return;
  }

  // Fields shared by the non-message group callbacks.
  put(data, 'operator', str(body.Operator_Account));

  switch (name) {
    case 'CallbackAfterNewMemberJoin':
      put(data, 'joinType', str(body.JoinType));
      put(data, 'members', memberAccounts(body.NewMemberList));
      break;
    case 'CallbackAfterMemberExit':
      put(data, 'exitType', str(body.ExitType));
      put(data, 'members', memberAccounts(body.ExitMemberList));
      break;
    case 'CallbackAfterGroupDestroyed':
    case 'CallbackAfterCreateGroup':
    case 'CallbackBeforeCreateGroup':
      put(data, 'owner', str(body.Owner_Account));
      put(data, 'name', str(body.Name));
      put(data, 'members', memberAccounts(body.MemberList));
      put(data, 'createGroupNum', num(body.CreateGroupNum));
      put(data, 'userDefinedData', keyValues(body.UserDefinedDataList));
      if (groupId === undefined) {
        const type = nonEmpty(body.Type);
        // Before creation there is no GroupId yet; still expose the group type.
        if (type !== undefined) data.groupType = mapGroupType(type);
      }
      break;
    case 'CallbackBeforeApplyJoinGroup':
      put(data, 'requestor', str(body.Requestor_Account));
      break;
    case 'CallbackBeforeInviteJoinGroup':
      put(data, 'members', memberAccounts(body.DestinationMembers));
      break;
    case 'CallbackAfterGroupInfoChanged':
    case 'CallbackAfterTopicInfoChanged': {
      const changes: Record<string, unknown> = {};
      for (const k in body) {
        if (Object.prototype.hasOwnProperty.call(body, k) && !INFO_CHANGED_ENVELOPE.has(k)) {
          safeSet(changes, camelKey(k), body[k]);
        }
      }
      data.changes = changes;
      break;
    }
    case 'CallbackAfterRecallMsg':
      put(data, 'recalledSeqs', recalledSeqs(body.MsgSeqList));
      break;
    case 'CallbackAfterMemberFieldChanged':
      put(data, 'member', str(body.Member_Account));
      put(data, 'role', str(body.Role));
      put(data, 'nameCard', str(body.NameCard));
      break;
    case 'CallbackOnMemberStateChange':
      put(data, 'eventType', str(body.EventType));
      put(data, 'eventCause', str(body.EventCause));
      put(data, 'members', memberAccounts(body.MemberList));
      break;
    case 'CallbackAfterModifyMsg':
      applyMessageFields(body, data);
      break;
    default:
      // Unknown group command: common fields only; the body stays under data.raw.
      put(data, 'sender', str(body.From_Account));
      put(data, 'seq', num(body.MsgSeq));
      break;
  }
  draft.idKey = undefined;
}

function groupMessageKey(body: Body, groupId: string | undefined): string | undefined {
  if (groupId === undefined) return undefined;
  const seq = num(body.MsgSeq);
  const avChatRoom = body.Type === 'AVChatRoom';
  if (seq !== undefined && !avChatRoom) {
    return keyPart(groupId) + '|' + keyPart(str(body.TopicId)) + '|' + seq;
  }
  const msgId = nonEmpty(body.MsgId);
  if (msgId !== undefined) return keyPart(groupId) + '|msgid|' + keyPart(msgId);
  const random = num(body.Random);
  if (random === undefined) return undefined;
  return (
    keyPart(groupId) + '|' + keyPart(str(body.From_Account)) + '|' + random + '|' + keyPart(num(body.MsgTime))
  );
}

function recalledSeqs(list: unknown): number[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (isObject(item) && typeof item.MsgSeq === 'number') out.push(item.MsgSeq);
  }
  return out;
}

function keyValues(list: unknown): Array<{ key: string; value?: string }> | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: Array<{ key: string; value?: string }> = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (!isObject(item) || typeof item.Key !== 'string') continue;
    const kv: { key: string; value?: string } = { key: item.Key };
    if (typeof item.Value === 'string') kv.value = item.Value;
    out.push(kv);
  }
  return out;
}
