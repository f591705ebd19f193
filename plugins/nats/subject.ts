/**
 * NATS subjects from a template over event fields.
 *
 * Template syntax: literal subject text with `{{path}}` placeholders, where `path` is an event
 * attribute or a dotted path into the event (`{{imcommand}}`, `{{data.family}}`,
 * `{{data.conversation.groupId}}`, `{{data.elements.0.kind}}`), resolved by the shared
 * compileTemplate of im-bridge/sink (missing → empty, numbers/booleans as text, objects as JSON). `{{path|tokens}}` keeps the dots of
 * the value as token separators (`Group.CallbackAfterSendMsg` → two tokens); without `|tokens` a
 * value is always exactly ONE token.
 *
 * Every value is escaped so that it can never change the shape of the subject: characters NATS
 * forbids or gives a meaning to in tokens (`.`, `*`, `>`, whitespace), and everything outside a
 * small safe set (including all non-ASCII, as its UTF-8 bytes), become `%XX`; `%` itself is
 * escaped too, so the mapping is reversible. A missing or empty value is the token `_` (and a
 * value that is exactly `_` becomes `%5F`). Very long values are cut and suffixed with a hash
 * (`%~` + 16 hex digits), so one token stays short and is still one token per value.
 *
 * A lone UTF-16 surrogate (valid in JSON, not Unicode: `"\ud800"`) has no UTF-8 form; it is
 * escaped as the three bytes of its code unit in WTF-8 (`%ED%A0%80` … `%ED%BF%BF`). No UTF-8
 * text produces those bytes, so two ids that differ only in a lone surrogate stay two subjects
 * (mapping them to U+FFFD, as Buffer.from does, would merge them silently).
 *
 * A subject can still grow past what the server accepts (many `|tokens` tokens, many
 * placeholders): checkSubject() is run on every rendered subject before any publish, and a subject
 * it refuses fails that event alone (fatal, NATS_SUBJECT_TOO_LONG / NATS_SUBJECT_INVALID). A
 * publish line over the server's max_control_line (4096 bytes) would make nats-server close the
 * connection, failing every publish in flight.
 */
import { createHash } from 'node:crypto';
import { compileTemplate, TemplateError, type CompiledTemplate } from '../../src/sink/api.js';

/** Characters kept as they are in a token; everything else is %-escaped. */
const SAFE = /^[A-Za-z0-9_\-@#:=+~!]$/;
/** Escaped tokens longer than this are shortened to a prefix plus a hash of the whole value. */
export const MAX_TOKEN_CHARS = 128;
const KEEP_CHARS = 96;
const PLACEHOLDER = /\{\{([^{}|]*?)(?:\|\s*([A-Za-z]*)\s*)?\}\}/g;

/** Escapes one value into one NATS subject token (never empty, never containing `.`, `*`, `>`, whitespace). */
export function escapeToken(value: string): string {
  if (value === '') return '_';
  if (value === '_') return '%5F';
  let out = '';
  let wellFormed = true;
  for (const ch of value) {
    if (SAFE.test(ch)) {
      out += ch;
      continue;
    }
    const bytes = wtf8(ch);
    if (bytes[0] === 0xed && bytes[1]! >= 0xa0) wellFormed = false;
    for (const byte of bytes) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out.length <= MAX_TOKEN_CHARS) return out;
  let cut = KEEP_CHARS;
  // never cut inside a %XX sequence
  const pct = out.lastIndexOf('%', cut - 1);
  if (pct >= 0 && pct > cut - 3) cut = pct;
  // The hash covers what was escaped: the UTF-8 text, or (lone surrogates) its WTF-8 bytes, which
  // hashing the string would have turned into U+FFFD. Well-formed values hash as before.
  const hash = createHash('sha256').update(wellFormed ? value : unescapedBytes(out)).digest('hex');
  return `${out.slice(0, cut)}%~${hash.slice(0, 16)}`;
}

/** UTF-8 bytes of one code point; a lone surrogate gets the 3-byte form of its code unit (WTF-8). */
function wtf8(ch: string): number[] {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

function unescapedBytes(token: string): Buffer {
  return Buffer.from(token.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
}

/** Inverse of escapeToken for tokens that were not shortened (for tests and tooling); keeps lone surrogates. */
export function unescapeToken(token: string): string {
  if (token === '_') return '';
  const bytes = unescapedBytes(token);
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    let cp = n === 1 ? b : b & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) cp = (cp << 6) | (bytes[i + k]! & 0x3f);
    out += String.fromCodePoint(cp);
    i += n;
  }
  return out;
}

/** What the sink accepts as a subject it may publish. */
export interface SubjectLimits {
  /** UTF-8 bytes of the whole subject. */
  maxBytes: number;
  /** Tokens (dot-separated parts). */
  maxTokens: number;
}

export interface SubjectProblem {
  code: 'NATS_SUBJECT_TOO_LONG' | 'NATS_SUBJECT_INVALID';
  message: string;
}

/**
 * Checks a rendered subject before it is published. The escaping already keeps values from
 * adding wildcards, whitespace or empty tokens; this is the last line before the wire (literal
 * text, future template features), and the only one for length: nats-server closes the
 * connection on a PUB line over its max_control_line, taking every publish in flight with it.
 */
export function checkSubject(subject: string, limits: SubjectLimits): SubjectProblem | undefined {
  const bytes = Buffer.byteLength(subject, 'utf8');
  if (bytes > limits.maxBytes) return { code: 'NATS_SUBJECT_TOO_LONG', message: `subject of ${bytes} bytes exceeds max_subject_bytes ${limits.maxBytes} (starts ${JSON.stringify(subject.slice(0, 80))})` };
  let tokens = 1;
  for (let i = 0; i < subject.length; i++) if (subject.charCodeAt(i) === 0x2e) tokens++;
  if (tokens > limits.maxTokens) return { code: 'NATS_SUBJECT_TOO_LONG', message: `subject of ${tokens} tokens exceeds max_subject_tokens ${limits.maxTokens} (starts ${JSON.stringify(subject.slice(0, 80))})` };
  // Whitespace and control characters end or split a protocol line; `*` and `>` are wildcards,
  // which a publish must not carry; a lone surrogate has no UTF-8 form on the wire.
  if (/[\s\u0000-\u001f\u007f*>]|\p{Cs}/u.test(subject)) return { code: 'NATS_SUBJECT_INVALID', message: `subject ${JSON.stringify(subject.slice(0, 200))} holds whitespace, a control character, a wildcard or a lone surrogate` };
  if (subject === '' || subject.startsWith('.') || subject.endsWith('.') || subject.includes('..')) {
    return { code: 'NATS_SUBJECT_INVALID', message: `subject ${JSON.stringify(subject.slice(0, 200))} has an empty token` };
  }
  return undefined;
}

export interface CompiledSubject {
  /** The template as written. */
  readonly template: string;
  /** Renders the subject of one event. */
  render(event: object): string;
  /** A subject filter (with `*` / `>` wildcards) that matches every subject render() can produce. */
  readonly filter: string;
  /** The shortest subject render() can produce: its tokens and UTF-8 bytes (each placeholder at least one byte). */
  readonly shortest: { tokens: number; bytes: number };
}

export class SubjectTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubjectTemplateError';
  }
}

type Part = { literal: string } | { value: CompiledTemplate; tokens: boolean };

/** Compiles a subject template; throws SubjectTemplateError when it cannot yield valid subjects. */
export function compileSubject(template: string): CompiledSubject {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push({ literal: template.slice(last, m.index) });
    const filter = m[2];
    if (filter !== undefined && filter !== 'tokens') throw new SubjectTemplateError(`subject template: unknown modifier "|${filter}" (only |tokens exists)`);
    // Field lookup is the shared template engine's (compileTemplate, im-bridge/sink), one field at a time, so
    // that each value can be escaped on its own.
    let value: CompiledTemplate;
    try {
      value = compileTemplate(`{{${m[1]!}}}`);
    } catch (error) {
      if (error instanceof TemplateError) throw new SubjectTemplateError(`subject template "${template}": ${error.message.replace(/ at position.*$/, '')}`);
      throw error;
    }
    parts.push({ value, tokens: filter === 'tokens' });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push({ literal: template.slice(last) });

  // Validate the literal shape: a placeholder stands for one (or, with |tokens, several) non-empty tokens.
  const shape = parts.map((p) => ('literal' in p ? p.literal : '\u0000')).join('');
  if (shape.includes('{{') || shape.includes('}}')) throw new SubjectTemplateError(`subject template "${template}": unbalanced {{ }}`);
  if (/[\s*>]/.test(shape)) throw new SubjectTemplateError(`subject template "${template}": literal text must not contain whitespace, "*" or ">"`);
  const tokens = shape.split('.');
  if (tokens.some((t) => t === '')) throw new SubjectTemplateError(`subject template "${template}": empty token (leading, trailing or double ".")`);

  // The filter: a token containing a placeholder becomes `*`; a |tokens placeholder makes the rest `>`.
  const filterTokens: string[] = [];
  let multi = false;
  let index = 0;
  for (const token of tokens) {
    const placeholders = [...token].filter((c) => c === '\u0000').length;
    const partsHere = parts.filter((p) => 'value' in p).slice(index, index + placeholders) as Array<{ tokens: boolean }>;
    index += placeholders;
    if (partsHere.some((p) => p.tokens)) {
      multi = true;
      break;
    }
    filterTokens.push(placeholders > 0 ? '*' : token);
  }
  const filter = multi ? [...filterTokens, '>'].join('.') : filterTokens.join('.');

  const render = (event: object): string => {
    let out = '';
    for (const part of parts) {
      if ('literal' in part) {
        out += part.literal;
        continue;
      }
      const value = part.value(event);
      out += part.tokens ? value.split('.').map(escapeToken).join('.') : escapeToken(value);
    }
    return out;
  };
  const shortest = { tokens: tokens.length, bytes: Buffer.byteLength(shape, 'utf8') };
  return { template, render, filter, shortest };
}

/** True when the NATS subject filter (with `*` and `>`) matches the concrete subject. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** True when every subject matched by `inner` is also matched by `outer` (both may hold wildcards). */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const i = inner.split('.');
  for (let k = 0; k < o.length; k++) {
    if (o[k] === '>') return i.length > k;
    if (k >= i.length || i[k] === '>') return false;
    if (o[k] === '*') continue;
    if (o[k] !== i[k]) return false;
  }
  return o.length === i.length;
}
