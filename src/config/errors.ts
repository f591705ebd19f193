/** Config errors always say where: file, line, column and the key path, plus a stable code. */
export type ConfigErrorCode =
  | 'CONFIG_FILE_NOT_FOUND'
  | 'CONFIG_YAML_SYNTAX'
  | 'CONFIG_ENV_UNSET'
  | 'CONFIG_UNKNOWN_KEY'
  | 'CONFIG_MISSING_KEY'
  | 'CONFIG_INVALID_VALUE'
  | 'CONFIG_UNKNOWN_SINK'
  | 'CONFIG_UNKNOWN_SINK_TYPE'
  | 'CONFIG_DUPLICATE_APP'
  | 'CONFIG_UNSIGNED_PUBLIC'
  | 'CONFIG_PLUGIN_LOAD'
  | 'CONFIG_PLUGIN_INVALID';

export interface ConfigErrorLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted key path, e.g. `sinks.archive.batch.max_events`. */
  key?: string;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly key: string | undefined;
  readonly reason: string;

  constructor(code: ConfigErrorCode, reason: string, where: ConfigErrorLocation, options?: { cause?: unknown }) {
    const pos = where.line !== undefined ? `:${where.line}:${where.column ?? 1}` : '';
    const key = where.key ? ` ${where.key}:` : '';
    super(`${where.file}${pos}:${key} ${reason} [${code}]`, options);
    this.name = 'ConfigError';
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
    this.key = where.key;
    this.reason = reason;
  }
}
