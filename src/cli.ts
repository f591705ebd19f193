#!/usr/bin/env node
/**
 * im-bridge command line: run | check | send-sample | dlq | queue | reload | version.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { Bridge } from './bridge.js';
import { unsignedApps } from './config/auth-policy.js';
import { ConfigError } from './config/errors.js';
import { loadConfigFile } from './config/load.js';
import type { BridgeConfig } from './config/schema.js';
import { signature } from './ingest/auth.js';
import { SAMPLE_CALLBACKS } from './ingest/samples.js';
import { QueueStore } from './queue/store.js';
import { resolvePlugin } from './sink/loader.js';

const USAGE = `im-bridge — Tencent Cloud IM callbacks in, durably queued, routed to your sinks

Usage:
  im-bridge run         [--config FILE]   run the daemon in the foreground (JSON logs on stdout)
  im-bridge check       [--config FILE]   validate the configuration and exit
  im-bridge send-sample [--config FILE] [--url URL] [--count N]
                                          post realistic sample callbacks (signed when a token is set)
  im-bridge dlq list    [--config FILE] [--sink NAME] [--kind event|unmatched|request] [--since T] [--limit N]
  im-bridge dlq show ID [--config FILE]
  im-bridge dlq replay  [--config FILE] [--sink NAME] [--since T] [--id ID]... [--to-sink NAME]
  im-bridge dlq purge   [--config FILE] [--sink NAME] [--before T] [--id ID]...
  im-bridge queue stats [--config FILE]   depth, bytes and oldest age per sink (also sinks no longer configured)
  im-bridge queue move  [--config FILE] --from NAME (--to-sink NAME | --to-dlq)
                                          move the events queued for a sink (e.g. one removed from the
                                          config) to another sink, or into the dead-letter store
  im-bridge reload      [--config FILE]   ask the running daemon to reload its configuration (SIGHUP)
  im-bridge version

FILE defaults to ./bridge.yaml, or the embedded default when there is none.
T is an ISO time (2026-01-01T00:00:00Z) or a duration back from now (30m, 2h, 7d).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      url: { type: 'string' },
      count: { type: 'string' },
      sink: { type: 'string' },
      kind: { type: 'string' },
      since: { type: 'string' },
      before: { type: 'string' },
      limit: { type: 'string' },
      id: { type: 'string', multiple: true },
      'to-sink': { type: 'string' },
      from: { type: 'string' },
      'to-dlq': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const configFile = values.config ?? Bridge.defaultConfigFile();

  switch (command) {
    case 'run':
      return run(configFile);
    case 'check': {
      const config = await load(configFile);
      for (const app of unsignedApps(config)) console.log(`warning: AUTH_DISABLED: ${app.message}`);
      console.log(`ok: ${config.file}: ${config.apps.length} app(s), ${Object.keys(config.sinks).length} sink(s), ${config.routes.length} route(s)`);
      return 0;
    }
    case 'send-sample':
      return sendSample(await load(configFile), values.url, Number(values.count ?? '1'));
    case 'dlq':
      return dlq(await load(configFile), sub, arg, values);
    case 'queue': {
      const config = await load(configFile);
      if (sub === 'move') return queueMove(config, values);
      if (sub !== 'stats') return usage(`unknown queue command "${sub ?? ''}"`);
      const store = openStore(config, true);
      const stats = store.stats();
      store.close();
      const now = Date.now();
      console.log(`stored: ${stats.events} event(s), ${stats.bytes} bytes; dead letters: ${stats.deadLetters}`);
      for (const s of stats.sinks) {
        const orphan = config.sinks[s.sink] ? '' : `  (not configured: move them with \`im-bridge queue move --from ${s.sink} --to-sink NAME\` or --to-dlq)`;
        console.log(`  ${s.sink}: depth ${s.depth}, ${s.bytes} bytes, oldest ${s.oldestMs ? `${((now - s.oldestMs) / 1000).toFixed(1)} s ago` : '-'}${orphan}`);
      }
      return 0;
    }
    case 'reload': {
      const config = await load(configFile);
      const pidFile = path.join(path.resolve(config.dir, config.queue.dir), 'im-bridge.pid');
      const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      process.kill(pid, 'SIGHUP');
      console.log(`sent SIGHUP to im-bridge (pid ${pid}); the daemon's log says whether the new configuration was applied`);
      return 0;
    }
    case 'version': {
      const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
      console.log(pkg.version);
      return 0;
    }
    default:
      return usage(`unknown command "${command}"`);
  }
}

function usage(message: string): number {
  console.error(`${message}\n\n${USAGE}`);
  return 2;
}

async function load(file: string | undefined): Promise<BridgeConfig> {
  return (await loadConfigFile(file, { resolvePlugin })).config;
}

async function run(configFile: string | undefined): Promise<number> {
  const bridge = new Bridge({ configFile });
  await bridge.start();
  const code = await new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      bridge.stop(signal).then(
        () => resolve(0),
        (error: Error) => {
          bridge.logger.error({ code: 'BRIDGE_STOP_FAILED', err: error.message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void bridge.reload());
  });
  // Clients' keep-alive connections would keep the event loop alive: everything that matters is
  // stopped and on disk now, so flush the log and leave.
  await new Promise<void>((resolve) => bridge.logger.flush(() => resolve()));
  process.exit(code);
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
        console.log(`${response.status} ${sample.command} (${sample.name}) ${text}`);
      } catch (error) {
        failures++;
        console.error(`cannot reach ${base}: ${(error as Error).message} — is the daemon running (npm start)?`);
        return 1;
      }
    }
  }
  return failures === 0 ? 0 : 1;
}

function openStore(config: BridgeConfig, readonly = false): QueueStore {
  const dir = path.resolve(config.dir, config.queue.dir);
  if (!fs.existsSync(path.join(dir, 'queue.db'))) {
    throw Object.assign(new Error(`no queue at ${dir} (has the daemon run with this config?)`), { exitCode: 1 });
  }
  return new QueueStore(dir, { readonly, checkIntegrity: 'never' });
}

function parseTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const duration = /^(\d+)(s|m|h|d)$/.exec(value);
  if (duration) return Date.now() - Number(duration[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[duration[2] as 's']!;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw Object.assign(new Error(`cannot read time "${value}"`), { exitCode: 2 });
  return ms;
}

function dlq(config: BridgeConfig, sub: string | undefined, arg: string | undefined, values: Record<string, unknown>): number {
  const ids = ((values.id as string[] | undefined) ?? []).map(Number);
  switch (sub) {
    case 'list': {
      const store = openStore(config, true);
      const rows = store.listDeadLetters({ sink: values.sink as string | undefined, kind: values.kind as string | undefined, sinceMs: parseTime(values.since as string | undefined), limit: Number(values.limit ?? 1000) });
      store.close();
      if (rows.length === 0) console.log('the dead-letter store is empty');
      for (const r of rows) {
        console.log(`${r.dlqId}\t${new Date(r.failedMs).toISOString()}\t${r.kind}\t${r.sink ?? '-'}\t${r.eventId ?? '-'}\tattempts=${r.attempts}\t${r.errorCode}: ${r.error}`);
      }
      return 0;
    }
    case 'show': {
      const store = openStore(config, true);
      const row = store.getDeadLetter(Number(arg));
      store.close();
      if (!row) {
        console.error(`no dead letter with id ${arg}`);
        return 1;
      }
      let body: unknown = row.body;
      try {
        body = JSON.parse(row.body);
      } catch {
        /* keep text */
      }
      console.log(JSON.stringify({ ...row, failedAt: new Date(row.failedMs).toISOString(), body }, null, 2));
      return 0;
    }
    case 'replay': {
      const toSink = values['to-sink'] as string | undefined;
      const sink = values.sink as string | undefined;
      if (toSink !== undefined && !config.sinks[toSink]) return refuseSink('--to-sink', toSink, config);
      if (sink !== undefined && toSink === undefined && !config.sinks[sink]) {
        return refuseSink('--sink', sink, config, ` (to move its dead letters to a configured sink, add --to-sink NAME)`);
      }
      const store = openStore(config);
      const result = store.replay({ sink, sinceMs: parseTime(values.since as string | undefined), ids: ids.length ? ids : undefined, toSink, knownSinks: Object.keys(config.sinks) }, Date.now());
      store.close();
      console.log(`replayed ${result.replayed} event(s) into the queue (same ids); skipped ${result.skipped} (quarantined requests, unmatched events without --to-sink, or events of sinks not configured)`);
      if (result.unknownSinks.length) {
        console.error(`not replayed: dead letters of sink(s) not in ${config.file}: ${result.unknownSinks.join(', ')}; use --sink NAME --to-sink CONFIGURED to move them`);
      }
      return 0;
    }
    case 'purge': {
      const store = openStore(config);
      const n = store.purgeDeadLetters({ sink: values.sink as string | undefined, beforeMs: parseTime(values.before as string | undefined), ids: ids.length ? ids : undefined });
      store.close();
      console.log(`purged ${n} dead letter(s)`);
      return 0;
    }
    default:
      return usage(`unknown dlq command "${sub ?? ''}"`);
  }
}

/** A sink name the command would queue events for, or read, that the config does not define: exit 2. */
function refuseSink(option: string, name: string, config: BridgeConfig, hint = ''): number {
  const known = Object.keys(config.sinks);
  console.error(`${option} ${JSON.stringify(name)}: no such sink in ${config.file} (sinks: ${known.length ? known.join(', ') : 'none'})${hint}`);
  return 2;
}

function queueMove(config: BridgeConfig, values: Record<string, unknown>): number {
  const from = values.from as string | undefined;
  const toSink = values['to-sink'] as string | undefined;
  const toDlq = values['to-dlq'] === true;
  if (!from || (toSink === undefined) === !toDlq) return usage('queue move needs --from NAME and exactly one of --to-sink NAME or --to-dlq');
  if (toSink !== undefined && !config.sinks[toSink]) return refuseSink('--to-sink', toSink, config);
  if (toSink === from) return usage('queue move: --from and --to-sink name the same sink');
  const store = openStore(config);
  const result = store.moveQueued(from, toSink !== undefined ? { sink: toSink } : { deadLetter: true }, Date.now());
  store.close();
  console.log(`moved ${result.moved} event(s), ${result.bytes} bytes, from sink ${from} to ${toSink !== undefined ? `sink ${toSink} (same ids)` : 'the dead-letter store (code SINK_REMOVED)'}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error & { exitCode?: number }) => {
    // Exit explicitly: a half-started daemon may hold a queue worker thread that keeps Node alive.
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(2);
    }
    console.error(`im-bridge: ${error.message}`);
    process.exit(error.exitCode ?? 1);
  },
);
