/**
 * C2C.* callbacks → canonical data (reference §7.2).
 *
 * Conversation: the two accounts sorted (From_Account/To_Account, Report_Account/Peer_Account,
 * Operator_Account/Peer_Account); a callback with a single account (read-all) is a user event.
 *
 * Id keys: message callbacks (MsgBody present, not an edit) and recalls: `msgid|<MsgId>` when MsgId
 * is present, else `msgkey|<MsgKey>`; everything else (read reports, edits, extensions...) and
 * messages with neither: hash of the canonical body.
 */
import {
  type Body,
  type Draft,
  applyMessageFields,
  camelObject,
  isMessageCallback,
  isObject,
  keyPart,
  nonEmpty,
  num,
  put,
  setC2CConversation,
  setUserConversation,
  str,
} from './common.js';
import { secondsToMs } from './time.js';

export function normalizeC2C(body: Body, draft: Draft): void {
  const data = draft.data;
  const command = draft.command;
  setC2CConversationFromBody(body, draft);

  if (isMessageCallback(command, body)) {
    applyMessageFields(body, data);
    put(data, 'sendMsgResult', num(body.SendMsgResult));
    put(data, 'errorInfo', str(body.ErrorInfo));
    put(data, 'unreadMsgNum', num(body.UnreadMsgNum));
    draft.idKey = c2cMessageKey(body);
    return;
  }

  const dot = command.indexOf('.');
  const name = dot === -1 ? command : command.slice(dot + 1);
  switch (name) {
    case 'CallbackAfterMsgWithDraw':
      put(data, 'sender', str(body.From_Account));
      put(data, 'msgKey', str(body.MsgKey));
      put(data, 'msgId', str(body.MsgId));
      put(data, 'unreadMsgNum', num(body.UnreadMsgNum));
      draft.idKey = c2cMessageKey(body);
      return;
    case 'CallbackAfterMsgReport':
      put(data, 'reporter', str(body.Report_Account));
      put(data, 'peer', str(body.Peer_Account));
      put(data, 'lastReadTimeMs', secondsToMs(body.LastReadTime));
      put(data, 'unreadMsgNum', num(body.UnreadMsgNum));
      break;
    case 'CallbackAfterMsgReadReceipt':
      put(data, 'operator', str(body.Operator_Account));
      put(data, 'peer', str(body.Peer_Account));
      put(data, 'receipts', objectList(body.C2CMsgInfo));
      break;
    case 'CallbackAfterMsgReadAll':
      put(data, 'reporter', str(body.Report_Account));
      put(data, 'groupReadInfo', objectList(body.GroupReadInfo));
      break;
    case 'CallbackAfterModifyMsg':
      applyMessageFields(body, data);
      break;
    case 'CallbackAfterC2CMsgExtension':
      put(data, 'sender', str(body.From_Account));
      put(data, 'msgKey', str(body.MsgKey));
      put(data, 'operateType', num(body.OperateType));
      put(data, 'extensions', objectList(body.ExtensionList));
      put(data, 'extensionSeq', num(body.Seq));
      break;
    default:
      put(data, 'sender', str(body.From_Account));
      put(data, 'operator', str(body.Operator_Account));
      put(data, 'msgKey', str(body.MsgKey));
      put(data, 'msgId', str(body.MsgId));
      break;
  }
  draft.idKey = undefined;
}

function setC2CConversationFromBody(body: Body, draft: Draft): void {
  const from = str(body.From_Account);
  const to = str(body.To_Account);
  if (from !== undefined && to !== undefined) return setC2CConversation(draft, from, to);
  const peer = str(body.Peer_Account);
  const self = str(body.Report_Account) ?? str(body.Operator_Account);
  if (self !== undefined && peer !== undefined) return setC2CConversation(draft, self, peer);
  const single = self ?? from ?? to ?? peer;
  if (single !== undefined) setUserConversation(draft, single);
}

function c2cMessageKey(body: Body): string | undefined {
  const msgId = nonEmpty(body.MsgId);
  if (msgId !== undefined) return 'msgid|' + keyPart(msgId);
  const msgKey = nonEmpty(body.MsgKey);
  if (msgKey !== undefined) return 'msgkey|' + keyPart(msgKey);
  return undefined;
}

/** Array of objects → array of camelCase shallow copies (non-objects skipped). */
function objectList(list: unknown): Record<string, unknown>[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (isObject(item)) out.push(camelObject(item));
  }
  return out;
}
