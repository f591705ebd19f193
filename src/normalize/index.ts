/**
 * Callback body → canonical event (design.md §4). Pure and synchronous; expects a body that passed
 * the ingest schema but never throws on odd input (wrongly typed fields are simply not mapped).
 *
 * - specversion "1.0", type `com.tencent.im.<command>`, source `/tencent-im/<sdkAppId>`,
 *   datacontenttype "application/json", extensions imsdkappid, imcommand, implatform (normalized),
 *   imclientip (the last two omitted when absent).
 * - command: meta.command, else body.CallbackCommand, else "Unknown".
 * - subject / conversation / family fields: per family (group.ts, c2c.ts, state.ts, sns.ts, push.ts);
 *   the other families take the subject template of their catalogue entry (src/catalogue) and
 *   generic.ts; `app/<sdkAppId>` when nothing names a conversation. Then every documented field the
 *   family left out is mapped as the catalogue says (catalogue-fields.ts).
 * - time: MsgTime (s) if present, else EventTime (ms; < 1e12 taken as s), else meta.receivedAtMs;
 *   EventTime first for commands whose catalogue time rule is EventTime (edits: MsgTime is the
 *   original message's).
 * - id (see ids.ts): from Tencent's unique key where the family defines one (MsgKey, MsgId,
 *   GroupId+TopicId+MsgSeq…), so that a redelivery gets the same id and sinks drop it; else from the
 *   canonical body when the body carries its own time (EventTime, MsgTime), since two distinct events
 *   then differ; else — no key and no time (member state changes, friend/blacklist changes, alerts,
 *   topic changes…) — from the body plus this reception (receive time and a unique nonce), because two
 *   identical bodies received at different times are two events and must not merge in a deduplicating
 *   sink.
 */
import type { CallbackMeta, CanonicalEvent, EventData } from './event.js';
import type { Draft } from './common.js';
import { normalizeGroup } from './group.js';
import { normalizeC2C } from './c2c.js';
import { normalizeState } from './state.js';
import { normalizeSns } from './sns.js';
import { normalizePush } from './push.js';
import { normalizeGeneric } from './generic.js';
import { idFromBody, idFromKey, idFromReception } from './ids.js';
import { eventTimeToMs, formatRfc3339, MAX_RFC3339_MS, secondsToMs } from './time.js';
import { normalizePlatform } from './platform.js';
import { catalogueEntry } from '../catalogue/index.js';
import { applySubject, completeFields } from './catalogue-fields.js';

export type { CallbackMeta, CanonicalEvent, EventData, MessageElement, Conversation } from './event.js';
export { normalizePlatform } from './platform.js';
export { formatRfc3339, eventTimeToMs } from './time.js';
export { canonicalJson } from './ids.js';

export interface NormalizeOptions {
  /** Keep the body as received under data.raw. */
  includeRaw: boolean;
}

/** Fallback command when neither the query nor the body names one. */
export const UNKNOWN_COMMAND = 'Unknown';

/** `*.CallbackBefore*` and `Sns.CallbackPrev*`: Tencent waits for the answer. */
export function isBeforeCallback(command: string): boolean {
  return command.indexOf('.CallbackBefore') !== -1 || command.startsWith('Sns.CallbackPrev');
}

/** Callback family: the command's prefix before the first dot, lowercased. */
export function familyOf(command: string): string {
  const dot = command.indexOf('.');
  return (dot === -1 ? command : command.slice(0, dot)).toLowerCase();
}

export function normalize(
  body: Record<string, unknown>,
  meta: CallbackMeta,
  options: NormalizeOptions,
): CanonicalEvent {
  let command = meta.command;
  if (!command) {
    const fromBody = body.CallbackCommand;
    command = typeof fromBody === 'string' && fromBody.length > 0 ? fromBody : UNKNOWN_COMMAND;
  }
  const sdkAppId = meta.sdkAppId;
  const family = familyOf(command);
  const entry = catalogueEntry(command);

  // receivedAtMs is set after the family fields, so that it comes last in the JSON.
  const data = { family, before: isBeforeCallback(command), conversation: { kind: 'app' } } as EventData;

  const draft: Draft = {
    sdkAppId,
    command,
    family,
    subject: 'app/' + sdkAppId,
    data,
    idKey: undefined,
    eventTimeMs: undefined,
  };

  switch (family) {
    case 'group':
      normalizeGroup(body, draft);
      break;
    case 'c2c':
      normalizeC2C(body, draft);
      break;
    case 'state':
      normalizeState(body, draft);
      break;
    case 'sns':
      normalizeSns(body, draft);
      break;
    case 'push':
      normalizePush(body, draft);
      break;
    default:
      normalizeGeneric(body, draft);
      if (entry !== undefined) applySubject(entry, body, draft);
      break;
  }
  if (entry !== undefined) completeFields(entry, body, data);

  const eventTimeMs = draft.eventTimeMs ?? eventTimeToMs(body.EventTime);
  if (eventTimeMs !== undefined) data.eventTimeMs = eventTimeMs;
  data.receivedAtMs = meta.receivedAtMs;
  if (options.includeRaw) data.raw = body;

  const msgTimeMs = secondsToMs(body.MsgTime);
  const timeMs =
    entry?.time === 'EventTime' ? (eventTimeMs ?? msgTimeMs ?? meta.receivedAtMs) : (msgTimeMs ?? eventTimeMs ?? meta.receivedAtMs);

  const event = {
    specversion: '1.0',
    id:
      draft.idKey !== undefined
        ? idFromKey(sdkAppId, command, draft.idKey)
        : eventTimeMs !== undefined || msgTimeMs !== undefined
          ? idFromBody(sdkAppId, command, body)
          : idFromReception(sdkAppId, command, body, meta.receivedAtMs),
    type: 'com.tencent.im.' + command,
    source: '/tencent-im/' + sdkAppId,
    subject: draft.subject,
    time: formatTime(timeMs, meta.receivedAtMs),
    datacontenttype: 'application/json',
    imsdkappid: sdkAppId,
    imcommand: command,
  } as CanonicalEvent;
  if (meta.optPlatform) event.implatform = normalizePlatform(meta.optPlatform);
  if (meta.clientIp) event.imclientip = meta.clientIp;
  event.data = data;
  return event;
}

function formatTime(ms: number, fallbackMs: number): string {
  if (Number.isFinite(ms) && ms >= 0 && ms <= MAX_RFC3339_MS) return formatRfc3339(ms);
  return formatRfc3339(Number.isFinite(fallbackMs) && fallbackMs >= 0 && fallbackMs <= MAX_RFC3339_MS ? fallbackMs : 0);
}
