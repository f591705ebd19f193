/**
 * Push.* (push-result) callbacks (reference §7.4): a different body shape, `{"Events":[...]}` with
 * 1–100 items, each carrying its own CallbackCommand/EventType/EventTime (seconds in the sample).
 * Applies to every `Push.*` command, known or not.
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
  Events: Type.Array(PushEvent, { minItems: 1, maxItems: 100 }),
});

/** Family-wide schemas: applied to any command with this prefix that has no exact schema. */
export const PUSH_FAMILY_PREFIX = 'Push.';
