/**
 * Shared helpers for the family normalizers. A family normalizer fills a Draft: the subject,
 * `data` (conversation and family fields) and, when the family has a message key, `idKey`
 * (already escaped parts joined with `|`; undefined → id from the canonical body).
 */
import type { Conversation, EventData } from './event.js';
import { normalizeElements, elementsText } from './elements.js';
import { keyPart } from './ids.js';

export interface Draft {
  sdkAppId: string;
  command: string;
  family: string;
  subject: string;
  data: EventData;
  /** Message key after `<sdkAppId>|<command>|`; undefined → hash of the canonical body. */
  idKey: string | undefined;
  /** EventTime in ms if the family derived it itself (Push.*). */
  eventTimeMs?: number | undefined;
}

export type Body = Record<string, unknown>;

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets `target[key] = value` only when value is defined (keeps events free of undefined keys). */
export function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value;
}

/** Legacy group-type names → current ones: Private→Work, ChatRoom→Meeting; others as is. */
export function mapGroupType(type: string): string {
  if (type === 'Private') return 'Work';
  if (type === 'ChatRoom') return 'Meeting';
  return type;
}

/** `[{Member_Account}]` → accounts (items without a string Member_Account are skipped). */
export function memberAccounts(list: unknown): string[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (isObject(item) && typeof item.Member_Account === 'string') out.push(item.Member_Account);
  }
  return out;
}

/** Group conversation from GroupId/Type/TopicId; sets subject `group/<GroupId>`. */
export function setGroupConversation(draft: Draft, body: Body, groupId: string): void {
  const conv: Conversation = { kind: 'group', groupId };
  const type = nonEmpty(body.Type);
  if (type !== undefined) conv.groupType = mapGroupType(type);
  const topicId = nonEmpty(body.TopicId);
  if (topicId !== undefined) conv.topicId = topicId;
  draft.data.conversation = conv;
  draft.subject = 'group/' + groupId;
}

/** C2C conversation of two accounts, sorted; subject `c2c/<a>/<b>`. */
export function setC2CConversation(draft: Draft, a: string, b: string): void {
  const accounts = a <= b ? [a, b] : [b, a];
  draft.data.conversation = { kind: 'c2c', accounts };
  draft.subject = 'c2c/' + accounts[0] + '/' + accounts[1];
}

/** User conversation; subject `user/<account>`. */
export function setUserConversation(draft: Draft, account: string): void {
  draft.data.conversation = { kind: 'user', accounts: [account] };
  draft.subject = 'user/' + account;
}

/**
 * Fields common to message callbacks: sender, operator, seq, random, msgId, msgKey, elements,
 * text, cloudCustomData, onlineOnly. Only fields present with the right type are set.
 */
export function applyMessageFields(body: Body, data: EventData): void {
  put(data, 'sender', str(body.From_Account));
  put(data, 'operator', str(body.Operator_Account));
  put(data, 'seq', num(body.MsgSeq));
  put(data, 'random', num(body.Random) ?? num(body.MsgRandom));
  put(data, 'msgId', str(body.MsgId));
  put(data, 'msgKey', str(body.MsgKey));
  if (Array.isArray(body.MsgBody)) {
    const elements = normalizeElements(body.MsgBody, 0);
    data.elements = elements;
    const text = elementsText(elements);
    if (text.length > 0) data.text = text;
  }
  put(data, 'cloudCustomData', str(body.CloudCustomData));
  const onlineOnly = num(body.OnlineOnlyFlag);
  if (onlineOnly !== undefined) data.onlineOnly = onlineOnly === 1;
}

/** True for message-sending callbacks that carry a MsgBody (not edits: an edit repeats the same MsgSeq/MsgKey). */
export function isMessageCallback(command: string, body: Body): boolean {
  return Array.isArray(body.MsgBody) && command.indexOf('ModifyMsg') === -1;
}

export { keyPart };

const camelCache = new Map<string, string>();
const CAMEL_CACHE_MAX = 4096;

/** Tencent field name → camelCase: `Member_Account` → `memberAccount`, `FaceUrl` → `faceUrl`, `UUID` → `uuid`. */
export function camelKey(key: string): string {
  const cached = camelCache.get(key);
  if (cached !== undefined) return cached;
  let out = '';
  let upperNext = false;
  let i = 0;
  // leading run of capitals: "UUID" → "uuid", "URLList" → "urlList", "Name" → "name"
  while (i < key.length && isUpper(key.charCodeAt(i))) i++;
  if (i === key.length) out = key.toLowerCase();
  else {
    const lead = i > 1 ? i - 1 : i; // keep the last capital of a run as the start of the next word
    out = key.slice(0, lead).toLowerCase();
    for (let j = lead; j < key.length; j++) {
      const ch = key[j]!;
      if (ch === '_' || ch === '-') {
        upperNext = out.length > 0;
        continue;
      }
      if (upperNext) {
        out += ch.toUpperCase();
        upperNext = false;
      } else out += out.length === 0 ? ch.toLowerCase() : ch;
    }
  }
  if (camelCache.size < CAMEL_CACHE_MAX) camelCache.set(key, out);
  return out;
}

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** Shallow copy of an object with camelCase keys (values unchanged). */
export function camelObject(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in obj) {
    if (Object.prototype.hasOwnProperty.call(obj, k)) safeSet(out, camelKey(k), obj[k]);
  }
  return out;
}

/** Shallow copy keeping the original keys. */
export function copyObject(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in obj) {
    if (Object.prototype.hasOwnProperty.call(obj, k)) safeSet(out, k, obj[k]);
  }
  return out;
}

/** Assignment that stores a `__proto__` key as an own property instead of changing the prototype. */
export function safeSet(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else target[key] = value;
}
