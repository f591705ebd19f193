/**
 * The part of bridge.yaml the queue commands need (dlq *, queue *): the `queue:` section, the
 * `log:` section and the sink names. Only `${VAR}`s inside `queue:` and `log:` are expanded, so an
 * operator listing dead letters needs no callback token or sink password in the environment
 * (edge-findings 22). Everything else is left unread; `im-bridge check` validates the whole file.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import { isMap, isPair, isScalar, LineCounter, parse as parseYamlScalar, parseDocument, visit, type Node } from 'yaml';
import { Type } from '@sinclair/typebox';
import { ConfigError } from '../config/errors.js';
import { DEFAULT_CONFIG_TEXT, EMBEDDED_DEFAULT_NAME } from '../config/default.js';
import { LogSchema, QueueSchema, type QueueConfig } from '../config/schema.js';
import type { LogFormat } from '../telemetry/logger.js';

export interface QueueSideConfig {
  file: string;
  dir: string;
  queue: QueueConfig;
  log: { level: string; format: LogFormat };
  /** Sink names defined under `sinks:` (their blocks are not read). */
  sinks: string[];
}

const SECTIONS = new Set(['queue', 'log']);
const ajv = new Ajv({ allErrors: false, useDefaults: true, strict: false, coerceTypes: false });
const validate = ajv.compile(Type.Object({ queue: QueueSchema, log: LogSchema }));
const ENV_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_ENV_PATTERN = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

export async function loadQueueSide(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<QueueSideConfig> {
  let text = DEFAULT_CONFIG_TEXT;
  let name = EMBEDDED_DEFAULT_NAME;
  let dir = process.cwd();
  if (file !== undefined) {
    name = path.resolve(file);
    dir = path.dirname(name);
    try {
      text = await readFile(name, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read: ${(error as Error).message}`;
      throw new ConfigError('CONFIG_FILE_NOT_FOUND', reason, { file: name });
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined) => {
    const offset = node?.range?.[0];
    if (offset === undefined) return {};
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = lineCounter.linePos(first.pos[0]);
    throw new ConfigError('CONFIG_YAML_SYNTAX', first.message.split('\n')[0]!, { file: name, line: pos.line, column: pos.col });
  }
  if (!isMap(doc.contents)) throw new ConfigError('CONFIG_INVALID_VALUE', 'the top level must be a mapping', { file: name });
  for (const pair of doc.contents.items) {
    if (!isPair(pair) || !isScalar(pair.key) || !SECTIONS.has(String(pair.key.value)) || !pair.value) continue;
    const section = String(pair.key.value);
    visit(pair.value as Node, {
      Scalar(_key, node) {
        if (typeof node.value !== 'string' || !node.value.includes('${')) return;
        const source = node.value;
        const expanded = source.replace(ENV_PATTERN, (_m, variable: string, fallback: string | undefined) => {
          const value = env[variable];
          if (value !== undefined && value !== '') return value;
          if (fallback !== undefined) return fallback;
          if (value === '') return '';
          throw new ConfigError('CONFIG_ENV_UNSET', `environment variable ${variable} is not set (use \${${variable}:-default} for a default)`, { file: name, key: section, ...at(node) });
        });
        node.value = node.type === 'PLAIN' && WHOLE_ENV_PATTERN.test(source) && expanded !== '' ? parseYamlScalar(expanded) : expanded;
      },
    });
  }
  const raw = doc.toJS() as Record<string, unknown>;
  const picked: Record<string, unknown> = { queue: raw.queue ?? {}, log: raw.log ?? {} };
  if (!validate(picked)) {
    const error = validate.errors![0]!;
    const key = error.instancePath.slice(1).replace(/\//g, '.') || 'queue';
    const node = doc.getIn(key.split('.'), true) as Node | undefined;
    throw new ConfigError('CONFIG_INVALID_VALUE', `${error.message ?? 'invalid value'} (run \`im-bridge check\` for the whole file)`, { file: name, key, ...at(node) });
  }
  const sinks = raw.sinks && typeof raw.sinks === 'object' && !Array.isArray(raw.sinks) ? Object.keys(raw.sinks) : [];
  return { file: name, dir, queue: picked.queue as QueueConfig, log: picked.log as QueueSideConfig['log'], sinks };
}
