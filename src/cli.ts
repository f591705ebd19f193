#!/usr/bin/env node
/**
 * im-bridge command line. The commands, their options and help live in src/cli/spec.ts; this file
 * runs them. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error (one rule, spec.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import { Bridge } from './bridge.js';
import { ConfigError } from './config/errors.js';
import { loadConfigFile } from './config/load.js';
import type { BridgeConfig } from './config/schema.js';
import { signature } from './ingest/auth.js';
import { SAMPLE_CALLBACKS } from './ingest/samples.js';
import { QueueStore, type DeadLetterRow } from './queue/store.js';
import { resolvePlugin } from './sink/loader.js';
import { createLogger } from './telemetry/logger.js';
import { escapeControl } from './telemetry/pretty.js';
import { bindWarning, configWarnings } from './cli/check.js';
import { loadQueueSide, type QueueSideConfig } from './cli/queue-config.js';
import {
  CliError,
  COMMANDS,
  commandHelp,
  DEFAULT_RELOAD_TIMEOUT_MS,
  EXIT_OK,
  EXIT_RUNTIME,
  EXIT_USAGE,
  findCommand,
  globalHelp,
  idArg,
  intArg,
  oneOf,
  parseCommand,
  timeArg,
  UsageError,
  type Parsed,
} from './cli/spec.js';
import { startSummary } from './cli/summary.js';
import { gapsBackfill, gapsBackfillC2C, gapsList } from './cli/gaps.js';
import { reload } from './cli/reload.js';
import { applyHeapGrowth } from './util/heap.js';

type Values = Parsed['values'];

function version(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

/** How the operator runs this CLI, for the hints we print: `node dist/src/cli.js` in a clone, else `im-bridge`. */
function invocation(): string {
  const script = process.argv[1] ?? '';
  if (path.basename(script) !== 'cli.js') return 'im-bridge';
  const relative = path.relative(process.cwd(), script);
  return `node ${relative && !relative.startsWith('..') ? relative : script}`;
}

function groupHelp(group: string): string {
  const specs = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const names = specs.map((c) => `${c.name}${c.args ? ` ${c.args}` : ''}`);
  const width = Math.max(...names.map((n) => n.length));
  const lines = specs.map((c, i) => `  im-bridge ${names[i]!.padEnd(width)}  ${c.summary}`);
  return `Usage: im-bridge ${group} COMMAND [OPTIONS]\n\n${lines.join('\n')}\n\nRun \`im-bridge ${group} COMMAND --help\` for its options.`;
}

async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    console.error(globalHelp());
    return EXIT_USAGE;
  }
  if (first === '--version' || first === '-V') {
    console.log(version());
    return EXIT_OK;
  }
  if (first === '--help' || first === '-h') {
    console.log(globalHelp());
    return EXIT_OK;
  }
  if (first === 'help') {
    const words = argv.slice(1);
    if (words[0] === '--help' || words[0] === '-h') words.splice(0, 1, 'help');
    if (words.length === 0) {
      console.log(globalHelp());
      return EXIT_OK;
    }
    const target = findCommand(words);
    if (!target || ('spec' in target && target.rest.length > 0)) throw new UsageError(`no such command: ${words.join(' ')}`);
    console.log('group' in target ? groupHelp(target.group) : commandHelp(target.spec));
    return EXIT_OK;
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first}: the command comes first (im-bridge COMMAND [OPTIONS])`);
  const found = findCommand(argv);
  if (!found) throw new UsageError(`unknown command "${first}"`);
  if ('group' in found) {
    const next = argv[1];
    if (next === '--help' || next === '-h') {
      console.log(groupHelp(found.group));
      return EXIT_OK;
    }
    throw new UsageError(next === undefined ? `\`${found.group}\` needs a command\n\n${groupHelp(found.group)}` : `unknown command "${found.group} ${next}"\n\n${groupHelp(found.group)}`);
  }
  const parsed = parseCommand(found.spec, found.rest);
  if (parsed.help) {
    console.log(commandHelp(found.spec));
    return EXIT_OK;
  }
  try {
    return await dispatch(parsed);
  } catch (error) {
    if (error instanceof UsageError) error.command ??= found.spec.name;
    throw error;
  }
}

async function dispatch(parsed: Parsed): Promise<number> {
  const values = parsed.values;
  const configFile = (values.config as string | undefined) ?? Bridge.defaultConfigFile();

  switch (parsed.spec.name) {
    case 'run':
      return run(configFile);
    case 'check':
      return check(configFile);
    case 'send-sample': {
      const count = intArg('--count', values.count as string | undefined, 1);
      const url = values.url as string | undefined;
      if (url !== undefined && !/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url must be an http:// or https:// URL, not ${JSON.stringify(url)}`);
      return sendSample(await load(configFile), url, count);
    }
    case 'dlq list':
      return dlqList(await loadQueueSide(configFile), values);
    case 'dlq show':
      return dlqShow(await loadQueueSide(configFile), parsed.positionals[0]);
    case 'dlq replay':
      return dlqReplay(await loadQueueSide(configFile), values);
    case 'dlq purge':
      return dlqPurge(await loadQueueSide(configFile), values);
    case 'queue stats':
      return queueStats(await loadQueueSide(configFile), values.json === true);
    case 'queue move':
      return queueMove(await loadQueueSide(configFile), values);
    case 'gaps list':
      return gapsList(await loadQueueSide(configFile), values);
    case 'gaps backfill':
      return gapsBackfill(configFile, values);
    case 'gaps backfill-c2c':
      return gapsBackfillC2C(configFile, values);
    case 'reload':
      return reload(configFile, intArg('--timeout-ms', values['timeout-ms'] as string | undefined, DEFAULT_RELOAD_TIMEOUT_MS));
    case 'version':
      console.log(version());
      return EXIT_OK;
    default:
      throw new UsageError(`unknown command "${parsed.spec.name}"`);
  }
}

async function load(file: string | undefined): Promise<BridgeConfig> {
  return (await loadConfigFile(file, { resolvePlugin })).config;
}

/** Every error of the file at once (src/config/load.ts collects them), then the warnings. */
async function check(configFile: string | undefined): Promise<number> {
  const errors: ConfigError[] = [];
  let config: BridgeConfig;
  try {
    config = (await loadConfigFile(configFile, { resolvePlugin, collect: errors })).config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const all = errors.length ? errors : [error];
    for (const e of all) console.error(`error: ${e.message}`);
    console.error(`${all.length} error(s) in ${all[0]!.file}`);
    return EXIT_USAGE;
  }
  const warnings = configWarnings(config);
  const bind = await bindWarning(config);
  if (bind) warnings.push(bind);
  for (const w of warnings) console.log(`warning: ${w.code}: ${w.message}`);
  console.log(`ok: ${config.file}: ${config.apps.length} app(s), ${Object.keys(config.sinks).length} sink(s), ${config.routes.length} route(s)${warnings.length ? `, ${warnings.length} warning(s)` : ''}`);
  return EXIT_OK;
}

/** After a second SIGTERM/SIGINT, the forced stop gets this long to close the queue; then the process exits anyway. */
const FORCED_STOP_MS = 5000;

/**
 * The logger of `run`: level and format from the `log:` section (read on its own so that a broken
 * file elsewhere is still reported by Bridge.start, with every detail, through this logger).
 */
async function runLogger(configFile: string | undefined): Promise<Logger> {
  try {
    const side = await loadQueueSide(configFile);
    return createLogger(side.log.level, undefined, side.log.format);
  } catch {
    return createLogger('info');
  }
}

/**
 * Signals (README "Health, shutdown, reload, TLS"): the first SIGTERM/SIGINT drains, exit 0. A second
 * one during the drain stops at once (BRIDGE_FORCED_STOP), still closing the queue cleanly, exit 0. A
 * third, or a forced stop that takes over FORCED_STOP_MS, exits 1 without closing the queue
 * (BRIDGE_EXIT_UNCLEAN): SQLite's WAL still holds every acknowledged event, and the next start checks
 * the file. SIGHUP reloads.
 */
async function run(configFile: string | undefined): Promise<number> {
  // Before the threads start (src/util/heap.ts): the daemon's heaps stay within 3× what is live.
  const heap = applyHeapGrowth();
  const logger = await runLogger(configFile);
  const bridge = new Bridge({ configFile, logger });
  try {
    await bridge.start();
  } catch (error) {
    // A refused start (QUEUE_LOCKED, a taken port, ...) exits at once: keep the lines logged so far.
    if (bridge.logger) await flushLogs(bridge.logger);
    throw error;
  }
  const summary = startSummary(bridge.config, bridge.port, invocation());
  bridge.logger.info({ ...summary, heap: { growingPercent: heap.percent, source: heap.source } }, `ready: ${summary.url}, ${summary.apps.length} app(s), ${summary.sinks.length} sink(s), queue ${summary.queue}`);
  const code = await new Promise<number>((resolve) => {
    let signals = 0;
    let done = false;
    const finish = (exitCode: number) => {
      done = true;
      resolve(exitCode);
    };
    const failed = (error: Error) => {
      bridge.logger.error({ code: 'BRIDGE_STOP_FAILED', err: error.message }, 'shutdown failed');
      finish(1);
    };
    const unclean = (signal: string, why: string) => {
      bridge.logger.error({ code: 'BRIDGE_EXIT_UNCLEAN', signal, why }, `exiting without closing the queue (${why}); acknowledged events are safe in its WAL, the next start checks the file`);
      finish(1);
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (done) return; // already stopped: only the log flush is left
      signals++;
      if (signals === 1) {
        bridge.stop(signal).then(() => finish(0), failed);
      } else if (signals === 2) {
        setTimeout(() => unclean(signal, `the forced stop did not finish within ${FORCED_STOP_MS} ms`), FORCED_STOP_MS);
        bridge.forceStop(signal).then(() => finish(0), failed);
      } else {
        unclean(signal, `${signal} received ${signals} times`);
      }
    };
    // process.on, not once: a second signal must not fall to Node's default action (exit 143, no log).
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () => void bridge.reload());
  });
  // Clients' keep-alive connections would keep the event loop alive: everything that matters is
  // stopped and on disk now, so flush the log and leave.
  await flushLogs(bridge.logger);
  process.exit(code);
}

/**
 * pino writes stdout asynchronously (sonic-boom, src/telemetry/logger.ts): process.exit drops what is
 * still buffered, and `logger.flush(cb)` does not wait (it calls back at once with minLength 0). pino's
 * own exit hook writes the buffer synchronously but without waiting for the write in flight, which can
 * then be lost or land after later lines. So: wait (bounded) for the write in flight, then write the
 * rest synchronously. The last lines (BRIDGE_STOPPED, BRIDGE_FORCED_STOP, a start refusal) reach stdout.
 * The terminal format's destination (src/telemetry/pretty.ts) exposes the same two members.
 */
async function flushLogs(logger: Logger, waitMs = 2000): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void; _writing?: boolean } | undefined;
  if (typeof stream?.flushSync !== 'function') return;
  const deadline = Date.now() + waitMs;
  while (stream._writing && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  try {
    stream.flushSync();
  } catch {
    /* stdout closed (EPIPE): nothing more can be written */
  }
}

async function sendSample(config: BridgeConfig, url: string | undefined, count: number): Promise<number> {
  const app = config.apps[0]!;
  const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
  const base = url ?? `${config.listen.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}${config.listen.path}`;
  let failures = 0;
  for (let round = 0; round < count; round++) {
    for (const sample of SAMPLE_CALLBACKS) {
      const query = new URLSearchParams({ SdkAppid: String(app.sdk_app_id), CallbackCommand: sample.command, contenttype: 'json', ...(sample.query ?? {}) });
      if (app.token) {
        const requestTime = String(Math.floor(Date.now() / 1000));
        query.set('Sign', signature(app.token, requestTime));
        query.set('RequestTime', requestTime);
      }
      const target = `${base}?${query.toString()}`;
      try {
        const response = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sample.body) });
        const text = await response.text();
        if (response.status !== 200) failures++;
        console.log(`${response.status} ${sample.command} (${sample.name}) ${escapeControl(text)}`);
      } catch (error) {
        throw new CliError(`cannot reach ${base}: ${(error as Error).message} — is the daemon running (npm start)?`);
      }
    }
  }
  if (failures) console.error(`${failures} of ${count * SAMPLE_CALLBACKS.length} callback(s) were not answered 200`);
  return failures === 0 ? EXIT_OK : EXIT_RUNTIME;
}

function openStore(config: QueueSideConfig, readonly = false): QueueStore {
  if (config.queue.type === 'kafka') {
    throw new CliError(`queue.type: kafka keeps dead letters in the Kafka topic ${config.queue.kafka?.dead_letter_topic ?? 'im-bridge.dead-letters'} and has no local queue to inspect (docs/scale-out.md)`);
  }
  const dir = path.resolve(config.dir, config.queue.dir);
  if (!fs.existsSync(path.join(dir, 'queue.db'))) throw new CliError(`no queue at ${dir} (has the daemon run with this config?)`);
  return new QueueStore(dir, { readonly, checkIntegrity: 'never' });
}

function withStore<T>(config: QueueSideConfig, readonly: boolean, use: (store: QueueStore) => T): T {
  const store = openStore(config, readonly);
  try {
    return use(store);
  } finally {
    store.close();
  }
}

const KINDS = ['event', 'unmatched', 'request'] as const;
/** Longest error shown in a `dlq list` row; `dlq show` and `--json` carry it whole. */
const ERROR_COLUMN_CHARS = 200;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A dead letter for scripts: the stored row with its time in ISO too (failedMs stays epoch ms). */
function rowJson(row: DeadLetterRow): Record<string, unknown> {
  const { body: _body, ...rest } = row;
  return { ...rest, failedAt: new Date(row.failedMs).toISOString() };
}

/**
 * JSON.stringify escapes C0 controls but leaves DEL and C1 (0x9b is CSI on many terminals) and the
 * line separators as they are: escape them too, still valid JSON.
 */
function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function dlqList(config: QueueSideConfig, values: Values): number {
  const kind = oneOf('--kind', values.kind as string | undefined, KINDS);
  const limit = intArg('--limit', values.limit as string | undefined, 1000);
  const sinceMs = timeArg('--since', values.since as string | undefined);
  const sink = values.sink as string | undefined;
  const rows = withStore(config, true, (store) => store.listDeadLetters({ sink, kind, sinceMs, limit: limit + 1 }));
  const more = rows.length > limit;
  if (more) rows.length = limit;
  if (values.json === true) {
    console.log(safeJson(rows.map(rowJson), 2));
  } else if (rows.length === 0) {
    const filtered = sink !== undefined || kind !== undefined || sinceMs !== undefined;
    console.log(filtered ? 'no dead letters match' : 'the dead-letter store is empty');
  } else {
    if (process.stdout.isTTY) console.log(['ID', 'FAILED AT', 'KIND', 'SINK', 'EVENT ID', 'ATTEMPTS', 'ERROR'].join('\t'));
    for (const r of rows) {
      const fields = [String(r.dlqId), new Date(r.failedMs).toISOString(), r.kind, r.sink ?? '-', r.eventId ?? '-', `attempts=${r.attempts}`, `${r.errorCode}: ${cut(r.error, ERROR_COLUMN_CHARS)}`];
      // Attacker-chosen bytes reach these columns (quarantined bodies, receivers' answers): escape controls.
      console.log(fields.map(escapeControl).join('\t'));
    }
  }
  if (more) console.error(`more than ${limit} dead letters match: the first ${limit} are shown (raise --limit, or narrow with --sink, --kind, --since)`);
  return EXIT_OK;
}

function dlqShow(config: QueueSideConfig, arg: string | undefined): number {
  if (arg === undefined) throw new UsageError('dlq show needs the id of a dead letter (see `im-bridge dlq list`)', 'dlq show');
  const id = idArg('dlq show', arg);
  const row = withStore(config, true, (store) => store.getDeadLetter(id));
  if (!row) throw new CliError(`no dead letter with id ${id}`);
  let body: unknown = row.body;
  try {
    body = JSON.parse(row.body);
  } catch {
    /* keep text */
  }
  console.log(safeJson({ ...row, failedAt: new Date(row.failedMs).toISOString(), body }, 2));
  return EXIT_OK;
}

function ids(values: Values): number[] {
  return ((values.id as string[] | undefined) ?? []).map((v) => idArg('--id', v));
}

/** A sink name the command would queue events for, or read, that the config does not define: exit 2. */
function refuseSink(option: string, name: string, config: QueueSideConfig, hint = ''): never {
  const known = config.sinks;
  throw new UsageError(`${option} ${JSON.stringify(name)}: no such sink in ${config.file} (sinks: ${known.length ? known.join(', ') : 'none'})${hint}`);
}

/** Ids the operator named that are not in the store: said on stderr; exit 1 when nothing was done. */
function missingIds(store: QueueStore, wanted: number[]): number[] {
  const missing = wanted.filter((id) => !store.getDeadLetter(id));
  for (const id of missing) console.error(`no dead letter with id ${id}`);
  return missing;
}

function dlqReplay(config: QueueSideConfig, values: Values): number {
  const toSink = values['to-sink'] as string | undefined;
  const sink = values.sink as string | undefined;
  const wanted = ids(values);
  const sinceMs = timeArg('--since', values.since as string | undefined);
  if (toSink !== undefined && !config.sinks.includes(toSink)) refuseSink('--to-sink', toSink, config);
  if (sink !== undefined && toSink === undefined && !config.sinks.includes(sink)) {
    refuseSink('--sink', sink, config, ` (to move its dead letters to a configured sink, add --to-sink NAME)`);
  }
  return withStore(config, false, (store) => {
    const missing = missingIds(store, wanted);
    if (wanted.length && missing.length === wanted.length) return EXIT_RUNTIME;
    const result = store.replay({ sink, sinceMs, ids: wanted.length ? wanted : undefined, toSink, knownSinks: config.sinks }, Date.now());
    console.log(`replayed ${result.replayed} event(s) into the queue (same ids); skipped ${result.skipped} (quarantined requests, unmatched events without --to-sink, or events of sinks not configured)`);
    if (result.unknownSinks.length) {
      console.error(`not replayed: dead letters of sink(s) not in ${config.file}: ${result.unknownSinks.join(', ')}; use --sink NAME --to-sink CONFIGURED to move them`);
    }
    return EXIT_OK;
  });
}

function dlqPurge(config: QueueSideConfig, values: Values): number {
  const wanted = ids(values);
  const beforeMs = timeArg('--before', values.before as string | undefined);
  const sink = values.sink as string | undefined;
  const all = values.all === true;
  const filtered = wanted.length > 0 || beforeMs !== undefined || sink !== undefined;
  if (!filtered && !all) throw new UsageError('dlq purge deletes for good: give a filter (--sink, --before, --id) or --all', 'dlq purge');
  if (filtered && all) throw new UsageError('dlq purge: --all cannot be combined with --sink, --before or --id', 'dlq purge');
  return withStore(config, false, (store) => {
    const missing = missingIds(store, wanted);
    if (wanted.length && missing.length === wanted.length) return EXIT_RUNTIME;
    const n = store.purgeDeadLetters({ sink, beforeMs, ids: wanted.length ? wanted.filter((id) => !missing.includes(id)) : undefined });
    console.log(`purged ${n} dead letter(s)`);
    return EXIT_OK;
  });
}

function queueStats(config: QueueSideConfig, json: boolean): number {
  const stats = withStore(config, true, (store) => store.stats());
  const now = Date.now();
  const q = config.queue;
  const bySink = new Map(stats.sinks.map((s) => [s.sink, s]));
  // Every configured sink (depth 0 too), then those that hold events but are no longer configured.
  const names = [...config.sinks, ...stats.sinks.map((s) => s.sink).filter((n) => !config.sinks.includes(n))];
  const sinks = names.map((name) => {
    const s = bySink.get(name);
    return { name, configured: config.sinks.includes(name), depth: s?.depth ?? 0, bytes: s?.bytes ?? 0, oldestMs: s?.oldestMs ?? null, oldestAgeS: s?.oldestMs ? (now - s.oldestMs) / 1000 : null };
  });
  if (json) {
    console.log(safeJson({
      stored: { events: stats.events, bytes: stats.bytes, maxEvents: q.max_events, maxBytes: q.max_bytes },
      deadLetters: { events: stats.deadLetterEvents, bytes: stats.deadLetterBytes, maxEvents: q.dead_letter_max_events, maxBytes: q.dead_letter_max_bytes },
      quarantined: { requests: stats.quarantined, bytes: stats.quarantinedBytes, maxBytes: q.quarantine_max_bytes, maxAgeMs: q.quarantine_max_age_ms },
      sinks,
    }, 2));
    return EXIT_OK;
  }
  console.log(`stored: ${stats.events} event(s), ${stats.bytes} bytes (limits ${q.max_events} events, ${q.max_bytes} bytes)`);
  console.log(`dead letters: ${stats.deadLetterEvents} event(s), ${stats.deadLetterBytes} bytes (budget ${q.dead_letter_max_events} events, ${q.dead_letter_max_bytes} bytes; never evicted)`);
  console.log(`quarantined requests: ${stats.quarantined}, ${stats.quarantinedBytes} bytes (bound ${q.quarantine_max_bytes} bytes, ${Math.round(q.quarantine_max_age_ms / 3_600_000)} h; oldest evicted)`);
  for (const s of sinks) {
    const orphan = s.configured ? '' : `  (not configured: move them with \`im-bridge queue move --from ${s.name} --to-sink NAME\` or --to-dlq)`;
    console.log(`  ${escapeControl(s.name)}: depth ${s.depth}, ${s.bytes} bytes, oldest ${s.oldestAgeS !== null ? `${s.oldestAgeS.toFixed(1)} s ago` : '-'}${orphan}`);
  }
  return EXIT_OK;
}

function queueMove(config: QueueSideConfig, values: Values): number {
  const from = values.from as string | undefined;
  const toSink = values['to-sink'] as string | undefined;
  const toDlq = values['to-dlq'] === true;
  if (!from || (toSink === undefined) === !toDlq) throw new UsageError('queue move needs --from NAME and exactly one of --to-sink NAME or --to-dlq', 'queue move');
  if (toSink !== undefined && !config.sinks.includes(toSink)) refuseSink('--to-sink', toSink, config);
  if (toSink === from) throw new UsageError('queue move: --from and --to-sink name the same sink', 'queue move');
  const result = withStore(config, false, (store) => store.moveQueued(from, toSink !== undefined ? { sink: toSink } : { deadLetter: true }, Date.now()));
  console.log(`moved ${result.moved} event(s), ${result.bytes} bytes, from sink ${from} to ${toSink !== undefined ? `sink ${toSink} (same ids)` : 'the dead-letter store (code SINK_REMOVED)'}`);
  return EXIT_OK;
}

/** Start-up failures a new user hits first, in words instead of `undefined` or a raw errno (edge-findings 16). */
function describe(error: Error & { code?: string }): string {
  if (error.message && error.message !== 'undefined') return error.message;
  return `${error.code ?? error.name ?? 'unexpected error'}${error.stack ? `\n${error.stack}` : ''}`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error & { exitCode?: number; code?: string; command?: string }) => {
    // Exit explicitly: a half-started daemon may hold a queue worker thread that keeps Node alive.
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(EXIT_USAGE);
    }
    if (error instanceof UsageError) {
      console.error(`im-bridge: ${error.message}\nRun \`im-bridge ${error.command ? `${error.command} ` : ''}--help\` for usage.`);
      process.exit(EXIT_USAGE);
    }
    console.error(`im-bridge: ${describe(error)}`);
    process.exit(error.exitCode ?? EXIT_RUNTIME);
  },
);
