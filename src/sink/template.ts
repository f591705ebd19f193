/**
 * Small string templates over a canonical event, for names a sink derives per event (a Kafka
 * topic, a NATS subject, an index name...): `im.{{imcommand}}`, `chat-{{data.conversation.groupId}}`.
 *
 * - `{{path}}` is a dotted path into the event: top-level attributes (`id`, `type`, `source`,
 *   `subject`, `imcommand`, `imsdkappid`, `implatform`...) or `data.*`; whitespace inside the braces
 *   is ignored; a numeric segment indexes an array (`data.elements.0.kind`).
 * - A missing value renders as the empty string; numbers and booleans as their text; objects and
 *   arrays as JSON. The caller validates the result (a legal topic name, ...).
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

type Part = string | readonly string[];

/** Parses `text` once; throws TemplateError for an unclosed `{{`, an empty or malformed field. */
export function compileTemplate(text: string): CompiledTemplate {
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
    parts.push(path);
    fields.push(field);
    at = close + 2;
  }

  let render: (event: object) => string;
  if (fields.length === 0) {
    render = () => text;
  } else if (parts.length === 1) {
    const path = parts[0] as readonly string[];
    render = (event) => stringify(lookup(event, path));
  } else {
    render = (event) => {
      let out = '';
      for (const part of parts) out += typeof part === 'string' ? part : stringify(lookup(event, part));
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
