/**
 * bridge.yaml → validated BridgeConfig.
 *
 * The YAML document is kept (with its LineCounter) until validation is over so that every
 * error names file:line:column and the key. `${VAR}` / `${VAR:-default}` are expanded per
 * scalar after parsing, so positions stay those of the file the user wrote.
 */
import { unsignedApps } from './auth-policy.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parse as parseYamlScalar, parseDocument, visit, type Document, type Node, type Pair } from 'yaml';
import type { TSchema } from '@sinclair/typebox';
import { ConfigError, type ConfigErrorCode } from './errors.js';
import { BridgeConfigSchema, SinkCommonSchema, SINK_COMMON_KEYS, type BridgeConfig, type SinkConfig } from './schema.js';
import { DEFAULT_CONFIG_TEXT, EMBEDDED_DEFAULT_NAME } from './default.js';
import type { SinkPlugin } from '../sink/api.js';

/** Finds the plugin for a sink block; throws a ConfigError-friendly Error when it cannot. */
export type PluginResolver = (type: string, module: string | undefined, configDir: string) => Promise<SinkPlugin>;

export interface LoadOptions {
  resolvePlugin: PluginResolver;
  env?: NodeJS.ProcessEnv;
  generation?: number;
}

export interface LoadedConfig {
  config: BridgeConfig;
  plugins: Map<string, SinkPlugin>;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
const validateBridge = ajv.compile(BridgeConfigSchema);
const validateSinkCommon = ajv.compile(SinkCommonSchema);
const pluginValidators = new WeakMap<object, ValidateFunction>();

export async function loadConfigFile(file: string | undefined, options: LoadOptions): Promise<LoadedConfig> {
  if (file === undefined) {
    return loadConfigText(DEFAULT_CONFIG_TEXT, EMBEDDED_DEFAULT_NAME, process.cwd(), options);
  }
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read: ${(error as Error).message}`;
    throw new ConfigError('CONFIG_FILE_NOT_FOUND', reason, { file: absolute });
  }
  return loadConfigText(text, absolute, path.dirname(absolute), options);
}

export async function loadConfigText(text: string, file: string, dir: string, options: LoadOptions): Promise<LoadedConfig> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  const fail = (code: ConfigErrorCode, reason: string, node: Node | null | undefined, key?: string): never => {
    throw new ConfigError(code, reason, { file, key, ...locate(node?.range?.[0]) });
  };

  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    throw new ConfigError('CONFIG_YAML_SYNTAX', first.message.split('\n')[0]!, { file, ...locate(first.pos[0]) });
  }

  interpolate(doc, options.env ?? process.env, (name, node, key) =>
    fail('CONFIG_ENV_UNSET', `environment variable ${name} is not set (use \${${name}:-default} for a default)`, node, key),
  );

  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('CONFIG_INVALID_VALUE', 'the top level must be a mapping', doc.contents);

  if (!validateBridge(raw)) reportAjvError(doc, validateBridge.errors ?? [], [], fail);
  const validated = raw as unknown as Omit<BridgeConfig, 'file' | 'dir' | 'generation'>;

  const seenApps = new Set<string>();
  validated.apps.forEach((app, index) => {
    const id = String(app.sdk_app_id);
    app.sdk_app_id = id;
    if (seenApps.has(id)) fail('CONFIG_DUPLICATE_APP', `SdkAppid ${id} is listed twice`, nodeAt(doc, ['apps', index, 'sdk_app_id']), `apps[${index}].sdk_app_id`);
    seenApps.add(id);
  });

  const sinks: Record<string, SinkConfig> = {};
  const plugins = new Map<string, SinkPlugin>();
  for (const [name, block] of Object.entries(raw.sinks as Record<string, Record<string, unknown>>)) {
    const common: Record<string, unknown> = {};
    const own: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(block)) (SINK_COMMON_KEYS.has(key) ? common : own)[key] = value;
    if (!validateSinkCommon(common)) reportAjvError(doc, validateSinkCommon.errors ?? [], ['sinks', name], fail);
    const type = common.type as string;
    let plugin: SinkPlugin;
    try {
      plugin = await options.resolvePlugin(type, common.module as string | undefined, dir);
    } catch (error) {
      const code = (error as { code?: string }).code === 'CONFIG_UNKNOWN_SINK_TYPE' ? 'CONFIG_UNKNOWN_SINK_TYPE' : 'CONFIG_PLUGIN_LOAD';
      const at = common.module !== undefined ? 'module' : 'type';
      fail(code, (error as Error).message, nodeAt(doc, ['sinks', name, at]), `sinks.${name}.${at}`);
      throw error; // unreachable: fail() throws
    }
    const validatePlugin = pluginValidator(plugin.configSchema);
    if (!validatePlugin(own)) reportAjvError(doc, validatePlugin.errors ?? [], ['sinks', name], fail);
    sinks[name] = { ...(common as unknown as Omit<SinkConfig, 'name' | 'options'>), name, options: own };
    plugins.set(name, plugin);
  }

  validated.routes.forEach((route, index) => {
    route.to.forEach((target, j) => {
      if (!(target in sinks)) {
        fail('CONFIG_UNKNOWN_SINK', `route "${route.name}" sends to "${target}", which is not defined under sinks:`, nodeAt(doc, ['routes', index, 'to', j]), `routes[${index}].to[${j}]`);
      }
    });
  });

  for (const app of unsignedApps(validated)) {
    if (app.refused) fail('CONFIG_UNSIGNED_PUBLIC', app.message, nodeAt(doc, ['apps', app.index]), `apps[${app.index}].token`);
  }

  const config: BridgeConfig = { ...validated, sinks, file, dir, generation: options.generation ?? 1 };
  return { config, plugins };
}

/** Plugin schemas reject unknown keys unless they say otherwise. */
function pluginValidator(schema: TSchema): ValidateFunction {
  const cached = pluginValidators.get(schema);
  if (cached) return cached;
  const closed = schema.type === 'object' && schema.additionalProperties === undefined ? { ...schema, additionalProperties: false } : schema;
  const validate = ajv.compile(closed);
  pluginValidators.set(schema, validate);
  return validate;
}

const ENV_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_ENV_PATTERN = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

function interpolate(doc: Document, env: NodeJS.ProcessEnv, unset: (name: string, node: Node, key: string) => never): void {
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const source = node.value;
      const expanded = source.replace(ENV_PATTERN, (_match, name: string, fallback: string | undefined) => {
        const value = env[name];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        if (value === '') return '';
        return unset(name, node, keyPath(ancestors, node));
      });
      // An unquoted `${PORT:-8080}` should read as the number the user meant.
      node.value = node.type === 'PLAIN' && WHOLE_ENV_PATTERN.test(source) && expanded !== '' ? parseYamlScalar(expanded) : expanded;
    },
  });
}

/** Dotted key path of a node from the visitor's ancestor list (Document, maps, pairs, seqs). */
function keyPath(ancestors: readonly unknown[], node: unknown): string {
  const segments: Array<string | number> = [];
  for (let i = 0; i < ancestors.length; i++) {
    const a = ancestors[i];
    const next = ancestors[i + 1] ?? node;
    if (isPair(a) && isScalar(a.key)) segments.push(String(a.key.value));
    else if (isSeq(a)) segments.push(a.items.indexOf(next as never));
  }
  return dotted(segments);
}

function nodeAt(doc: Document, segments: Array<string | number>): Node | undefined {
  const node = doc.getIn(segments, true) as Node | undefined;
  if (node) return node;
  for (let i = segments.length - 1; i >= 0; i--) {
    const parent = doc.getIn(segments.slice(0, i), true) as Node | undefined;
    if (parent) return parent;
  }
  return doc.contents ?? undefined;
}

function keyNode(doc: Document, parentPath: Array<string | number>, key: string): Node | undefined {
  const parent = parentPath.length === 0 ? doc.contents : (doc.getIn(parentPath, true) as Node | undefined);
  if (parent && isMap(parent)) {
    const pair = parent.items.find((item: Pair) => isScalar(item.key) && String(item.key.value) === key);
    if (pair && isScalar(pair.key)) return pair.key;
  }
  return parent ?? undefined;
}

function toSegments(pointer: string, doc: Document, base: Array<string | number>): Array<string | number> {
  const segments: Array<string | number> = [...base];
  if (pointer === '') return segments;
  for (const part of pointer.slice(1).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    const container = doc.getIn(segments, true);
    segments.push(isSeq(container) && /^\d+$/.test(key) ? Number(key) : key);
  }
  return segments;
}

function dotted(segments: Array<string | number>): string {
  return segments.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}

function reportAjvError(
  doc: Document,
  errors: ErrorObject[],
  base: Array<string | number>,
  fail: (code: ConfigErrorCode, reason: string, node: Node | null | undefined, key?: string) => never,
): never {
  // Prefer the most actionable error: unknown key, then missing key, then the deepest value error.
  const pick =
    errors.find((e) => e.keyword === 'additionalProperties') ??
    errors.find((e) => e.keyword === 'required') ??
    errors.find((e) => e.keyword === 'anyOf') ??
    errors[0];
  if (!pick) return fail('CONFIG_INVALID_VALUE', 'invalid configuration', doc.contents);
  const segments = toSegments(pick.instancePath, doc, base);
  if (pick.keyword === 'additionalProperties') {
    const key = String((pick.params as { additionalProperty: string }).additionalProperty);
    const where = dotted([...segments, key]);
    const allowed = Object.keys((pick.parentSchema as { properties?: object })?.properties ?? {});
    const hint = allowed.length ? ` (allowed: ${allowed.join(', ')})` : '';
    return fail('CONFIG_UNKNOWN_KEY', `unknown key "${key}"${hint}`, keyNode(doc, segments, key), where);
  }
  if (pick.keyword === 'required') {
    const key = String((pick.params as { missingProperty: string }).missingProperty);
    return fail('CONFIG_MISSING_KEY', `missing required key "${key}"`, nodeAt(doc, segments), dotted([...segments, key]));
  }
  let reason = pick.message ?? 'invalid value';
  if (pick.keyword === 'anyOf') {
    const options = ((pick.schema as Array<{ const?: unknown; type?: string }>) ?? []).map((s) => (s.const !== undefined ? JSON.stringify(s.const) : s.type ?? '?'));
    reason = `must be one of: ${options.join(', ')}`;
  }
  return fail('CONFIG_INVALID_VALUE', reason, nodeAt(doc, segments), dotted(segments) || '(top level)');
}
