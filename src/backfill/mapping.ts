/**
 * A message fetched from Tencent's history → the canonical event its lost callback would have
 * produced. Not a second mapping: the Group.CallbackAfterSendMsg body is rebuilt from the REST
 * fields and run through the one normalize(), so type, subject, data shape and — from GroupId,
 * TopicId and MsgSeq — the id are the callback's. A sink that has the callback's event drops the
 * backfilled one as a duplicate, and the other way round.
 *
 * What the history does not have stays out: EventTime, OptPlatform, ClientIP, MsgId,
 * OnlineOnlyFlag (online-only messages are not stored, so none is fetched). The extension
 * `imorigin: "backfill"` marks the event; data.receivedAtMs is the time of the backfill.
 */
import { normalize, type CanonicalEvent } from '../normalize/index.js';
import type { RestMessage } from './rest.js';

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

export function backfilledEvent(target: BackfillTarget, message: RestMessage, receivedAtMs: number, includeRaw: boolean): BackfilledEvent {
  const body = callbackBody(target, message);
  const event = normalize(body, { sdkAppId: target.sdkAppId, command: GROUP_MESSAGE_COMMAND, receivedAtMs }, { includeRaw });
  // `data` stays the last member (the queue's serializer splices data.raw at the end).
  const { data, ...head } = event;
  return { ...head, imorigin: 'backfill', data } as BackfilledEvent;
}
