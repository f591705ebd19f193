/**
 * Paths over the canonical event for transform steps: `data.text`, `data.sender`,
 * `data.elements[*].content.text`, `data.elements[0].kind`, `data.conversation.accounts[*]`.
 *
 * Every edit is copy-on-write: the objects and arrays along the edited path are copied, the rest is
 * shared. The event the delivery engine holds is shared by every sink the callback was routed to and is
 * parsed again from the same stored JSON on a retry, so a transform must never change it in place:
 * that is what makes a transform a pure function of the stored event (same output on redelivery and
 * replay, a different shape per sink from one stored event).
 */

/** `[*]`: every element of an array. */
export const ALL: unique symbol = Symbol('all');
export type Segment = string | number | typeof ALL;

export class PathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathError';
  }
}

const NAME = /^[A-Za-z0-9_$-]+$/;
/** Keys that would reach or replace an object's prototype when assigned. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** Parses `a.b[*].c[0]` into segments; throws PathError with the reason. */
export function parsePath(text: string): Segment[] {
  if (typeof text !== 'string' || text === '') throw new PathError('a path must be a non-empty string such as data.text');
  const segments: Segment[] = [];
  for (const dotted of text.split('.')) {
    const match = /^([^[\]]*)((?:\[[^\]]*\])*)$/.exec(dotted);
    if (!match) throw new PathError(`malformed path "${text}" (expected e.g. data.elements[*].content.text)`);
    const [, name, brackets] = match;
    if (name === '' && segments.length === 0) throw new PathError(`path "${text}" must start with a field name`);
    if (name !== '') {
      if (!NAME.test(name!)) throw new PathError(`malformed segment "${name}" in path "${text}"`);
      if (FORBIDDEN.has(name!)) throw new PathError(`path "${text}" uses the reserved name "${name}"`);
      segments.push(name!);
    } else if (!brackets) throw new PathError(`empty segment in path "${text}"`);
    for (const bracket of brackets!.match(/\[[^\]]*\]/g) ?? []) {
      const inner = bracket.slice(1, -1);
      if (inner === '*') segments.push(ALL);
      else if (/^(0|[1-9][0-9]{0,8})$/.test(inner)) segments.push(Number(inner));
      else throw new PathError(`malformed index "${bracket}" in path "${text}" (use [*] or a number)`);
    }
  }
  return segments;
}

export function hasWildcard(segments: readonly Segment[]): boolean {
  return segments.includes(ALL);
}

/** Returned by a leaf function: leave the value as it is. */
export const SAME: unique symbol = Symbol('same');
/** Returned by a leaf function: remove the value (the key, or the array element). */
export const REMOVE: unique symbol = Symbol('remove');

/** Decides the new value at the end of a path; `present` is false when the key does not exist. */
export type Leaf = (value: unknown, present: boolean) => unknown;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Applies `leaf` at every place `segments` reaches in `node`. Returns SAME when nothing changed,
 * else the new node (copies along the path only). With `create`, missing objects on the way are
 * created (for `set`); a value on the way that is not an object is left alone.
 */
export function edit(node: unknown, segments: readonly Segment[], leaf: Leaf, create = false, owned?: Set<object>, at = 0): unknown {
  const segment = segments[at]!;
  const last = at === segments.length - 1;
  if (segment === ALL || typeof segment === 'number') {
    if (!Array.isArray(node)) return SAME;
    let copy: unknown[] | undefined;
    const removed: number[] = [];
    const from = segment === ALL ? 0 : segment;
    const to = segment === ALL ? node.length : Math.min(segment + 1, node.length);
    for (let i = from; i < to; i++) {
      const next = last ? leaf(node[i], true) : edit(node[i], segments, leaf, create, owned, at + 1);
      if (next === SAME) continue;
      copy ??= own(node, owned);
      if (next === REMOVE) removed.push(i);
      else copy[i] = next;
    }
    if (!copy) return SAME;
    if (!removed.length) return copy;
    const kept = copy.filter((_, i) => !removed.includes(i));
    owned?.add(kept);
    return kept;
  }
  let object: Record<string, unknown>;
  if (isRecord(node)) object = node;
  else if (node === undefined && create) {
    object = {};
    owned?.add(object);
  }
  else return SAME;
  const present = Object.prototype.hasOwnProperty.call(object, segment);
  const child = present ? object[segment] : undefined;
  let next: unknown;
  if (last) next = leaf(child, present);
  else if (!present && !create) return SAME;
  else next = edit(child, segments, leaf, create, owned, at + 1);
  if (next === SAME || (next === REMOVE && !present)) return SAME;
  const copy = own(object, owned);
  if (next === REMOVE) delete copy[segment];
  else copy[segment] = next;
  return copy;
}

/**
 * A copy of `value` that this application of a chain may change, or `value` itself when it already
 * is one (`owned`: the objects copied while shaping this one event, which nothing else holds), so
 * several steps on one event copy the top level and `data` once, not once per step.
 */
function own<T extends object>(value: T, owned: Set<object> | undefined): T {
  if (owned?.has(value)) return value;
  const copy = (Array.isArray(value) ? value.slice() : { ...value }) as T;
  owned?.add(copy);
  return copy;
}

/** The value at a path without wildcards, and whether it exists. */
export function get(node: unknown, segments: readonly Segment[]): { present: boolean; value: unknown } {
  let value = node;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(value) || segment >= value.length) return { present: false, value: undefined };
      value = value[segment];
    } else if (segment === ALL) {
      return { present: false, value: undefined };
    } else {
      if (!isRecord(value) || !Object.prototype.hasOwnProperty.call(value, segment)) return { present: false, value: undefined };
      value = value[segment];
    }
  }
  return { present: true, value };
}

/** A tree of kept paths: `true` keeps the whole value below. */
export type KeepTree = true | Map<Segment, KeepTree>;

export function keepTree(paths: readonly (readonly Segment[])[]): KeepTree {
  const root = new Map<Segment, KeepTree>();
  for (const segments of paths) {
    let node: Map<Segment, KeepTree> = root;
    segments.forEach((segment, i) => {
      const existing = node.get(segment);
      if (existing === true) return;
      if (i === segments.length - 1) return void node.set(segment, true);
      const next = existing ?? new Map<Segment, KeepTree>();
      node.set(segment, next);
      node = next;
    });
  }
  return root;
}

const MISSING: unique symbol = Symbol('missing');

/** A new value holding only what `tree` names (in the source's key order); MISSING when nothing. */
export function project(node: unknown, tree: KeepTree): unknown {
  if (tree === true) return node;
  if (Array.isArray(node)) {
    const all = tree.get(ALL);
    const out: unknown[] = [];
    node.forEach((element, i) => {
      const sub = tree.get(i) ?? all;
      if (sub === undefined) return;
      const kept = project(element, sub);
      if (kept !== MISSING) out.push(kept);
    });
    return out.length ? out : MISSING;
  }
  if (!isRecord(node)) return MISSING;
  const out: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(node)) {
    const sub = tree.get(key);
    if (sub === undefined) continue;
    const kept = project(node[key], sub);
    if (kept === MISSING) continue;
    out[key] = kept;
    any = true;
  }
  return any ? out : MISSING;
}

export function isMissing(value: unknown): boolean {
  return value === MISSING;
}
