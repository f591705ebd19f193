// The daemon's bridge.yaml as text, from an object: shared by the tests (test/helpers/daemon.ts
// re-exports it) and the bench (bench/lib/daemon.js). Plain JavaScript so both can import it; the
// types are in bridge-yaml.d.ts.
//
//   daemonYaml({ sinks: { out: { type: 'file', path: '${DIR}/events.ndjson' } } })
//
// Defaults: listen on 127.0.0.1:${PORT}/im/callback, one app (sdk_app_id 1400000000, unsigned),
// queue in ${DIR}/queue, one route sending every command to every sink. `listen` and `queue` are
// merged into their defaults; `apps`, `routes` and anything else replace them. ${PORT} and ${DIR}
// stay as placeholders unless `listen.port` / `queue.dir` are given (startDaemon fills them in).
// Sinks are written as blocks, one key a line; deeper values and the other sections in flow style.

const RESERVED = /^(?:true|false|yes|no|on|off|y|n|null|~)$/i;
// Plain-safe in flow context, with ${NAME} placeholders left readable (and unquoted, so that
// `port: ${PORT}` becomes a number once filled in).
const PLAIN = /^(?:[A-Za-z0-9_./:@-]|\$\{[A-Z_]+\})+$/;

function scalar(v) {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') throw new TypeError(`daemonYaml: unsupported value ${String(v)}`);
  if (v === '' || RESERVED.test(v) || /^[-+.]?\d/.test(v) || !PLAIN.test(v) || /^[-:]/.test(v)) return JSON.stringify(v);
  return v;
}

export function flow(v) {
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    return entries.length ? `{ ${entries.map(([k, x]) => `${k}: ${flow(x)}`).join(', ')} }` : '{}';
  }
  return scalar(v);
}

function section(key, value) {
  if (key === 'sinks') {
    const lines = ['sinks:'];
    for (const [name, sink] of Object.entries(value)) {
      lines.push(`  ${name}:`);
      for (const [k, x] of Object.entries(sink)) if (x !== undefined) lines.push(`    ${k}: ${flow(x)}`);
    }
    return lines.join('\n');
  }
  if (Array.isArray(value)) return [`${key}:`, ...value.map((item) => `  - ${flow(item)}`)].join('\n');
  return `${key}: ${flow(value)}`;
}

/**
 * @param {import('./bridge-yaml.js').DaemonYamlOptions} options
 * @returns {string}
 */
export function daemonYaml({ comment, listen, apps, queue, sinks, routes, ...rest }) {
  if (!sinks || !Object.keys(sinks).length) throw new TypeError('daemonYaml: at least one sink');
  const doc = {
    listen: { host: '127.0.0.1', port: '${PORT}', path: '/im/callback', ...listen },
    apps: apps ?? [{ sdk_app_id: 1400000000 }],
    queue: { dir: '${DIR}/queue', ...queue },
    ...(rest.log ? { log: rest.log } : {}),
    sinks,
    routes: routes ?? [{ name: 'all', match: { command: '*' }, to: Object.keys(sinks) }],
    ...rest,
  };
  const head = comment ? comment.split('\n').map((l) => `# ${l}`) : [];
  return [...head, ...Object.entries(doc).filter(([, v]) => v !== undefined).map(([k, v]) => section(k, v))].join('\n') + '\n';
}
