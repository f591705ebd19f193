/**
 * Applies a catalogue entry (src/catalogue) to a draft event: the subject template for the families
 * without a dedicated normalizer, and the documented fields a family normalizer did not map, each put
 * under its catalogue target with a typed value (camelCase keys all the way down, seconds → ms, lists
 * of `{Field}` items → lists of values). Also answers, for the tests, which documented fields of a body
 * an event does not carry.
 */
import type { CommandEntry } from '../catalogue/index.js';
import type { CanonicalEvent, EventData } from './event.js';
import {
  type Body,
  type Draft,
  camelKey,
  isObject,
  mapGroupType,
  nonEmpty,
  safeSet,
  setC2CConversation,
  setGroupConversation,
  setUserConversation,
} from './common.js';
import { elementsText, normalizeElements } from './elements.js';
import { secondsToMs } from './time.js';

/** Structural targets: carried by the envelope, not by a `data` key. */
function isStructural(target: string): boolean {
  return target.charCodeAt(0) === 0x28; // '('
}

/** A field's value by a dotted path (`Info.To_Account`, `PairList.0.From_Account`). */
function valueAt(body: unknown, path: string): unknown {
  let cur: unknown = body;
  for (const part of path.split('.')) {
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (isObject(cur)) cur = Object.prototype.hasOwnProperty.call(cur, part) ? cur[part] : undefined;
    else return undefined;
  }
  return cur;
}

export interface SubjectMatch {
  kind: 'user' | 'group' | 'c2c' | 'officialaccount';
  ids: string[];
}

/** Renders a catalogue subject template against a body; undefined → `app/<SdkAppid>`. */
export function matchSubject(template: string, body: Body): SubjectMatch | undefined {
  for (const alternative of template.split('||')) {
    const alt = alternative.trim();
    const slash = alt.indexOf('/');
    if (slash === -1) continue; // `app`
    const kind = alt.slice(0, slash) as SubjectMatch['kind'];
    const ids: string[] = [];
    let complete = true;
    for (const m of alt.slice(slash + 1).matchAll(/<([^>]+)>/g)) {
      const id = nonEmpty(valueAt(body, m[1]!));
      if (id === undefined) {
        complete = false;
        break;
      }
      ids.push(id);
    }
    if (complete && ids.length > 0) return { kind, ids };
  }
  return undefined;
}

/** The subject string a template gives for a body (what the tests expect). */
export function subjectFor(template: string, body: Body, sdkAppId: string): string {
  const m = matchSubject(template, body);
  if (m === undefined) return 'app/' + sdkAppId;
  if (m.kind === 'c2c') {
    const [a, b] = m.ids as [string, string];
    return a <= b ? `c2c/${a}/${b}` : `c2c/${b}/${a}`;
  }
  return `${m.kind}/${m.ids.join('/')}`;
}

/** Sets subject and conversation from the entry's template (families without their own normalizer). */
export function applySubject(entry: CommandEntry, body: Body, draft: Draft): void {
  const m = matchSubject(entry.subject, body);
  if (m === undefined) return;
  switch (m.kind) {
    case 'user':
      return setUserConversation(draft, m.ids[0]!);
    case 'group':
      return setGroupConversation(draft, body, m.ids[0]!);
    case 'c2c':
      return setC2CConversation(draft, m.ids[0]!, m.ids[1]!);
    case 'officialaccount':
      draft.data.conversation = { kind: 'officialaccount', accounts: [m.ids[0]!] };
      draft.subject = 'officialaccount/' + m.ids[0]!;
      return;
  }
}

/** JSON value with every object key in camelCase, recursively. */
export function camelDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelDeep);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const k in value) {
    if (Object.prototype.hasOwnProperty.call(value, k)) safeSet(out, camelKey(k), camelDeep(value[k]));
  }
  return out;
}

function typed(target: string, pluck: string | undefined, value: unknown): unknown {
  if (pluck !== undefined) {
    if (!Array.isArray(value)) return camelDeep(value);
    const out: unknown[] = [];
    for (const item of value) if (isObject(item) && item[pluck] !== undefined) out.push(item[pluck]);
    return out;
  }
  if (target.endsWith('Ms')) return secondsToMs(value);
  if (target === 'groupType') return typeof value === 'string' ? mapGroupType(value) : undefined;
  if (target === 'onlineOnly') return typeof value === 'number' ? value === 1 : undefined;
  return camelDeep(value);
}

function hasAt(data: Record<string, unknown>, path: readonly string[]): boolean {
  let cur: unknown = data;
  for (const part of path) {
    if (!isObject(cur) || cur[part] === undefined) return false;
    cur = cur[part];
  }
  return true;
}

function setAt(data: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = data;
  for (let i = 0; i < path.length - 1; i++) {
    const next = cur[path[i]!];
    if (!isObject(next)) {
      const created: Record<string, unknown> = {};
      safeSet(cur, path[i]!, created);
      cur = created;
    } else cur = next;
  }
  safeSet(cur, path[path.length - 1]!, value);
}

/**
 * Splits `subscribers:Subscriber_Account` into the data path and the plucked item field. Targets
 * are the catalogue's own strings (a bounded set), so each is split once: this ran per field of
 * every callback.
 */
function parseTarget(target: string): { readonly path: readonly string[]; readonly pluck: string | undefined } {
  let parsed = parsedTargets.get(target);
  if (parsed === undefined) {
    const colon = target.indexOf(':');
    const dataPath = colon === -1 ? target : target.slice(0, colon);
    parsed = { path: dataPath.split('.'), pluck: colon === -1 ? undefined : target.slice(colon + 1) };
    parsedTargets.set(target, parsed);
  }
  return parsed;
}
const parsedTargets = new Map<string, { readonly path: readonly string[]; readonly pluck: string | undefined }>();

/** Maps the documented fields the family normalizer left out (fields absent from the body are skipped). */
export function completeFields(entry: CommandEntry, body: Body, data: EventData): void {
  for (const field in entry.fields) {
    const target = entry.fields[field]!;
    if (target === '' || isStructural(target) || !Object.prototype.hasOwnProperty.call(body, field)) continue;
    const value = body[field];
    if (value === undefined || value === null) continue;
    const { path, pluck } = parseTarget(target);
    if (hasAt(data, path)) continue;
    if (target === 'elements') {
      if (!Array.isArray(value)) continue;
      const elements = normalizeElements(value, 0);
      data.elements = elements;
      const text = elementsText(elements);
      if (text.length > 0 && data.text === undefined) data.text = text;
      continue;
    }
    const converted = typed(path[path.length - 1]!, pluck, value);
    if (converted !== undefined) setAt(data, path, converted);
  }
}

/**
 * The documented fields of `body` that `event` does not carry where the catalogue says (empty → all
 * carried). `(conversation)` fields need a subject other than app/…, `(time)` fields an event time
 * taken from the body, `(command)` the command itself.
 */
export function missingFields(entry: CommandEntry, body: Body, event: CanonicalEvent): string[] {
  const missing: string[] = [];
  for (const field in entry.fields) {
    const target = entry.fields[field]!;
    const value = body[field];
    if (value === undefined || value === null || value === '') continue;
    if (target === '(command)') {
      if (event.imcommand !== entry.command) missing.push(field);
    } else if (target === '(conversation)') {
      if (event.subject.startsWith('app/')) missing.push(field);
    } else if (target === '(time)') {
      // EventTime in a form that names no instant ("", null) carries nothing to map.
      if (field === 'EventTime' && event.data.eventTimeMs === undefined && /^[0-9]/.test(String(value))) missing.push(field);
    } else if (target === '' || !hasAt(event.data, parseTarget(target).path)) missing.push(field);
  }
  return missing;
}
