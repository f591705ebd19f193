/**
 * NATS subjects from a template over event fields.
 *
 * Template syntax: literal subject text with `{{path}}` placeholders, where `path` is an event
 * attribute or a dotted path into the event (`{{imcommand}}`, `{{data.family}}`,
 * `{{data.conversation.groupId}}`, `{{data.elements.0.kind}}`), resolved by the shared
 * src/sink/template.ts (missing → empty, numbers/booleans as text, objects as JSON). `{{path|tokens}}` keeps the dots of
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
import { compileTemplate, TemplateError, type CompiledTemplate } from '../../src/sink/template.js';

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

type Part = { literal: string } | { value: CompiledTemplate; tokens: boolean };

/** Compiles a subject template; throws SubjectTemplateError when it cannot yield valid subjects. */
export function compileSubject(template: string): CompiledSubject {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push({ literal: template.slice(last, m.index) });
    const filter = m[2];
    if (filter !== undefined && filter !== 'tokens') throw new SubjectTemplateError(`subject template: unknown modifier "|${filter}" (only |tokens exists)`);
    // Field lookup is the shared template engine's (src/sink/template.ts), one field at a time, so
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
  return { template, render, filter };
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
