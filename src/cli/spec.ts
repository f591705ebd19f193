/**
 * The CLI's commands, their options and help, in one table: `im-bridge help`, `<command> --help`
 * and the argument parser all read it, so the help cannot drift from what is accepted.
 * Exit codes (one rule for every command): 0 ok, 1 runtime failure (no daemon, no such dead letter,
 * a sink refused), 2 usage or configuration error (unknown option, bad value, invalid bridge.yaml).
 */
import { parseArgs } from 'node:util';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;
/** `im-bridge reload` waits this long for the daemon's answer unless --timeout-ms says otherwise. */
export const DEFAULT_RELOAD_TIMEOUT_MS = 30_000;

/** A wrong command line: printed with a pointer to the command's help, exit 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(message: string, public command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A runtime failure with a message meant for the operator, exit 1 (or the code given). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = EXIT_RUNTIME) {
    super(message);
    this.name = 'CliError';
  }
}

interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** VALUE placeholder in help. */
  value?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  args?: string;
  summary: string;
  details?: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments accepted after the command words. */
  positionals?: number;
}

const CONFIG: OptionSpec = { type: 'string', short: 'c', value: 'FILE', help: 'configuration file (default: ./bridge.yaml, or the embedded default when there is none)' };
const JSON_OUT: OptionSpec = { type: 'boolean', help: 'print JSON instead of a table (stable field names, for scripts)' };
const TIME_HELP = 'an ISO time (2026-01-01T00:00:00Z) or a duration back from now (90s, 30m, 2h, 7d)';

export const COMMANDS: CommandSpec[] = [
  {
    name: 'run',
    summary: 'run the daemon in the foreground',
    details: 'Logs are readable text on a terminal and JSON lines otherwise (log.format: auto|json|pretty).\nSIGTERM/SIGINT drain and stop (a second one stops at once), SIGHUP reloads the configuration.',
    options: { config: CONFIG },
  },
  {
    name: 'check',
    summary: 'validate the configuration, print every error and warning, and exit',
    details: 'Exit 0 when the file is valid (warnings do not fail it), 2 when it has errors.',
    options: { config: CONFIG },
  },
  {
    name: 'send-sample',
    summary: 'post the 12 sample callbacks (signed when the first app has a token) to a running daemon',
    options: {
      config: CONFIG,
      url: { type: 'string', value: 'URL', help: 'callback URL (default: built from listen.host, listen.port and listen.path)' },
      count: { type: 'string', value: 'N', help: 'rounds of the 12 samples to send (default 1)' },
    },
  },
  {
    name: 'dlq list',
    summary: 'list dead letters, oldest first',
    details: 'Columns (tab-separated): id, failed at, kind, sink, event id, attempts, code: error.\nA header is printed when stdout is a terminal; errors are cut to 200 characters (dlq show has them whole).',
    options: {
      config: CONFIG,
      sink: { type: 'string', value: 'NAME', help: 'only this sink' },
      kind: { type: 'string', value: 'KIND', help: 'only this kind: event (a sink gave up), unmatched (no route), request (quarantined request)' },
      since: { type: 'string', value: 'T', help: `only those that failed at or after T, ${TIME_HELP}` },
      limit: { type: 'string', value: 'N', help: 'at most N rows (default 1000); a note on stderr says when more were left out' },
      json: JSON_OUT,
    },
  },
  {
    name: 'dlq show',
    args: 'ID',
    summary: 'print one dead letter with its body, as JSON',
    options: { config: CONFIG, json: { type: 'boolean', help: 'accepted for symmetry: the output is always JSON' } },
    positionals: 1,
  },
  {
    name: 'dlq replay',
    summary: 'put dead-lettered events back in the queue (same event ids); safe while the daemon runs',
    details: 'Quarantined requests (kind request) are never replayed. Unmatched events need --to-sink.',
    options: {
      config: CONFIG,
      sink: { type: 'string', value: 'NAME', help: 'only dead letters of this sink' },
      since: { type: 'string', value: 'T', help: `only those that failed at or after T, ${TIME_HELP}` },
      id: { type: 'string', multiple: true, value: 'ID', help: 'only this dead letter (repeatable)' },
      'to-sink': { type: 'string', value: 'NAME', help: 'queue them for this configured sink instead of their own' },
    },
  },
  {
    name: 'dlq purge',
    summary: 'delete dead letters for good',
    details: 'Needs a filter (--sink, --before, --id) or --all: a bare `dlq purge` deletes nothing.',
    options: {
      config: CONFIG,
      sink: { type: 'string', value: 'NAME', help: 'only dead letters of this sink' },
      before: { type: 'string', value: 'T', help: `only those that failed before T, ${TIME_HELP}` },
      id: { type: 'string', multiple: true, value: 'ID', help: 'only this dead letter (repeatable)' },
      all: { type: 'boolean', help: 'every dead letter and quarantined request' },
    },
  },
  {
    name: 'queue stats',
    summary: 'stored events and bytes, dead letters, and depth, bytes and oldest age of every sink',
    details: 'Every configured sink is listed (depth 0 too), and so are sinks that still hold events but are no longer configured.',
    options: { config: CONFIG, json: JSON_OUT },
  },
  {
    name: 'queue move',
    summary: 'move the events queued for a sink (e.g. one removed from the config) to another sink or to the dead-letter store',
    options: {
      config: CONFIG,
      from: { type: 'string', value: 'NAME', help: 'the sink whose queued events move (required)' },
      'to-sink': { type: 'string', value: 'NAME', help: 'a configured sink to queue them for' },
      'to-dlq': { type: 'boolean', help: 'dead-letter them instead (code SINK_REMOVED)' },
    },
  },
  {
    name: 'gaps list',
    summary: 'group messages whose callback never arrived: the MsgSeq ranges missing per group and topic (gaps.db)',
    details: 'Read-only, safe while the daemon runs; its state is written every gaps.flush_interval_ms. See README "When callbacks are lost".',
    options: {
      config: CONFIG,
      group: { type: 'string', value: 'GROUP', help: 'only this GroupId' },
      since: { type: 'string', value: 'TIME', help: `only ranges opened since then: ${TIME_HELP}` },
      pending: { type: 'boolean', help: 'also ranges still within gaps.grace_ms (their callbacks may yet arrive)' },
      json: JSON_OUT,
    },
  },
  {
    name: 'gaps backfill',
    summary: 'fetch the messages of open gaps from Tencent\'s history API (apps[].backfill) and queue them as their callbacks\' events',
    details: 'Runs while the daemon is stopped (it needs the queue; a running daemon backfills reported gaps by itself). Ranges still within gaps.grace_ms are fetched too. Exit 1 when a range stays open.',
    options: {
      config: CONFIG,
      group: { type: 'string', value: 'GROUP', help: 'only this GroupId' },
      since: { type: 'string', value: 'TIME', help: `only ranges opened since then: ${TIME_HELP}` },
      json: JSON_OUT,
    },
  },
  {
    name: 'gaps backfill-c2c',
    summary: 'fetch one C2C conversation\'s messages in a time window from Tencent\'s roaming history (apps[].backfill) and queue them as their callbacks\' events',
    details:
      'C2C messages have no seq, so lost one-to-one callbacks are never detected: name the conversation and the window of an outage. Each message gets its callback\'s id (MsgId, else MsgKey), so sinks drop those whose callback arrived. Runs while the daemon is stopped (it needs the queue); the events are delivered at the next start. Only what Tencent still stores (roaming retention, 7 days by default) is found.',
    options: {
      config: CONFIG,
      app: { type: 'string', value: 'SDKAPPID', help: 'the app (with apps[].backfill) the conversation belongs to (required)' },
      account: { type: 'string', value: 'USER', help: 'one side of the conversation, whose history is read (Operator_Account; required)' },
      peer: { type: 'string', value: 'USER', help: 'the other side (Peer_Account; required)' },
      since: { type: 'string', value: 'TIME', help: `start of the window (required): ${TIME_HELP}` },
      until: { type: 'string', value: 'TIME', help: `end of the window (default: now): ${TIME_HELP}` },
      json: JSON_OUT,
    },
  },
  {
    name: 'reload',
    summary: 'ask the running daemon of this queue directory to reload its configuration (SIGHUP) and wait for the outcome',
    details: 'Only a live im-bridge holding the queue lock is signalled. The daemon judges the new file in its own environment and answers through im-bridge.reload.json in queue.dir.\nExit 0 "configuration generation N in force"; exit 2 the daemon rejected the file (its reason, with file:line) and keeps the generation in force; exit 1 no daemon, or no answer in time.',
    options: {
      config: CONFIG,
      'timeout-ms': { type: 'string', value: 'N', help: `how long to wait for the daemon's answer (default ${DEFAULT_RELOAD_TIMEOUT_MS})` },
    },
  },
  { name: 'version', summary: 'print the version', options: {} },
  { name: 'help', args: '[COMMAND]', summary: 'print this help, or one command\'s', options: {}, positionals: 2 },
];

const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

export function findCommand(words: string[]): { spec: CommandSpec; rest: string[] } | { group: string } | undefined {
  const [first, second] = words;
  if (first === undefined) return undefined;
  if (GROUPS.has(first)) {
    const spec = second !== undefined ? COMMANDS.find((c) => c.name === `${first} ${second}`) : undefined;
    return spec ? { spec, rest: words.slice(2) } : { group: first };
  }
  const spec = COMMANDS.find((c) => c.name === first);
  return spec ? { spec, rest: words.slice(1) } : undefined;
}

export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => `${c.name}${c.args ? ` ${c.args}` : ''}`.length));
  const lines = COMMANDS.map((c) => `  ${`${c.name}${c.args ? ` ${c.args}` : ''}`.padEnd(width)}  ${c.summary}`);
  return `im-bridge — Tencent Cloud IM callbacks in, durably queued, routed to your sinks

Usage: im-bridge COMMAND [OPTIONS]

Commands:
${lines.join('\n')}

Options for every command:
  -c, --config FILE  configuration file (default: ./bridge.yaml, or the embedded default)
  -h, --help         help for the command (options and defaults)
  -V, --version      print the version

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
Run \`im-bridge COMMAND --help\` for a command's options.`;
}

export function commandHelp(spec: CommandSpec): string {
  const entries = Object.entries(spec.options).map(([name, o]) => [`${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}${o.multiple ? ' ...' : ''}`, o.help] as const);
  entries.push(['-h, --help', 'this help']);
  const width = Math.max(...entries.map(([l]) => l.length));
  const usageOptions = Object.keys(spec.options).length ? ' [OPTIONS]' : '';
  return [
    `Usage: im-bridge ${spec.name}${spec.args ? ` ${spec.args}` : ''}${usageOptions}`,
    '',
    `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`,
    ...(spec.details ? ['', spec.details] : []),
    '',
    'Options:',
    ...entries.map(([l, h]) => `  ${l.padEnd(width)}  ${h}`),
  ].join('\n');
}

export interface Parsed {
  spec: CommandSpec;
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  help: boolean;
}

/** Parses the words after the command with that command's options only (strict: an unknown option is exit 2). */
export function parseCommand(spec: CommandSpec, args: string[]): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs' own text ("To specify a positional argument starting with a '-' ...") is not for operators.
    const text = (error as Error).message;
    const option = /'([^']+)'/.exec(text)?.[1];
    const code = (error as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${option ?? ''} for \`${spec.name}\``, spec.name);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`option ${option?.split(' ')[0] ?? ''} ${/argument missing|ambiguous/.test(text) ? 'needs a value' : 'takes no value'}`, spec.name);
    throw new UsageError(text.split('.')[0]!, spec.name);
  }
  const values = parsed.values as Parsed['values'];
  const help = values.help === true;
  if (!help && parsed.positionals.length > (spec.positionals ?? 0)) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[spec.positionals ?? 0])} for \`${spec.name}\``, spec.name);
  }
  return { spec, values, positionals: parsed.positionals, help };
}

/** A whole number ≥ min, written as digits only ("1.5", "1e3", "0x10", "-5" and "" are refused). */
export function intArg(option: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,15}$/.test(value) || Number(value) < min) throw new UsageError(`${option} must be a whole number ≥ ${min}, not ${JSON.stringify(value)}`);
  return Number(value);
}

export function idArg(option: string, value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new UsageError(`${option}: a dead-letter id is a whole number ≥ 1 (see \`im-bridge dlq list\`), not ${JSON.stringify(value)}`);
  return Number(value);
}

export function oneOf<T extends string>(option: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${option} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  return value as T;
}

const UNIT_MS = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 } as const;

/** `--since`/`--before`: a duration back from now, or an ISO-8601 date/time. Anything else is exit 2. */
export function timeArg(option: string, value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const duration = /^(\d{1,9})(s|m|h|d)$/.exec(value);
  if (duration) return nowMs - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS];
  const ms = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`${option}: cannot read time ${JSON.stringify(value)}; give ${TIME_HELP}`);
  return ms;
}
