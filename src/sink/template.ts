/**
 * Small string templates over a canonical event, for names a sink derives per event (a Kafka
 * topic, a NATS subject, an index name...): `im.{{imcommand}}`, `chat-{{data.conversation.groupId}}`.
 *
 * - `{{path}}` is a dotted path into the event: top-level attributes (`id`, `type`, `source`,
 *   `subject`, `imcommand`, `imsdkappid`, `implatform`...) or `data.*`; whitespace inside the braces
 *   is ignored; a numeric segment indexes an array (`data.elements.0.kind`).
 * - A missing value (absent or null) renders as the empty string unless `onMissing` says otherwise;
 *   numbers and booleans as their text; objects and arrays as JSON. `encode` is applied to each
 *   substituted value, never to the literal text: the one place a sink puts its escaping (URL
 *   components, subject tokens), so a value from the callback cannot change the name's shape. The
 *   caller validates the result (a legal topic name, ...).
 * - Public as `compileTemplate` of `im-bridge/sink`: one template syntax for every sink.
 * - The text is parsed once by `compileTemplate`; rendering an event walks the precompiled parts
 *   (no parsing, no regular expression per event). A text without `{{` renders as itself.
 */

/** Renders one event (any object: canonical events or plain records). */
export type CompiledTemplate = ((event: object) => string) & {
  /** The template text as given. */
  readonly text: string;
  /** True when the text has no `{{field}}`: every event renders the same string. */
  readonly isStatic: boolean;
  /** The dotted paths the template reads, in order of appearance. */
  readonly fields: readonly string[];
};

export interface TemplateOptions {
  /** Applied to each substituted value (not to the literal text, nor to an onMissing replacement). */
  encode?: (value: string, field: string) => string;
  /**
   * A field the event does not have, or null: `'empty'` (default) renders '', `'fail'` throws
   * TemplateError from the render (the caller fails that event), any other string is put in its place.
   */
  onMissing?: 'empty' | 'fail' | (string & {});
}

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly text: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position} of template ${JSON.stringify(text)}`);
    this.name = 'TemplateError';
  }
}

const SEGMENT = /^[A-Za-z0-9_$-]+$/;

interface Field {
  path: readonly string[];
  name: string;
  position: number;
}
type Part = string | Field;

/** Parses `text` once; throws TemplateError for an unclosed `{{`, an empty or malformed field. */
export function compileTemplate(text: string, options: TemplateOptions = {}): CompiledTemplate {
  const parts: Part[] = [];
  const fields: string[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('{{', at);
    if (open < 0) {
      parts.push(text.slice(at));
      break;
    }
    if (open > at) parts.push(text.slice(at, open));
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError('unclosed "{{"', text, open);
    const field = text.slice(open + 2, close).trim();
    if (field === '') throw new TemplateError('empty field "{{}}"', text, open);
    const path = field.split('.');
    if (!path.every((segment) => SEGMENT.test(segment))) {
      throw new TemplateError(`malformed field "${field}" (expected a dotted path such as data.family)`, text, open);
    }
    parts.push({ path, name: field, position: open });
    fields.push(field);
    at = close + 2;
  }

  const { encode, onMissing = 'empty' } = options;
  const missing = onMissing === 'empty' ? '' : onMissing;
  const value = (event: object, field: Field): string => {
    const found = lookup(event, field.path);
    if (found === undefined || found === null) {
      if (missing === 'fail') throw new TemplateError(`the event has no value for "${field.name}"`, text, field.position);
      return missing;
    }
    const rendered = stringify(found);
    return encode ? encode(rendered, field.name) : rendered;
  };
  let render: (event: object) => string;
  if (fields.length === 0) {
    render = () => text;
  } else if (parts.length === 1) {
    const field = parts[0] as Field;
    render = (event) => value(event, field);
  } else {
    render = (event) => {
      let out = '';
      for (const part of parts) out += typeof part === 'string' ? part : value(event, part);
      return out;
    };
  }
  return Object.assign(render, { text, isStatic: fields.length === 0, fields: Object.freeze(fields) });
}

function lookup(root: object, path: readonly string[]): unknown {
  let value: unknown = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    // Own properties only: a template must not reach Object.prototype (`{{constructor}}`).
    if (!Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

function stringify(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      return value === null ? '' : JSON.stringify(value);
    default:
      return '';
  }
}
