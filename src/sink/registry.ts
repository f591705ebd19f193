/** Built-in sink plugins, by type. They use the public API (./api.ts) like any custom plugin. */
import { compiledSibling } from '../util/compiled-sibling.js';
import type { SinkPlugin } from './api.js';

type PluginModule = { default: SinkPlugin };

/** Lazily imported so that a deployment using only the file sink never loads kafkajs & co. */
export const BUILTIN_SINKS: Record<string, () => Promise<PluginModule>> = {
  file: () => import('../../plugins/file/index.js'),
  stdout: () => import('../../plugins/stdout/index.js'),
  kafka: () => import('../../plugins/kafka/index.js'),
  nats: () => import('../../plugins/nats/index.js'),
  elasticsearch: () => import('../../plugins/elasticsearch/index.js'),
  webhook: () => import('../../plugins/webhook/index.js'),
};

/**
 * Where each built-in plugin's module is, for `thread: true` (a worker thread loads the plugin by
 * URL). Source runs (tests through a TypeScript loader) point at the compiled plugins.
 */
export function builtinSinkUrl(type: string): string | undefined {
  if (!(type in BUILTIN_SINKS)) return undefined;
  return compiledSibling(import.meta.url, `../../plugins/${type}/index.js`).href;
}
