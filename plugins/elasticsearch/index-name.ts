/**
 * Index-name templates for the elasticsearch sink: `im-events-{{yyyy.MM.dd}}`,
 * `im-{{imsdkappid}}-{{data.family}}-{{yyyy.MM}}`.
 *
 * A `{{…}}` placeholder is either
 * - a date pattern made only of the tokens yyyy, yy, MM, dd, HH, mm, ss and the separators `.`, `-`, `_`,
 *   formatted from the event's `time` in UTC (falling back to `data.receivedAtMs`), or
 * - a dotted field path into the event (`imcommand`, `data.conversation.groupId`...): its value is
 *   lowercased and characters Elasticsearch refuses in index names become `_`; a missing or
 *   non-scalar value becomes `unknown`.
 * Everything else is literal text, checked against Elasticsearch's index-name rules at compile time.
 *
 * Field values (and the event time) come from the callback, i.e. from whoever sends it, so every
 * rendered name is checked again per event (`problem`, one copy of the rules: indexNameProblem); an
 * event whose name breaks them fails alone (ES_INDEX_INVALID) instead of failing in `_bulk`.
 */
import type { CanonicalEvent } from '../../src/sink/api.js';

export type IndexNameFn = (event: CanonicalEvent) => string;

export interface CompiledIndexName {
  /** Index name for one event. */
  name: IndexNameFn;
  /** An index pattern that every produced name matches (placeholders → `*`), for the index template. */
  pattern: string;
  /** True when the name contains no placeholder (one fixed index, alias or data stream). */
  fixed: boolean;
  /** Why a rendered name is not a usable index name, or undefined when it is (indexNameProblem). */
  problem: (name: string) => string | undefined;
}

export class IndexNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IndexNameError';
  }
}

const DATE_TOKEN = /yyyy|yy|MM|dd|HH|mm|ss|[._-]/g;
const DATE_PATTERN = /^(?:yyyy|yy|MM|dd|HH|mm|ss|[._-])+$/;
const FIELD_PATH = /^[A-Za-z_@][A-Za-z0-9_@]*(?:\.[A-Za-z_@][A-Za-z0-9_@]*)*$/;
/** Characters Elasticsearch refuses anywhere in an index name. */
const INVALID_CHARS = /[\\/*?"<>| ,#:\s]/;
const INVALID_CHARS_G = /[\\/*?"<>| ,#:\s]/g;
/** A UTF-16 surrogate without its pair: not encodable as UTF-8, so not a name Elasticsearch can hold. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Elasticsearch's limit on an index name, in UTF-8 bytes. */
export const MAX_INDEX_NAME_BYTES = 255;

/**
 * Elasticsearch's index-name rules (lowercase; none of \ / * ? " < > | , # : or whitespace; not
 * starting with - _ +; not . or ..; at most 255 UTF-8 bytes), plus: no name starting with `.` (hidden
 * and system indices) unless the template itself starts with a literal `.` (`allowDotPrefix`).
 */
export function indexNameProblem(name: string, allowDotPrefix = false): string | undefined {
  if (name.length === 0) return 'is empty';
  if (LONE_SURROGATE.test(name)) return 'contains a lone UTF-16 surrogate';
  if (INVALID_CHARS.test(name)) return 'contains a character Elasticsearch refuses in index names (\\ / * ? " < > | , # : or whitespace)';
  if (name !== name.toLowerCase()) return 'must be lowercase';
  if (/^[-_+]/.test(name)) return 'must not start with -, _ or +';
  if (name === '.' || name === '..') return 'cannot be . or ..';
  if (!allowDotPrefix && name.startsWith('.')) return 'starts with "." (hidden and system indices), which the index template does not';
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_INDEX_NAME_BYTES) return `is ${bytes} bytes long (Elasticsearch allows ${MAX_INDEX_NAME_BYTES})`;
  return undefined;
}

type Part = (event: CanonicalEvent, date: DateParts) => string;
interface DateParts {
  ms: number;
  d?: Date;
}

export function compileIndexName(text: string): CompiledIndexName {
  if (text.length === 0) throw new IndexNameError('index name is empty');
  const parts: Part[] = [];
  let pattern = '';
  let literals = '';
  let fixed = true;
  let pos = 0;
  while (pos < text.length) {
    const open = text.indexOf('{{', pos);
    if (open === -1) {
      const literal = text.slice(pos);
      parts.push(literalPart(literal));
      pattern += literal;
      literals += literal;
      break;
    }
    if (open > pos) {
      const literal = text.slice(pos, open);
      parts.push(literalPart(literal));
      pattern += literal;
      literals += literal;
    }
    const close = text.indexOf('}}', open + 2);
    if (close === -1) throw new IndexNameError(`unclosed "{{" at position ${open} in index "${text}"`);
    const inner = text.slice(open + 2, close).trim();
    parts.push(placeholder(inner, text));
    if (!pattern.endsWith('*')) pattern += '*';
    fixed = false;
    pos = close + 2;
  }
  checkLiteralRules(text, literals, pattern);
  const allowDotPrefix = text.startsWith('.');
  const problem = (rendered: string) => indexNameProblem(rendered, allowDotPrefix);
  if (fixed) {
    const why = problem(text);
    if (why) throw new IndexNameError(`index "${text}" ${why}`);
  }

  const name: IndexNameFn = (event) => {
    const date: DateParts = { ms: eventTimeMs(event) };
    let out = '';
    for (const part of parts) out += part(event, date);
    return out;
  };
  return { name, pattern, fixed, problem };
}

function literalPart(literal: string): Part {
  return () => literal;
}

function placeholder(inner: string, text: string): Part {
  if (inner.length === 0) throw new IndexNameError(`empty "{{}}" in index "${text}"`);
  if (DATE_PATTERN.test(inner)) return datePart(inner);
  if (FIELD_PATH.test(inner)) return fieldPart(inner.split('.'));
  throw new IndexNameError(
    `"{{${inner}}}" in index "${text}" is neither a date pattern (yyyy, yy, MM, dd, HH, mm, ss with . - _) nor a field path (e.g. data.family)`,
  );
}

function datePart(format: string): Part {
  const tokens = format.match(DATE_TOKEN) ?? [];
  return (_event, date) => {
    const d = (date.d ??= new Date(date.ms));
    let out = '';
    for (const token of tokens) {
      switch (token) {
        case 'yyyy':
          out += String(d.getUTCFullYear()).padStart(4, '0');
          break;
        case 'yy':
          out += String(d.getUTCFullYear() % 100).padStart(2, '0');
          break;
        case 'MM':
          out += pad2(d.getUTCMonth() + 1);
          break;
        case 'dd':
          out += pad2(d.getUTCDate());
          break;
        case 'HH':
          out += pad2(d.getUTCHours());
          break;
        case 'mm':
          out += pad2(d.getUTCMinutes());
          break;
        case 'ss':
          out += pad2(d.getUTCSeconds());
          break;
        default:
          out += token;
      }
    }
    return out;
  };
}

function fieldPart(path: string[]): Part {
  return (event) => {
    let value: unknown = event;
    for (const key of path) {
      if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key)) {
        value = undefined;
        break;
      }
      value = (value as Record<string, unknown>)[key];
    }
    if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
    if (typeof value !== 'string' || value.length === 0) return 'unknown';
    return value.toLowerCase().replace(INVALID_CHARS_G, '_');
  };
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** Event time in ms: `time` (RFC 3339), else the bridge's receive time, else now. */
export function eventTimeMs(event: CanonicalEvent): number {
  const ms = typeof event.time === 'string' ? Date.parse(event.time) : NaN;
  if (Number.isFinite(ms)) return ms;
  const received = event.data?.receivedAtMs;
  if (typeof received === 'number' && Number.isFinite(received)) return received;
  return Date.now();
}

/** Elasticsearch's rules that can be checked on the literal parts of the template. */
function checkLiteralRules(text: string, literal: string, pattern: string): void {
  if (INVALID_CHARS.test(literal)) {
    throw new IndexNameError(`index "${text}" contains a character Elasticsearch refuses in index names (\\ / * ? " < > | , # : or space)`);
  }
  if (literal !== literal.toLowerCase()) throw new IndexNameError(`index "${text}" must be lowercase`);
  if (/^[-_+]/.test(pattern)) throw new IndexNameError(`index "${text}" must not start with -, _ or +`);
  if (pattern === '.' || pattern === '..') throw new IndexNameError(`index "${text}" cannot be . or ..`);
  if (Buffer.byteLength(literal) > 200) throw new IndexNameError(`index "${text}" is too long (Elasticsearch allows 255 bytes in all)`);
}
