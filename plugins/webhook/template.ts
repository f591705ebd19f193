/**
 * URL templates: `{{path}}` placeholders replaced by an event attribute or a dotted path into the
 * event (`{{subject}}`, `{{imsdkappid}}`, `{{data.conversation.groupId}}`, `{{data.elements.0.kind}}`).
 * Each substituted value is percent-encoded with encodeURIComponent, so an event can never add
 * path segments, a query, a fragment or credentials to the URL. A placeholder whose value is
 * missing, empty or not a scalar fails the event (dead-lettered) instead of sending it elsewhere,
 * and so does a value holding a lone UTF-16 surrogate (valid in JSON, not Unicode: it has no UTF-8
 * form, so no percent-encoding; encodeURIComponent would throw URIError). Sending it with U+FFFD
 * instead would deliver two different ids to one URL.
 *
 * Kept local to the webhook sink for now: compileTemplate of im-bridge/sink has the encode hook a
 * URL needs, but renders empty and non-scalar values, where a URL must fail the event.
 */
import type { CanonicalEvent } from '../../src/sink/api.js';

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export interface UrlTemplate {
  /** The template as written. */
  readonly text: string;
  /** No placeholder: every event goes to the same URL. */
  readonly isStatic: boolean;
  /** Protocol + host + port when they hold no placeholder (static origin), else undefined. */
  readonly origin: string | undefined;
  render(event: CanonicalEvent): string;
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const LONE_SURROGATE = /\p{Cs}/u;
const PATH = /^[A-Za-z_$][\w$-]*(?:\.[\w$-]+)*$/;

export function compileUrlTemplate(text: string): UrlTemplate {
  const literals: string[] = [];
  const paths: string[][] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const expression = match[1]!;
    if (!PATH.test(expression)) throw new TemplateError(`bad placeholder {{${expression}}}: use an attribute name or a dotted path such as data.conversation.groupId`);
    literals.push(text.slice(last, match.index));
    paths.push(expression.split('.'));
    last = match.index! + match[0].length;
  }
  literals.push(text.slice(last));
  for (const literal of literals) {
    if (literal.includes('{{') || literal.includes('}}')) throw new TemplateError(`unbalanced {{ }} in URL template ${text}`);
  }

  // Check the shape with a harmless value in every placeholder.
  const sample = literals.reduce((acc, literal, i) => acc + (i > 0 ? 'x' : '') + literal, '');
  let parsed: URL;
  try {
    parsed = new URL(sample);
  } catch {
    throw new TemplateError(`not a valid URL: ${text}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TemplateError(`URL must be http or https: ${text}`);

  const isStatic = paths.length === 0;
  const schemeEnd = text.indexOf('//') + 2;
  const slash = text.indexOf('/', schemeEnd);
  const authority = slash < 0 ? text : text.slice(0, slash);
  const origin = authority.includes('{{') ? undefined : parsed.origin;

  return {
    text,
    isStatic,
    origin,
    render(event) {
      if (isStatic) return text;
      let out = literals[0]!;
      for (let i = 0; i < paths.length; i++) out += encodeURIComponent(lookup(event, paths[i]!)) + literals[i + 1]!;
      return out;
    },
  };
}

function lookup(event: CanonicalEvent, path: string[]): string {
  let value: unknown = event;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) {
      throw new TemplateError(`event ${event.id} has no ${path.join('.')}`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    const text = String(value);
    if (text === '') throw new TemplateError(`event ${event.id}: ${path.join('.')} is empty`);
    if (LONE_SURROGATE.test(text)) throw new TemplateError(`event ${event.id}: ${path.join('.')} holds a lone UTF-16 surrogate (not valid Unicode), which has no URL encoding`);
    return text;
  }
  throw new TemplateError(`event ${event.id}: ${path.join('.')} is ${value === null ? 'null' : typeof value}, not a string or number`);
}
