/**
 * Deterministic event ids (design.md §4, reference §10.4).
 *
 * id = first 128 bits of sha256(key), as 32 lowercase hex characters, where key always starts with
 * `<sdkAppId>|<command>|`. Parts are joined with `|`; a `|` or `\` inside a part is escaped with `\`
 * so that two different part lists can never produce the same key. The receive time enters only the
 * key of a body that has neither a unique key nor a time of its own (idFromReception).
 */
import { hash, randomBytes } from 'node:crypto';

const NEEDS_ESCAPE = /[|\\]/g;

/** Escapes one key part (only when it contains a separator or a backslash). */
export function keyPart(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return String(value);
  if (value.indexOf('|') === -1 && value.indexOf('\\') === -1) return value;
  return value.replace(NEEDS_ESCAPE, '\\$&');
}

/** 32 lowercase hex chars: the first 128 bits of sha256(key). */
export function hashId(key: string): string {
  // One-shot hash (Node ≥ 20.12; engines asks ≥ 20.18.1): no Hash object per event.
  return hash('sha256', key, 'hex').slice(0, 32);
}

/** Id from a message key: `<sdkAppId>|<command>|<key>` (key parts already escaped/joined). */
export function idFromKey(sdkAppId: string, command: string, key: string): string {
  return hashId(keyPart(sdkAppId) + '|' + keyPart(command) + '|' + key);
}

/** Id from the canonical body: `<sdkAppId>|<command>|<canonical JSON>`. */
export function idFromBody(sdkAppId: string, command: string, body: unknown): string {
  return hashId(keyPart(sdkAppId) + '|' + keyPart(command) + '|' + canonicalJson(body));
}

/** Unique per process start: two receptions in the same millisecond still get two ids. */
const RECEPTION_NONCE = randomBytes(8).toString('hex');
let receptionSeq = 0;

/**
 * Id of one reception of a body that has no unique key and no time of its own:
 * `<sdkAppId>|<command>|<canonical JSON>|<receivedAtMs>|<process nonce>|<sequence>`. Identical bodies
 * received twice are two events with two ids; the stored event keeps its id on replay and redelivery.
 */
export function idFromReception(sdkAppId: string, command: string, body: unknown, receivedAtMs: number): string {
  receptionSeq = (receptionSeq + 1) % Number.MAX_SAFE_INTEGER;
  return hashId(keyPart(sdkAppId) + '|' + keyPart(command) + '|' + canonicalJson(body) + '|' + receivedAtMs + '|' + RECEPTION_NONCE + '|' + receptionSeq);
}

/**
 * JSON with object keys sorted recursively (by UTF-16 code unit order, as Array#sort does),
 * so that the same body with its keys in another order gives the same string. Values that
 * JSON.stringify would drop inside objects (undefined, functions) are dropped too.
 */
export function canonicalJson(value: unknown): string {
  return writeCanonical(value);
}

/** Object keys repeat across callbacks (Member_Account, MsgType…): their JSON form is cached. */
const quotedKeys = new Map<string, string>();

function quoteKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < 4096) quotedKeys.set(key, quoted);
  }
  return quoted;
}

// String concatenation (V8 ropes) is faster here than pushing parts and joining.
function writeCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  // Where JSON.stringify already writes the canonical form, let it: one native call instead of
  // a sort and a rope per object (a 2,000-member MemberList is 2,000 such objects).
  if (isFlatCanonical(value)) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += writeCanonical(value[i]);
    }
    return out + ']';
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length > 1) keys.sort();
  let out = '{';
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = obj[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    if (!first) out += ',';
    first = false;
    out += quoteKey(k) + ':' + writeCanonical(v);
  }
  return out + '}';
}

function isJsonPrimitive(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** A plain object with keys already in canonical order and only primitive values. */
function isFlatSortedObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  let previous: string | undefined;
  for (const key in value) {
    if (previous !== undefined && !(previous < key)) return false;
    if (!isJsonPrimitive((value as Record<string, unknown>)[key])) return false;
    previous = key;
  }
  return true;
}

/**
 * Whether JSON.stringify(value) is already the canonical JSON: a flat sorted object, or an array of
 * primitives and flat sorted objects. Only one level deep, so that every node is checked a bounded
 * number of times however the recursion in writeCanonical falls back.
 */
function isFlatCanonical(value: object): boolean {
  if (!Array.isArray(value)) return isFlatSortedObject(value);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (isJsonPrimitive(item)) continue;
    if (item === null || typeof item !== 'object' || Array.isArray(item) || !isFlatSortedObject(item)) return false;
  }
  return true;
}
