/**
 * Resolves `type:` (built-in) or `type: plugin` + `module:` (custom) to a checked SinkPlugin.
 * A module is a path resolved against bridge.yaml's directory or an npm package name resolved
 * from there; ESM and CommonJS, JavaScript or compiled TypeScript. Every check failure is a
 * PluginLoadError with a code, which config loading turns into file:line of bridge.yaml.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SINK_API_VERSION, type SinkPlugin, type TransformPlugin } from './api.js';
import { BUILTIN_SINKS, builtinSinkUrl } from './registry.js';

export type PluginLoadCode =
  | 'CONFIG_UNKNOWN_SINK_TYPE'
  | 'PLUGIN_MODULE_REQUIRED'
  | 'PLUGIN_NOT_FOUND'
  | 'PLUGIN_IMPORT_FAILED'
  | 'PLUGIN_BAD_EXPORT'
  | 'PLUGIN_API_VERSION'
  | 'PLUGIN_DUPLICATE_TYPE'
  | 'PLUGIN_LOAD_TIMEOUT';

export class PluginLoadError extends Error {
  constructor(
    readonly code: PluginLoadCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${message} [${code}]`, options);
    this.name = 'PluginLoadError';
  }
}

const LOAD_TIMEOUT_MS = 10_000;

/** The module URL each resolved plugin was loaded from (what a sink with `thread: true` loads in its thread). */
const moduleUrls = new WeakMap<SinkPlugin, string>();

export function pluginModuleUrl(plugin: SinkPlugin): string | undefined {
  return moduleUrls.get(plugin);
}

export async function resolvePlugin(type: string, module: string | undefined, configDir: string): Promise<SinkPlugin> {
  if (type !== 'plugin') {
    const load = BUILTIN_SINKS[type];
    if (!load) {
      const known = [...Object.keys(BUILTIN_SINKS), 'plugin'].join(', ');
      throw new PluginLoadError('CONFIG_UNKNOWN_SINK_TYPE', `unknown sink type "${type}" (known: ${known})`);
    }
    if (module !== undefined) throw new PluginLoadError('PLUGIN_BAD_EXPORT', `"module:" is only for type: plugin`);
    const plugin = (await load()).default;
    moduleUrls.set(plugin, builtinSinkUrl(type)!);
    return plugin;
  }
  if (!module) throw new PluginLoadError('PLUGIN_MODULE_REQUIRED', 'type: plugin needs "module:" (a path or an npm package name)');
  const { url, exports } = await importModule(module, configDir, 'plugin');
  const plugin = pickExport(exports);
  checkShape(plugin, module);
  if (plugin.type in BUILTIN_SINKS || plugin.type === 'plugin') {
    throw new PluginLoadError('PLUGIN_DUPLICATE_TYPE', `plugin ${module} declares type "${plugin.type}", which is a built-in sink type`);
  }
  moduleUrls.set(plugin, url);
  return plugin;
}

/**
 * Resolves a transform step's `plugin:` (a path relative to bridge.yaml or an npm package) to a
 * checked TransformPlugin (defineTransform), the same way as sink plugins and with the same codes.
 */
export async function resolveTransformPlugin(module: string, configDir: string): Promise<TransformPlugin> {
  const { exports } = await importModule(module, configDir, 'transform plugin');
  const plugin = pickExport(exports) as unknown as TransformPlugin;
  checkShape(plugin as unknown as SinkPlugin, module, 'defineTransform');
  return plugin;
}

/** Locates and imports a plugin module (sink or transform) with the load timeout and the same codes. */
async function importModule(module: string, configDir: string, what: string): Promise<{ url: string; exports: Record<string, unknown> }> {
  const url = locate(module, configDir);
  try {
    return { url, exports: await timeout(import(url), LOAD_TIMEOUT_MS, module) };
  } catch (error) {
    if (error instanceof PluginLoadError) throw error;
    throw new PluginLoadError('PLUGIN_IMPORT_FAILED', `cannot load ${what} ${module}: ${(error as Error).message}`, { cause: error });
  }
}

function locate(module: string, configDir: string): string {
  const isPath = module.startsWith('.') || path.isAbsolute(module);
  try {
    const resolved = isPath ? createRequire(path.join(configDir, 'noop.js')).resolve(path.resolve(configDir, module)) : createRequire(path.join(configDir, 'noop.js')).resolve(module);
    return pathToFileURL(resolved).href;
  } catch (error) {
    // ESM-only packages without a "require" condition cannot be resolved by require.resolve; a path still can.
    if (isPath) throw new PluginLoadError('PLUGIN_NOT_FOUND', `plugin module not found: ${path.resolve(configDir, module)}`, { cause: error });
    try {
      return import.meta.resolve(module, pathToFileURL(path.join(configDir, 'noop.js')).href);
    } catch {
      throw new PluginLoadError('PLUGIN_NOT_FOUND', `plugin package "${module}" not found from ${configDir}`, { cause: error });
    }
  }
}

/** The plugin object of a loaded module (also used by sink threads, which load the module again). */
export function pickExport(exports: Record<string, unknown>): SinkPlugin {
  // ESM default, CommonJS module.exports (seen as default), or compiled TS `exports.default` under CJS.
  let candidate = (exports.default ?? exports.plugin ?? exports) as Record<string, unknown>;
  if (candidate && typeof candidate === 'object' && 'default' in candidate && !('create' in candidate)) {
    candidate = candidate.default as Record<string, unknown>;
  }
  return candidate as unknown as SinkPlugin;
}

function checkShape(plugin: SinkPlugin, module: string, define = 'defineSink'): void {
  const problems: string[] = [];
  if (!plugin || typeof plugin !== 'object') {
    throw new PluginLoadError('PLUGIN_BAD_EXPORT', `plugin ${module} must export (default) the object returned by ${define}({...})`);
  }
  if (typeof plugin.type !== 'string' || !/^[a-z][a-z0-9_]*$/.test(plugin.type)) problems.push('"type" must be a snake_case string');
  if (typeof plugin.create !== 'function') problems.push('"create" must be a function');
  if (plugin.validate !== undefined && typeof plugin.validate !== 'function') problems.push('"validate", when present, must be a function');
  if (!plugin.configSchema || typeof plugin.configSchema !== 'object') problems.push('"configSchema" must be a TypeBox/JSON schema object');
  if (typeof plugin.apiVersion !== 'string') problems.push('"apiVersion" must be a string');
  if (problems.length) throw new PluginLoadError('PLUGIN_BAD_EXPORT', `plugin ${module}: ${problems.join('; ')}`);
  if (plugin.apiVersion.split('.')[0] !== SINK_API_VERSION) {
    throw new PluginLoadError('PLUGIN_API_VERSION', `plugin ${module} targets sink API ${plugin.apiVersion}; this im-bridge implements ${SINK_API_VERSION}`);
  }
}

function timeout<T>(promise: Promise<T>, ms: number, module: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PluginLoadError('PLUGIN_LOAD_TIMEOUT', `plugin ${module} did not load within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
