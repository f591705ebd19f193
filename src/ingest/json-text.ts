/**
 * What the daemon needs to know about a callback body's JSON text before and after JSON.parse, in one
 * byte scan: how deep it nests, whether it has whitespace between tokens, and how many object keys it
 * holds. The event splices the body text into `data.raw` (re-serializing it cost a third of the event),
 * so that text must be compact (one event, one line: a pretty-printed body would break NDJSON files and
 * the Elasticsearch bulk body) and must mean what the parsed view means (a duplicate key would be read
 * last-wins by us and first-wins by some consumers).
 *
 * The structural characters are ASCII and never part of a multi-byte UTF-8 sequence; strings are
 * jumped over with indexOf, since long message texts are most of a large body.
 */

export interface JsonTextShape {
  /** Nesting of arrays/objects went past the limit (the scan stopped there). */
  tooDeep: boolean;
  /** Whitespace between tokens (space, tab, CR, LF): the text is not compact. */
  spaced: boolean;
  /** Object keys in the text (each is followed by a structural ':'). */
  keys: number;
}

/** The TypedArray builtin, not Buffer#indexOf: no call into C++ for each (often short) string. */
const typedIndexOf = Uint8Array.prototype.indexOf;

/** End index of the string whose opening quote is at `start`, or -1 if unterminated. */
function stringEnd(bytes: Uint8Array, start: number): number {
  let end = start;
  for (;;) {
    end = typedIndexOf.call(bytes, 0x22, end + 1);
    if (end === -1) return -1;
    let backslashes = 0;
    while (bytes[end - 1 - backslashes] === 0x5c) backslashes++;
    if ((backslashes & 1) === 0) return end;
  }
}

export function scanJsonText(bytes: Uint8Array, depthLimit: number): JsonTextShape {
  let depth = 0;
  let spaced = false;
  let keys = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x22) {
      const end = stringEnd(bytes, i);
      if (end === -1) break; // unterminated string: JSON.parse rejects the body
      i = end;
    } else if (b === 0x3a) keys++;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > depthLimit) return { tooDeep: true, spaced, keys };
    } else if (b === 0x5d || b === 0x7d) depth--;
    else if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) spaced = true;
  }
  return { tooDeep: false, spaced, keys };
}

/** Whether the JSON text nests arrays/objects deeper than `limit`. */
export function nestedDeeperThan(bytes: Uint8Array, limit: number): boolean {
  return scanJsonText(bytes, limit).tooDeep;
}

const WHITESPACE = /[ \t\r\n]+/y;

/** End index of the string whose opening quote is at `start` in `text`, or -1 if unterminated (also used by src/transform/exact.ts). */
export function textStringEnd(text: string, start: number): number {
  let end = start;
  for (;;) {
    end = text.indexOf('"', end + 1);
    if (end === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
    if ((backslashes & 1) === 0) return end;
  }
}

/**
 * The same JSON text without whitespace between tokens. Numbers and strings stay byte-for-byte what
 * Tencent sent (a 64-bit account id stays exact, which JSON.stringify of the parsed value would not
 * keep). Only called on valid JSON (after JSON.parse accepted it).
 */
export function compactJsonText(text: string): string {
  let out = '';
  let from = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = textStringEnd(text, i);
      if (end === -1) break;
      i = end + 1;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      out += text.slice(from, i);
      WHITESPACE.lastIndex = i;
      WHITESPACE.test(text);
      i = from = WHITESPACE.lastIndex;
    } else i++;
  }
  return out + text.slice(from);
}

/** Own keys of every object in a parsed JSON value (what JSON.parse kept: one per distinct key). */
export function countParsedKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && typeof item === 'object') n += countParsedKeys(item);
    }
    return n;
  }
  for (const key in value) {
    n++;
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === 'object') n += countParsedKeys(item);
  }
  return n;
}

/** The first key that appears twice in one object of the text, for the rejection reason. */
export function firstDuplicateKey(text: string): string | undefined {
  // JSON.parse hides duplicates; a small tokenizer finds one (only on the rare rejected body).
  let found: string | undefined;
  const stack: Array<Set<string> | undefined> = [];
  let expectKey = false;
  for (let i = 0; i < text.length && found === undefined; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = textStringEnd(text, i);
      if (end === -1) break;
      const literal = text.slice(i, end + 1);
      i = end;
      const top = stack.at(-1);
      if (expectKey && top) {
        const key = JSON.parse(literal) as string;
        if (top.has(key)) found = key;
        top.add(key);
      }
      expectKey = false;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') stack.push(undefined);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') expectKey = stack.at(-1) !== undefined;
  }
  return found;
}
