/**
 * Declarative transform steps (a sink's `transforms:` list in bridge.yaml), compiled once into plain
 * functions from event to event. Each step is one action — keep, drop, rename, set, redact, hash —
 * or a plugin (chain.ts). Paths are parsed and checked here, at load, so that a mistake is a config
 * error at its file:line instead of a surprise per event.
 *
 * The event `id` and `subject` cannot be touched by a step: ordering (one lane per subject) and
 * idempotency (id = Kafka header, NATS Nats-Msg-Id, ES _id…) depend on them, so a path that would
 * change them is refused at load (and a plugin that changes them fails that event, see chain.ts).
 */
import { createHmac } from 'node:crypto';
import { compileTemplate, TemplateError } from '../sink/template.js';
import { markedDigits, unmarkText } from './exact.js';
import { edit, get, hasWildcard, isMissing, keepTree, parsePath, PathError, project, REMOVE, SAME, type Segment } from './path.js';
import type { TransformStepConfig } from './schema.js';

export const ACTIONS = ['keep', 'drop', 'rename', 'set', 'redact', 'hash', 'plugin'] as const;
export type Action = (typeof ACTIONS)[number];

/** The keys a step may carry besides its action, per action (`name` is allowed on every step). */
const MODIFIERS: Record<Action, readonly string[]> = {
  keep: [],
  drop: [],
  rename: [],
  set: [],
  redact: ['with'],
  hash: ['key'],
  plugin: ['options', 'timeout_ms'],
};

/** Top-level attributes a transform must leave as they are. */
export const IMMUTABLE = ['id', 'subject'] as const;

export const DEFAULT_REDACTION = '[REDACTED]';

const HASH_MEMO_ENTRIES = 4096;

/** A config mistake in step `index`; `at` is the key path inside the step (for file:line). */
export class TransformConfigError extends Error {
  constructor(
    message: string,
    readonly at: ReadonlyArray<string | number>,
  ) {
    super(message);
    this.name = 'TransformConfigError';
  }
}

/**
 * One step. `owned` holds the objects already copied while shaping this event (see path.ts own()):
 * a step may change those in place; everything else it must copy.
 */
export type EventFn = (event: Record<string, unknown>, owned?: Set<object>) => Record<string, unknown>;

export interface CompiledStep {
  action: Action;
  /** The `transform` label of im_bridge_transform_events_total: `name:`, else `<action>#<index>`. */
  label: string;
  /** Declarative steps only (plugins are instantiated by the chain). */
  apply?: EventFn;
}

/** Which action a step is; throws TransformConfigError for none, several, or a stray modifier. */
export function actionOf(step: TransformStepConfig): Action {
  const actions = ACTIONS.filter((a) => step[a] !== undefined);
  if (actions.length !== 1) {
    throw new TransformConfigError(
      actions.length === 0 ? `a transform step needs exactly one of: ${ACTIONS.join(', ')}` : `a transform step has one action; this one has ${actions.join(' and ')} (split it into steps)`,
      actions.length ? [actions[1]!] : [],
    );
  }
  const action = actions[0]!;
  for (const key of Object.keys(step)) {
    if (key === action || key === 'name' || (ACTIONS as readonly string[]).includes(key)) continue;
    if (!MODIFIERS[action].includes(key)) {
      const allowed = MODIFIERS[action].length ? MODIFIERS[action].join(', ') : 'nothing besides name';
      throw new TransformConfigError(`"${key}" does not apply to a ${action} step (it takes ${allowed})`, [key]);
    }
  }
  return action;
}

export function stepLabel(step: TransformStepConfig, action: Action, index: number): string {
  return step.name ?? `${action}#${index}`;
}

/** Compiles a declarative step. Plugin steps are only checked for their shape here. */
export function compileStep(step: TransformStepConfig, index: number): CompiledStep {
  const action = actionOf(step);
  const label = stepLabel(step, action, index);
  switch (action) {
    case 'keep': {
      const paths = pathList(step.keep!, 'keep', { allowImmutable: true });
      const tree = keepTree([...paths, ...IMMUTABLE.map((k) => [k] as Segment[])]);
      return { action, label, apply: (event) => {
        const kept = project(event, tree);
        return isMissing(kept) ? {} : (kept as Record<string, unknown>);
      } };
    }
    case 'drop': {
      const paths = pathList(step.drop!, 'drop');
      return { action, label, apply: pipe(paths.map((p) => (event, owned) => edit(event, p, (_v, present) => (present ? REMOVE : SAME), false, owned))) };
    }
    case 'redact': {
      const replacement = step.with ?? DEFAULT_REDACTION;
      const paths = pathList(step.redact!, 'redact');
      const leaf = (value: unknown, present: boolean) => (present && value !== null && value !== replacement ? replacement : SAME);
      return { action, label, apply: pipe(paths.map((p) => (event, owned) => edit(event, p, leaf, false, owned))) };
    }
    case 'hash': {
      const key = step.key;
      if (typeof key !== 'string' || key === '') {
        throw new TransformConfigError('a hash step needs "key:" (the HMAC secret, e.g. key: ${IM_BRIDGE_HASH_KEY}); it is missing or empty', step.key === undefined ? ['hash'] : ['key']);
      }
      const paths = pathList(step.hash!, 'hash');
      // Account ids repeat from event to event; an HMAC costs ~2 µs. A bounded memo of recent
      // values (dropped whole when full) keeps the step cheap and its output the same.
      const memo = new Map<string, string>();
      const hashed = (value: unknown) => {
        if (typeof value !== 'string') return hmac(key, value);
        let out = memo.get(value);
        if (out === undefined) {
          if (memo.size >= HASH_MEMO_ENTRIES) memo.clear();
          memo.set(value, (out = hmac(key, value)));
        }
        return out;
      };
      const leaf = (value: unknown, present: boolean) => (present && value !== null && value !== undefined ? hashed(value) : SAME);
      return { action, label, apply: pipe(paths.map((p) => (event, owned) => edit(event, p, leaf, false, owned))) };
    }
    case 'rename': {
      const moves = Object.entries(objectOf(step.rename, 'rename')).map(([from, to]) => {
        if (typeof to !== 'string') throw new TransformConfigError(`rename ${from}: the new path must be a string`, ['rename', from]);
        const source = onePath(from, ['rename', from], { wildcard: false });
        const target = onePath(to, ['rename', from], { wildcard: false });
        return { source, target };
      });
      return { action, label, apply: pipe(moves.map(({ source, target }) => (event, owned) => {
        const found = get(event, source);
        if (!found.present) return SAME;
        const without = edit(event, source, () => REMOVE, false, owned);
        const base = (without === SAME ? event : without) as Record<string, unknown>;
        const moved = edit(base, target, () => found.value, true, owned);
        return moved === SAME ? base : moved;
      })) };
    }
    case 'set': {
      const assignments = Object.entries(objectOf(step.set, 'set')).map(([path, value]) => {
        const target = onePath(path, ['set', path], { wildcard: false });
        if (typeof value === 'string' && value.includes('{{')) {
          try {
            const template = compileTemplate(value);
            return { target, value: (event: object) => unmarkText(template(event)) };
          } catch (error) {
            if (error instanceof TemplateError) throw new TransformConfigError(`set ${path}: ${error.message}`, ['set', path]);
            throw error;
          }
        }
        // Objects are copied per event: the constant must not be shared between delivered events.
        const json = value !== null && typeof value === 'object' ? JSON.stringify(value) : undefined;
        return { target, value: json !== undefined ? () => JSON.parse(json) as unknown : () => value };
      });
      return { action, label, apply: pipe(assignments.map(({ target, value }) => (event, owned) => edit(event, target, () => value(event), true, owned))) };
    }
    case 'plugin':
      if (typeof step.plugin !== 'string' || step.plugin === '') throw new TransformConfigError('plugin: needs a module path (relative to bridge.yaml) or an npm package name', ['plugin']);
      return { action, label };
  }
}

/**
 * Keyed HMAC-SHA256, lowercase hex. Strings are hashed as they are, other values as their JSON text
 * (an integer beyond 2^53 as its exact digits, exact.ts).
 */
export function hmac(key: string, value: unknown): string {
  const text = typeof value === 'string' ? (markedDigits(value) ?? value) : JSON.stringify(value);
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/** One function applying edits in order; each edit returns SAME or the new event. */
function pipe(edits: Array<(event: Record<string, unknown>, owned?: Set<object>) => unknown>): EventFn {
  return (event, owned) => {
    let current = event;
    for (const apply of edits) {
      const next = apply(current, owned);
      if (next !== SAME) current = next as Record<string, unknown>;
    }
    return current;
  };
}

function objectOf(value: unknown, action: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) {
    throw new TransformConfigError(`${action}: needs a mapping of path: value (at least one)`, [action]);
  }
  return value as Record<string, unknown>;
}

function pathList(value: unknown, action: string, options: { allowImmutable?: boolean } = {}): Segment[][] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) throw new TransformConfigError(`${action}: needs a path or a list of paths`, [action]);
  return list.map((path, i) => onePath(path as string, typeof value === 'string' ? [action] : [action, i], { wildcard: true, allowImmutable: options.allowImmutable }));
}

function onePath(text: string, at: ReadonlyArray<string | number>, options: { wildcard: boolean; allowImmutable?: boolean }): Segment[] {
  let segments: Segment[];
  try {
    segments = parsePath(text);
  } catch (error) {
    if (error instanceof PathError) throw new TransformConfigError(error.message, at);
    throw error;
  }
  if (!options.allowImmutable && (IMMUTABLE as readonly unknown[]).includes(segments[0])) {
    throw new TransformConfigError(`path "${text}": the event ${String(segments[0])} cannot be changed by a transform (ordering and deduplication depend on it)`, at);
  }
  if (!options.wildcard && hasWildcard(segments)) throw new TransformConfigError(`path "${text}": [*] is not allowed here (name one value)`, at);
  return segments;
}
