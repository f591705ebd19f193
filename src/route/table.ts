/**
 * Route table: `routes:` from bridge.yaml compiled once into matchers. Every event is matched
 * against every route in order (fan-out: the union of their sinks); a route with `final: true`
 * stops the evaluation. Globs: `*` matches any run of characters, `?` one character, case-sensitive.
 *
 * Before-callbacks (`*.CallbackBefore*`, `Sns.CallbackPrev*`) add latency to every message, so a
 * catch-all `*` does not forward them: only a route whose command pattern names them (contains
 * `Before` or `Prev`, e.g. `Group.CallbackBeforeSendMsg` or `*.CallbackBefore*`) does.
 */
import type { CanonicalEvent } from '../normalize/event.js';
import type { RouteConfig, RouteMatchConfig } from '../config/schema.js';

type Matcher = (event: CanonicalEvent) => boolean;

interface CompiledRoute {
  name: string;
  sinks: readonly string[];
  final: boolean;
  matchesBefore: boolean;
  matchers: Matcher[];
}

export interface RouteResult {
  sinks: string[];
  routes: string[];
}

const NO_MATCH: RouteResult = Object.freeze({ sinks: [], routes: [] }) as RouteResult;

export function globToRegExp(glob: string): RegExp {
  let source = '^';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.+()|[\]{}]/g, '\\$&');
  }
  return new RegExp(source + '$', 's');
}

function anyOf(value: string | string[] | undefined): RegExp[] | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [value]).map(globToRegExp);
}

function test(patterns: RegExp[], value: unknown): boolean {
  if (typeof value !== 'string') return false;
  for (const p of patterns) if (p.test(value)) return true;
  return false;
}

function compileMatch(match: RouteMatchConfig): Matcher[] {
  const matchers: Matcher[] = [];
  const command = anyOf(match.command);
  if (command) matchers.push((e) => test(command, e.imcommand));
  const family = anyOf(match.family);
  if (family) matchers.push((e) => test(family, e.data.family));
  const app = anyOf(match.sdk_app_id);
  if (app) matchers.push((e) => test(app, e.imsdkappid));
  const groupType = anyOf(match.group_type);
  if (groupType) {
    // Match the current name (Work, Meeting) and the legacy one the callback carried (Private, ChatRoom).
    matchers.push((e) => test(groupType, e.data.conversation.groupType) || test(groupType, (e.data.raw as { Type?: unknown } | undefined)?.Type));
  }
  const groupId = anyOf(match.group_id);
  if (groupId) matchers.push((e) => test(groupId, e.data.conversation.groupId));
  const sender = anyOf(match.sender);
  if (sender) matchers.push((e) => test(sender, e.data.sender));
  const elementType = anyOf(match.element_type);
  if (elementType) {
    matchers.push((e) => {
      const elements = e.data.elements;
      if (!elements) return false;
      for (const el of elements) if (test(elementType, el.type) || test(elementType, el.kind)) return true;
      return false;
    });
  }
  return matchers;
}

export class RouteTable {
  private readonly routes: CompiledRoute[];

  constructor(routes: readonly RouteConfig[]) {
    this.routes = routes.map((route) => {
      const patterns = route.match.command === undefined ? [] : Array.isArray(route.match.command) ? route.match.command : [route.match.command];
      return {
        name: route.name,
        sinks: route.to,
        final: route.final ?? false,
        matchesBefore: patterns.some((p) => p.includes('Before') || p.includes('Prev')),
        matchers: compileMatch(route.match),
      };
    });
  }

  /** Sinks (deduplicated, in route order) and the names of the routes that matched. */
  match(event: CanonicalEvent): RouteResult {
    let result: RouteResult | undefined;
    const before = event.data.before === true;
    for (const route of this.routes) {
      if (before && !route.matchesBefore) continue;
      let ok = true;
      for (const m of route.matchers) {
        if (!m(event)) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      result ??= { sinks: [], routes: [] };
      result.routes.push(route.name);
      for (const s of route.sinks) if (!result.sinks.includes(s)) result.sinks.push(s);
      if (route.final) break;
    }
    return result ?? NO_MATCH;
  }
}
