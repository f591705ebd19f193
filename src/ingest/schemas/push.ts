/**
 * Push.* (push-result) callbacks (reference §7.4): a different body shape, `{"Events":[...]}`, each
 * item carrying its own CallbackCommand/EventType/EventTime (seconds in the sample). The pages say
 * 1–100 items, but a batch Tencent sends outside that range is still a callback and a 400 would lose
 * it: any number of items passes (the body size limit bounds it). Applies to every `Push.*` command.
 */
import { Type } from '@sinclair/typebox';
import { CallbackObject, EventTime } from './common.js';

const Opt = Type.Optional;

export const PushEvent = Type.Object({
  CallbackCommand: Opt(Type.String()),
  EventType: Opt(Type.Union([Type.String(), Type.Integer()], { 'x-expect': 'a string or an integer' })),
  EventTime: Opt(EventTime()),
  MsgKey: Opt(Type.String()),
});

export const PushCallback = CallbackObject({
  Events: Type.Array(PushEvent),
});

/** Family-wide schemas: applied to any command with this prefix that has no exact schema. */
export const PUSH_FAMILY_PREFIX = 'Push.';
