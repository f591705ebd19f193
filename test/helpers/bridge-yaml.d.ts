/** Types of bridge-yaml.js (plain JavaScript, shared with bench/). */
export type YamlValue = string | number | boolean | null | undefined | YamlValue[] | { [key: string]: YamlValue };

export interface DaemonYamlOptions {
  /** A `# …` header (one comment line per line of text). */
  comment?: string;
  /** Merged into { host: 127.0.0.1, port: ${PORT}, path: /im/callback }. */
  listen?: Record<string, YamlValue>;
  /** Default [{ sdk_app_id: 1400000000 }] (no token: unsigned callbacks). */
  apps?: Array<Record<string, YamlValue>>;
  /** Merged into { dir: ${DIR}/queue }. */
  queue?: Record<string, YamlValue>;
  /** Sink name → its keys (type, …). */
  sinks: Record<string, Record<string, YamlValue>>;
  /** Default: one route `all` sending every command to every sink. */
  routes?: Array<Record<string, YamlValue>>;
  /** Any other top-level section (log, metrics, transforms, …). */
  [section: string]: YamlValue | Record<string, YamlValue> | undefined;
}

export function daemonYaml(options: DaemonYamlOptions): string;
export function flow(value: YamlValue): string;
