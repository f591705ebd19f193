/**
 * A message fetched from Tencent's history (group or C2C) → the canonical event its lost callback
 * would have produced. Not a second mapping: the Group.CallbackAfterSendMsg body is rebuilt from the REST
 * fields and run through the one normalize(), so type, subject, data shape and — from GroupId,
 * TopicId and MsgSeq — the id are the callback's. A sink that has the callback's event drops the
 * backfilled one as a duplicate, and the other way round.
 *
 * What the group history does not have stays out: EventTime, OptPlatform, ClientIP, MsgId,
 * OnlineOnlyFlag (online-only messages are not stored, so none is fetched). The extension
 * `imorigin: "backfill"` marks the event; data.receivedAtMs is the time of the backfill.
 */
import { normalize, type CanonicalEvent } from '../normalize/index.js';
import type { RestMessage, RoamMessage } from './rest.js';

export const GROUP_MESSAGE_COMMAND = 'Group.CallbackAfterSendMsg';

export type BackfilledEvent = CanonicalEvent & { imorigin: 'backfill' };

export interface BackfillTarget {
  sdkAppId: string;
  groupId: string;
  /** '' for the group's own sequence. */
  topicId: string;
  /** As the callbacks named it ('' unknown). */
  groupType: string;
}

export function callbackBody(target: BackfillTarget, message: RestMessage): Record<string, unknown> {
  const body: Record<string, unknown> = { CallbackCommand: GROUP_MESSAGE_COMMAND, GroupId: target.groupId };
  if (target.groupType) body.Type = target.groupType;
  if (typeof message.From_Account === 'string') {
    body.From_Account = message.From_Account;
    body.Operator_Account = message.From_Account;
  }
  if (typeof message.MsgRandom === 'number') body.Random = message.MsgRandom;
  body.MsgSeq = message.MsgSeq;
  if (typeof message.MsgTimeStamp === 'number') body.MsgTime = message.MsgTimeStamp;
  body.MsgBody = Array.isArray(message.MsgBody) ? message.MsgBody : [];
  if (typeof message.CloudCustomData === 'string') body.CloudCustomData = message.CloudCustomData;
  if (target.topicId) body.TopicId = target.topicId;
  return body;
}

export const C2C_MESSAGE_COMMAND = 'C2C.CallbackAfterSendMsg';

/**
 * A roaming message (admin_getroammsg) → the C2C.CallbackAfterSendMsg body its callback carried.
 * The id comes from MsgId, else MsgKey (src/normalize/c2c.ts), both in the roaming answer. The
 * callback's outcome fields are those of a delivered message: stored in the history means sent
 * (SendMsgResult 0), not online-only (those are not stored); UnreadMsgNum is unknown, 0.
 */
export function c2cCallbackBody(message: RoamMessage): Record<string, unknown> {
  const body: Record<string, unknown> = { CallbackCommand: C2C_MESSAGE_COMMAND };
  if (typeof message.From_Account === 'string') body.From_Account = message.From_Account;
  if (typeof message.To_Account === 'string') body.To_Account = message.To_Account;
  if (typeof message.MsgSeq === 'number') body.MsgSeq = message.MsgSeq;
  if (typeof message.MsgRandom === 'number') body.MsgRandom = message.MsgRandom;
  if (typeof message.MsgTimeStamp === 'number') body.MsgTime = message.MsgTimeStamp;
  if (typeof message.MsgKey === 'string') body.MsgKey = message.MsgKey;
  if (typeof message.MsgId === 'string' && message.MsgId !== '') body.MsgId = message.MsgId;
  body.OnlineOnlyFlag = 0;
  body.SendMsgResult = 0;
  body.UnreadMsgNum = 0;
  body.MsgBody = Array.isArray(message.MsgBody) ? message.MsgBody : [];
  if (typeof message.CloudCustomData === 'string') body.CloudCustomData = message.CloudCustomData;
  return body;
}

export function c2cBackfilledEvent(sdkAppId: string, message: RoamMessage, receivedAtMs: number, includeRaw: boolean): BackfilledEvent {
  return marked(normalize(c2cCallbackBody(message), { sdkAppId, command: C2C_MESSAGE_COMMAND, receivedAtMs }, { includeRaw }));
}

export function backfilledEvent(target: BackfillTarget, message: RestMessage, receivedAtMs: number, includeRaw: boolean): BackfilledEvent {
  const body = callbackBody(target, message);
  return marked(normalize(body, { sdkAppId: target.sdkAppId, command: GROUP_MESSAGE_COMMAND, receivedAtMs }, { includeRaw }));
}

function marked(event: CanonicalEvent): BackfilledEvent {
  // `data` stays the last member (the queue's serializer splices data.raw at the end).
  const { data, ...head } = event;
  return { ...head, imorigin: 'backfill', data } as BackfilledEvent;
}
