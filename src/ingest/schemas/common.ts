/**
 * Shared building blocks for the Tencent IM callback schemas (see
 * /work/shared/reference/tencent-im-callbacks.md). All object schemas are OPEN: TypeBox
 * `Type.Object` emits no `additionalProperties`, so fields Tencent adds later pass through.
 *
 * `x-expect` is an annotation keyword (registered with ajv in index.ts) holding a human phrase
 * used in error messages where ajv's own wording would be obscure (unions, patterns).
 */
import { Type, type TSchema, type SchemaOptions } from '@sinclair/typebox';

/** `$id` of the shared message-element schema, registered once with ajv. */
export const MSG_ELEMENT_ID = 'tim:MsgElement';

/** Non-empty string (GroupId on group commands). */
export const NonEmptyString = (options: SchemaOptions = {}) =>
  Type.String({ minLength: 1, 'x-expect': 'a non-empty string', ...options });

/**
 * Integers are bounded to the safe range: JSON.parse rounds anything beyond 2^53 (2^53 + 1 becomes
 * 2^53), so such a value cannot be forwarded faithfully and is a schema violation instead.
 */
const SAFE = { minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };

/** Unsigned integer: MsgSeq, MsgTime, Random, MsgRandom... */
export const UInt = (options: SchemaOptions = {}) => Type.Integer({ ...SAFE, minimum: 0, ...options });

/** Any integer (UnreadMsgNum may be -1, error codes...). */
export const Int = (options: SchemaOptions = {}) => Type.Integer({ ...SAFE, ...options });

/** Tencent user id. Lenient: any string (empty strings occur for system senders). */
export const Account = () => Type.String();

/**
 * EventTime: milliseconds (seconds for Push.*), sent as a JSON number in some callbacks and as a
 * digit string in others ("1670574414123"). Tencent's pages also show `""`, `null` and fractional
 * values; an after-callback refused with 400 is lost, so every number, `null` and any string of
 * digits (with an optional fraction) or the empty string pass. An object, array, boolean or a
 * string that is not a number cannot be a callback's EventTime.
 */
export const EventTime = () =>
  Type.Union([Type.Number(), Type.Null(), Type.String({ pattern: '^([0-9]{1,16}(\\.[0-9]{1,7})?)?$' })], {
    'x-expect': 'a number, a string of digits, "" or null',
  });

/** `{ Member_Account }` item used in member lists. */
export const MemberItem = () => Type.Object({ Member_Account: Account() }, { 'x-expect': 'an object with Member_Account' });

export const MemberList = () => Type.Array(MemberItem());

/** MsgBody: an array of element objects (validated by the shared element schema). */
export const MsgBody = () =>
  Type.Array(Type.Unsafe<Record<string, unknown>>(Type.Ref(MSG_ELEMENT_ID)), { 'x-expect': 'an array of message elements' });

/** Fields every callback body may carry. */
export const BaseFields = {
  CallbackCommand: Type.Optional(Type.String()),
  EventTime: Type.Optional(EventTime()),
};

/** Helper: an open object schema with the base fields merged in. */
export function CallbackObject<P extends Record<string, TSchema>>(props: P, options: SchemaOptions = {}) {
  return Type.Object({ ...BaseFields, ...props }, options);
}
