/**
 * NATS subjects from a template over event fields.
 *
 * Template syntax: literal subject text with `{{path}}` placeholders, where `path` is an event
 * attribute or a dotted path into the event (`{{imcommand}}`, `{{data.family}}`,
 * `{{data.conversation.groupId}}`, `{{data.elements.0.kind}}`). `{{path|tokens}}` keeps the dots of
 * the value as token separators (`Group.CallbackAfterSendMsg` → two tokens); without `|tokens` a
 * value is always exactly ONE token.
 *
 * Every value is escaped so that it can never change the shape of the subject: characters NATS
 * forbids or gives a meaning to in tokens (`.`, `*`, `>`, whitespace), and everything outside a
 * small safe set (including all non-ASCII, as its UTF-8 bytes), become `%XX`; `%` itself is
 * escaped too, so the mapping is reversible. A missing or empty value is the token `_` (and a
 * value that is exactly `_` becomes `%5F`). Very long values are cut and suffixed with a hash
 * (`%~` + 16 hex digits), so a subject stays well inside the server's control-line limit and is
 * still one subject per value.
 */
import { createHash } from 'node:crypto';

/** Characters kept as they are in a token; everything else is %-escaped. */
const SAFE = /^[A-Za-z0-9_\-@#:=+~!]$/;
/** Escaped tokens longer than this are shortened to a prefix plus a hash of the whole value. */
export const MAX_TOKEN_CHARS = 128;
const KEEP_CHARS = 96;
const PLACEHOLDER = /\{\{\s*([^{}|\s]+)\s*(?:\|\s*([a-z]+)\s*)?\}\}/g;
const PATH = /^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z0-9_$]+)*$/;

/** Escapes one value into one NATS subject token (never empty, never containing `.`, `*`, `>`, whitespace). */
export function escapeToken(value: string): string {
  if (value === '') return '_';
  if (value === '_') return '%5F';
  let out = '';
  for (const ch of value) {
    if (SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out.length <= MAX_TOKEN_CHARS) return out;
  let cut = KEEP_CHARS;
  // never cut inside a %XX sequence
  const pct = out.lastIndexOf('%', cut - 1);
  if (pct >= 0 && pct > cut - 3) cut = pct;
  return `${out.slice(0, cut)}%~${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

/** Inverse of escapeToken for tokens that were not shortened (for tests and tooling). */
export function unescapeToken(token: string): string {
  if (token === '_') return '';
  return Buffer.from(token.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
}

export interface CompiledSubject {
  /** The template as written. */
  readonly template: string;
  /** Renders the subject of one event. */
  render(event: object): string;
  /** A subject filter (with `*` / `>` wildcards) that matches every subject render() can produce. */
  readonly filter: string;
}

export class SubjectTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubjectTemplateError';
  }
}

type Part = { literal: string } | { path: string[]; tokens: boolean };

/** Compiles a subject template; throws SubjectTemplateError when it cannot yield valid subjects. */
export function compileSubject(template: string): CompiledSubject {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push({ literal: template.slice(last, m.index) });
    const path = m[1]!;
    const filter = m[2];
    if (!PATH.test(path)) throw new SubjectTemplateError(`subject template: "${path}" is not a field path (use e.g. {{data.conversation.groupId}})`);
    if (filter !== undefined && filter !== 'tokens') throw new SubjectTemplateError(`subject template: unknown modifier "|${filter}" (only |tokens exists)`);
    parts.push({ path: path.split('.'), tokens: filter === 'tokens' });
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
    const partsHere = parts.filter((p) => 'path' in p).slice(index, index + placeholders) as Array<{ tokens: boolean }>;
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
      const value = lookup(event, part.path);
      out += part.tokens ? value.split('.').map(escapeToken).join('.') : escapeToken(value);
    }
    return out;
  };
  return { template, render, filter };
}

function lookup(event: object, path: readonly string[]): string {
  let value: unknown = event;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return '';
    value = (value as Record<string, unknown>)[key];
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return '';
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
