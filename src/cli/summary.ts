/**
 * What a new operator needs to see once the daemon listens (edge-findings 23): the callback URL,
 * each app with signature checking on or off, each sink with where it writes, the queue and the
 * next command to try. One BRIDGE_SUMMARY record: JSON keeps the fields, the terminal format
 * renders `summary` as an aligned block (src/telemetry/pretty.ts).
 */
import path from 'node:path';
import type { BridgeConfig, SinkConfig } from '../config/schema.js';

/** A URL without userinfo and query: those may carry credentials. */
function safeUrl(value: unknown): string {
  try {
    const url = new URL(String(value));
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return String(value).replace(/\/\/[^/@]*@/, '//').replace(/\?.*$/, '');
  }
}

function list(value: unknown): string {
  return (Array.isArray(value) ? value : [value]).map(safeUrl).join(', ');
}

/** Where a sink delivers, in words, from the option names the bundled plugins use. */
export function sinkTarget(sink: SinkConfig, configDir: string): string {
  const o = sink.options;
  switch (sink.type) {
    case 'file':
      return `file ${path.resolve(configDir, String(o.path))}`;
    case 'stdout':
      return 'the daemon\'s stdout';
    case 'webhook':
      return `POST ${safeUrl(o.url)}`;
    case 'nats':
      return `NATS ${list(o.servers)}${o.stream ? `, stream ${String(o.stream)}` : ''}`;
    case 'kafka':
      return `Kafka ${Array.isArray(o.brokers) ? o.brokers.join(', ') : String(o.brokers)}, topic ${String(o.topic ?? '(default)')}`;
    case 'elasticsearch':
      return `Elasticsearch ${list(o.nodes ?? o.node)}${o.index ? `, index ${String(o.index)}` : ''}`;
    default:
      return sink.module ? `plugin ${sink.module}` : `plugin type ${sink.type}`;
  }
}

export interface StartSummary {
  code: 'BRIDGE_SUMMARY';
  url: string;
  apps: Array<{ sdkAppId: string; signatureCheck: boolean }>;
  sinks: Array<{ name: string; type: string; target: string; routed: boolean }>;
  queue: string;
  next: string;
  summary: string[];
}

/** `cli`: how this operator runs the CLI (`node dist/src/cli.js` in a clone, `im-bridge` when installed). */
export function startSummary(config: BridgeConfig, port: number, cli: string): StartSummary {
  const scheme = config.listen.tls ? 'https' : 'http';
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `${scheme}://${host}:${port}${config.listen.path}`;
  const routed = new Set(config.routes.flatMap((r) => r.to));
  const apps = config.apps.map((a) => ({ sdkAppId: String(a.sdk_app_id), signatureCheck: Boolean(a.token) }));
  const sinks = Object.values(config.sinks).map((s) => ({ name: s.name, type: s.type, target: sinkTarget(s, config.dir), routed: routed.has(s.name) }));
  const queue = config.queue.type === 'kafka' ? `kafka topic ${config.queue.kafka?.topic ?? ''}` : path.resolve(config.dir, config.queue.dir);
  // No --config when the CLI would find the same file by itself (./bridge.yaml, or the embedded default).
  const implicit = config.file.startsWith('<') || config.file === path.resolve('bridge.yaml');
  const configArg = implicit ? '' : ` --config ${path.relative(process.cwd(), config.file) || config.file}`;
  const next = `${cli} send-sample${configArg}   (in another terminal: posts 12 sample callbacks)`;
  const summary = [
    // A run outside the clone uses the embedded default and writes ./data where it was started: say so.
    `config     ${config.file.startsWith('<') ? `${config.file} (no ./bridge.yaml in ${process.cwd()})` : config.file}`,
    `listening  ${url}`,
    ...apps.map((a) => `app        ${a.sdkAppId}: signature checking ${a.signatureCheck ? 'on' : 'OFF (no token: any request naming this SdkAppid is accepted)'}`),
    ...sinks.map((s) => `sink       ${s.name} (${s.type}) → ${s.target}${s.routed ? '' : '  (no route sends to it)'}`),
    ...(config.routes.length === 0 ? ['routes     none: every event is unmatched'] : []),
    `queue      ${queue}`,
    `try        ${next}`,
  ];
  return { code: 'BRIDGE_SUMMARY', url, apps, sinks, queue, next, summary };
}
