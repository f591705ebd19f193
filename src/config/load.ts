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
import type { SinkPlugin, TransformPlugin } from '../sink/api.js';
import type { TransformStepConfig } from '../transform/schema.js';
import { resolveTransformPlugin } from '../sink/loader.js';
import { compileStep, TransformConfigError } from '../transform/steps.js';
import type { TransformPluginResolver } from '../transform/chain.js';

/** Finds the plugin for a sink block; throws a ConfigError-friendly Error when it cannot. */
export type PluginResolver = (type: string, module: string | undefined, configDir: string) => Promise<SinkPlugin>;

export interface LoadOptions {
  resolvePlugin: PluginResolver;
  /** Loads a transform step's `plugin:` (default: the real loader). */
  resolveTransformPlugin?: TransformPluginResolver;
  env?: NodeJS.ProcessEnv;
  generation?: number;
  /**
   * `im-bridge check`: every error is pushed here and loading goes on as far as it can, so that a
   * file with three mistakes reports three; the first is still thrown at the end. Without it (start,
   * reload) the first error is thrown at once, as before.
   */
  collect?: ConfigError[];
}

export interface LoadedConfig {
  config: BridgeConfig;
  plugins: Map<string, SinkPlugin>;
}

// verbose: errors carry their schema, which is where the allowed values and keys are listed.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false, verbose: true });
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
  const problems = options.collect;
  /** Keys whose ${VAR} was unset: what else is wrong with them follows from that, so it is not reported. */
  const unsetKeys = new Set<string>();
  /** An error that does not stop the load when collecting (check); throws otherwise. */
  const report: Reporter = (code, reason, node, key) => {
    if (problems && code !== 'CONFIG_ENV_UNSET' && key !== undefined && unsetKeys.has(key)) return;
    const error = new ConfigError(code, reason, { file, key, ...locate(node?.range?.[0]) });
    if (!problems) throw error;
    problems.push(error);
  };
  const stopIfFailed = () => {
    if (problems?.length) throw problems[0]!;
  };
  /** After an error was collected the document may lack the shape later steps expect: go on, guarded. */
  const step = async (run: () => void | Promise<void>) => {
    try {
      await run();
    } catch (error) {
      if (problems && error instanceof ConfigError) problems.push(error);
      else if (!problems?.length) throw error;
    }
  };

  // Only the first syntax error: the parser's later ones are mostly its own cascade.
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    throw new ConfigError('CONFIG_YAML_SYNTAX', first.message.split('\n')[0]!, { file, ...locate(first.pos[0]) });
  }

  interpolate(doc, options.env ?? process.env, (name, node, key) => {
    report('CONFIG_ENV_UNSET', `environment variable ${name} is not set (use \${${name}:-default} for a default)`, node, key);
    unsetKeys.add(key);
    return '';
  });

  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('CONFIG_INVALID_VALUE', 'the top level must be a mapping', doc.contents);

  if (!validateBridge(raw)) reportAjvErrors(doc, validateBridge.errors ?? [], [], report);
  const validated = raw as unknown as Omit<BridgeConfig, 'file' | 'dir' | 'generation'>;

  // The one cross-field rule of the queue: kafka needs its block (the schema cannot say "required when").
  await step(() => {
    const queue = validated.queue as { type?: string; kafka?: unknown } | undefined;
    if (queue?.type === 'kafka' && queue.kafka === undefined) {
      report('CONFIG_MISSING_KEY', 'queue.type: kafka needs a queue.kafka block (brokers, topic, ...)', nodeAt(doc, ['queue']), 'queue.kafka');
    }
  });

  const seenApps = new Set<string>();
  await step(() => validated.apps.forEach((app, index) => {
    const id = String(app.sdk_app_id);
    app.sdk_app_id = id;
    if (seenApps.has(id)) report('CONFIG_DUPLICATE_APP', `SdkAppid ${id} is listed twice`, nodeAt(doc, ['apps', index, 'sdk_app_id']), `apps[${index}].sdk_app_id`);
    seenApps.add(id);
  }));

  const sinks: Record<string, SinkConfig> = {};
  const plugins = new Map<string, SinkPlugin>();
  const sinkBlocks = raw.sinks && typeof raw.sinks === 'object' && !Array.isArray(raw.sinks) ? (raw.sinks as Record<string, Record<string, unknown>>) : {};
  for (const [name, block] of Object.entries(sinkBlocks)) {
    if (!block || typeof block !== 'object') continue; // reported by the schema
    const common: Record<string, unknown> = {};
    const own: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(block)) (SINK_COMMON_KEYS.has(key) ? common : own)[key] = value;
    if (!validateSinkCommon(common)) {
      reportAjvErrors(doc, validateSinkCommon.errors ?? [], ['sinks', name], report);
      if (typeof common.type !== 'string') continue;
    }
    await step(() => checkTransforms(name, common.transforms as TransformStepConfig[] | undefined, dir, doc, options.resolveTransformPlugin ?? resolveTransformPlugin, fail));
    const type = common.type as string;
    let plugin: SinkPlugin;
    try {
      plugin = await options.resolvePlugin(type, common.module as string | undefined, dir);
    } catch (error) {
      const code = (error as { code?: string }).code === 'CONFIG_UNKNOWN_SINK_TYPE' ? 'CONFIG_UNKNOWN_SINK_TYPE' : 'CONFIG_PLUGIN_LOAD';
      const at = common.module !== undefined ? 'module' : 'type';
      // The resolver's message may end in its own [CODE]: keep it when it says more than ours
      // (PLUGIN_IMPORT_FAILED, PLUGIN_NOT_FOUND… under CONFIG_PLUGIN_LOAD), drop it when it repeats ours.
      const message = (error as Error).message.replace(new RegExp(`\\s*\\[${code}\\]\\s*$`), '');
      report(code, message, nodeAt(doc, ['sinks', name, at]), `sinks.${name}.${at}`);
      continue;
    }
    const validatePlugin = pluginValidator(plugin.configSchema);
    if (!validatePlugin(own)) reportAjvErrors(doc, validatePlugin.errors ?? [], ['sinks', name], report);
    else await step(() => reportPluginProblems(plugin, own, ['sinks', name], doc, report));
    sinks[name] = { ...(common as unknown as Omit<SinkConfig, 'name' | 'options'>), name, options: own };
    plugins.set(name, plugin);
  }

  await step(() => validated.routes.forEach((route, index) => {
    route.to.forEach((target, j) => {
      // A sink that failed to load was reported already; only names never defined are reported here.
      if (!(target in sinks) && !(target in sinkBlocks)) {
        const defined = Object.keys(sinkBlocks);
        report('CONFIG_UNKNOWN_SINK', `route "${route.name}" sends to "${target}", which is not defined under sinks: (defined: ${defined.length ? defined.join(', ') : 'none'})`, nodeAt(doc, ['routes', index, 'to', j]), `routes[${index}].to[${j}]`);
      }
    });
  }));

  await step(() => {
    for (const app of unsignedApps(validated)) {
      if (unsetKeys.has('listen.host') || unsetKeys.has(`apps[${app.index}].token`)) continue;
      if (app.refused) report('CONFIG_UNSIGNED_PUBLIC', app.message, nodeAt(doc, ['apps', app.index]), `apps[${app.index}].token`);
    }
  });
  stopIfFailed();

  const config: BridgeConfig = { ...validated, sinks, file, dir, generation: options.generation ?? 1 };
  return { config, plugins };
}

/**
 * A sink's `transforms:` are compiled here once to report mistakes at their file:line (the runner
 * compiles them again from the same config); a plugin step's module is loaded and its `options:`
 * checked against the plugin's configSchema.
 */
async function checkTransforms(
  sink: string,
  steps: TransformStepConfig[] | undefined,
  dir: string,
  doc: Document,
  resolve: TransformPluginResolver,
  fail: (code: ConfigErrorCode, reason: string, node: Node | null | undefined, key?: string) => never,
): Promise<void> {
  if (!steps) return;
  for (let index = 0; index < steps.length; index++) {
    const step = steps[index]!;
    const base: Array<string | number> = ['sinks', sink, 'transforms', index];
    try {
      compileStep(step, index);
    } catch (error) {
      if (!(error instanceof TransformConfigError)) throw error;
      const at = [...base, ...error.at];
      fail('CONFIG_INVALID_VALUE', error.message, nodeAt(doc, at), dotted(at));
    }
    if (step.plugin === undefined) continue;
    let plugin: TransformPlugin;
    try {
      plugin = await resolve(step.plugin, dir);
    } catch (error) {
      fail('CONFIG_PLUGIN_LOAD', (error as Error).message, nodeAt(doc, [...base, 'plugin']), dotted([...base, 'plugin']));
      throw error; // unreachable: fail() throws
    }
    const validate = pluginValidator(plugin.configSchema);
    step.options ??= {};
    if (!validate(step.options)) reportAjvError(doc, validate.errors ?? [], [...base, 'options'], fail);
  }
}

/**
 * The plugin's own cross-field rules (SinkPlugin.validate), after its schema passed: each problem is
 * reported at the node of its key, so `check` names file:line the way it does for schema errors.
 * validate is pure, but it is plugin code: an exception is reported as a problem of the block.
 */
function reportPluginProblems(plugin: SinkPlugin, config: Record<string, unknown>, base: Array<string | number>, doc: Document, report: Reporter): void {
  if (typeof plugin.validate !== 'function') return;
  let problems: ReturnType<NonNullable<SinkPlugin['validate']>>;
  try {
    problems = plugin.validate(config);
  } catch (error) {
    report('CONFIG_PLUGIN_INVALID', `the ${plugin.type} plugin's validate() threw: ${(error as Error)?.message ?? String(error)}`, nodeAt(doc, base), dotted(base));
    return;
  }
  for (const problem of problems ?? []) {
    const at = [...base, ...(problem.path ? problem.path.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : [])];
    report('CONFIG_PLUGIN_INVALID', problem.message, nodeAt(doc, at), dotted(at));
  }
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

/** Reports a config error: throws at start and reload, collects in `im-bridge check`. */
type Reporter = (code: ConfigErrorCode, reason: string, node: Node | null | undefined, key?: string) => void;

function interpolate(doc: Document, env: NodeJS.ProcessEnv, unset: (name: string, node: Node, key: string) => string): void {
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
  reportAjvErrors(doc, errors, base, fail); // fail throws at the first (most actionable) error
  return fail('CONFIG_INVALID_VALUE', 'invalid configuration', doc.contents);
}

/** Most actionable first: unknown key, then missing key, then a value outside a list, then the rest. */
const KEYWORD_RANK: Record<string, number> = { additionalProperties: 0, required: 1, anyOf: 2 };

/**
 * Every distinct schema error, most actionable first (at start the first one is thrown, so it is the
 * one reported before `check` listed them all). The errors of the branches of a union (anyOf) are
 * noise next to the union's own "must be one of: …" and are left out.
 */
function reportAjvErrors(doc: Document, errors: ErrorObject[], base: Array<string | number>, report: Reporter): void {
  const unions = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath);
  const underUnion = (e: ErrorObject) => e.keyword !== 'anyOf' && unions.some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
  const seen = new Set<string>();
  const picked = errors
    .filter((e) => !underUnion(e))
    .filter((e) => {
      const id = `${e.keyword} ${e.instancePath} ${JSON.stringify(e.params)}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    })
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (KEYWORD_RANK[a.e.keyword] ?? 3) - (KEYWORD_RANK[b.e.keyword] ?? 3) || a.i - b.i)
    .map(({ e }) => e);
  if (picked.length === 0) return report('CONFIG_INVALID_VALUE', 'invalid configuration', doc.contents);
  for (const pick of picked) {
    const segments = toSegments(pick.instancePath, doc, base);
    if (pick.keyword === 'additionalProperties') {
      const key = String((pick.params as { additionalProperty: string }).additionalProperty);
      const where = dotted([...segments, key]);
      const allowed = Object.keys((pick.parentSchema as { properties?: object })?.properties ?? {});
      const hint = allowed.length ? ` (allowed: ${allowed.join(', ')})` : '';
      report('CONFIG_UNKNOWN_KEY', `unknown key "${key}"${hint}`, keyNode(doc, segments, key), where);
      continue;
    }
    if (pick.keyword === 'required') {
      const key = String((pick.params as { missingProperty: string }).missingProperty);
      report('CONFIG_MISSING_KEY', `missing required key "${key}"`, nodeAt(doc, segments), dotted([...segments, key]));
      continue;
    }
    let reason = pick.message ?? 'invalid value';
    if (pick.keyword === 'anyOf') {
      const options = ((pick.schema as Array<{ const?: unknown; type?: string; pattern?: string }>) ?? []).map((s) =>
        s.const !== undefined ? JSON.stringify(s.const) : s.type ? `${s.type}${s.pattern ? ` matching ${s.pattern}` : ''}` : '?',
      );
      reason = options.length ? `must be one of: ${options.join(', ')}` : 'is not any of the allowed forms';
    } else if (pick.keyword === 'enum') {
      reason = `must be one of: ${((pick.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (pick.keyword === 'const') {
      reason = `must be ${JSON.stringify((pick.params as { allowedValue?: unknown }).allowedValue)}`;
    }
    report('CONFIG_INVALID_VALUE', reason, nodeAt(doc, segments), dotted(segments) || '(top level)');
  }
}
