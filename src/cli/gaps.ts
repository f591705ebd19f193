/**
 * `im-bridge gaps list`: the group MsgSeq gaps recorded in <queue.dir>/gaps.db (src/gaps). Read-only:
 * safe while the daemon runs (WAL; the daemon writes its state every gaps.flush_interval_ms, so the
 * listing may be that much behind).
 *
 * `im-bridge gaps backfill`: one backfill run by hand (src/backfill) over the open gaps, pending ones
 * too and without backoff, into the queue, which the daemon then delivers. It needs the queue, so
 * it runs while the daemon is stopped; a running daemon backfills reported gaps by itself.
 *
 * `im-bridge gaps backfill-c2c`: one C2C conversation's messages in a time window, the same way.
 */
import path from 'node:path';
import pino from 'pino';
import { Backfiller, backfillApps, backfillC2C, C2CPagingError, RestError, type C2CBackfillResult } from '../backfill/index.js';
import { loadConfigFile } from '../config/load.js';
import type { BridgeConfig } from '../config/schema.js';
import { GapMonitor, GapStore, GAPS_DB_FILE, gapsConfig, type SeqState } from '../gaps/index.js';
import { Authenticator } from '../ingest/auth.js';
import { CallbackHandler } from '../ingest/handler.js';
import { Quarantine } from '../ingest/quarantine.js';
import { createCallbackValidator } from '../ingest/schemas/index.js';
import type { CanonicalEvent } from '../normalize/event.js';
import { DurableQueue } from '../queue/index.js';
import { acquireQueueLock, locateDaemon } from '../queue/lock.js';
import { RouteTable } from '../route/table.js';
import { resolvePlugin } from '../sink/loader.js';
import { Metrics } from '../telemetry/metrics.js';
import { escapeControl } from '../telemetry/pretty.js';
import type { QueueSideConfig } from './queue-config.js';
import { CliError, EXIT_OK, UsageError, timeArg, type Parsed } from './spec.js';

interface GapRow {
  sdkAppId: string;
  groupId: string;
  topicId: string | null;
  from: number;
  to: number;
  missing: number;
  state: 'gap' | 'pending';
  openedAt: string;
  reportedAt: string | null;
  /** Highest seq up to which everything arrived, and the highest seen. */
  contiguousTo: number;
  highestSeen: number;
}

function rows(states: SeqState[], includePending: boolean): GapRow[] {
  const out: GapRow[] = [];
  for (const s of states) {
    for (const r of s.ranges) {
      if (r.confirmedMs === undefined && !includePending) continue;
      out.push({
        sdkAppId: s.sdkAppId,
        groupId: s.groupId,
        topicId: s.topicId || null,
        from: r.from,
        to: r.to,
        missing: r.to - r.from + 1,
        state: r.confirmedMs === undefined ? 'pending' : 'gap',
        openedAt: new Date(r.openedMs).toISOString(),
        reportedAt: r.confirmedMs === undefined ? null : new Date(r.confirmedMs).toISOString(),
        contiguousTo: s.high,
        highestSeen: s.max,
      });
    }
  }
  return out;
}

export function gapsList(config: QueueSideConfig, values: Parsed['values']): number {
  const dir = path.resolve(config.dir, config.queue.dir);
  const store = GapStore.openReadOnly(dir);
  const sinceMs = timeArg('--since', values.since as string | undefined);
  const groupId = values.group as string | undefined;
  let list: GapRow[] = [];
  if (store) {
    try {
      list = rows(store.open({ groupId, sinceMs }), values.pending === true);
    } finally {
      store.close();
    }
  }
  if (values.json === true) {
    console.log(JSON.stringify(list, null, 2));
    return EXIT_OK;
  }
  if (!store) {
    console.log(`no gap state yet (${path.join(dir, GAPS_DB_FILE)} does not exist: the daemon has not run with gaps.enabled here)`);
    return EXIT_OK;
  }
  if (list.length === 0) {
    console.log(groupId !== undefined || sinceMs !== undefined ? 'no gaps match' : 'no open gaps');
    return EXIT_OK;
  }
  if (process.stdout.isTTY) console.log(['APP', 'GROUP', 'TOPIC', 'SEQS', 'MISSING', 'STATE', 'OPENED'].join('\t'));
  let total = 0;
  for (const r of list) {
    total += r.missing;
    // Group and topic ids are chosen by the app's users: escape controls.
    const fields = [r.sdkAppId, r.groupId, r.topicId ?? '-', r.from === r.to ? String(r.from) : `${r.from}-${r.to}`, String(r.missing), r.state, r.openedAt];
    console.log(fields.map(escapeControl).join('\t'));
  }
  console.error(`${list.length} range(s), ${total} missing message(s)`);
  return EXIT_OK;
}

export async function gapsBackfill(configFile: string | undefined, values: Parsed['values']): Promise<number> {
  const sinceMs = timeArg('--since', values.since as string | undefined);
  const groupId = values.group as string | undefined;
  const { config } = await loadConfigFile(configFile, { resolvePlugin });
  const apps = backfillApps(config.apps);
  if (apps.length === 0) throw new CliError('no app has apps[].backfill (identifier, secret_key, api_host): nothing can be fetched');
  if (config.queue.type === 'kafka') throw new CliError('gap detection is off with queue.type: kafka, so there are no gaps to backfill');
  const refusal = 'it backfills reported gaps every apps[].backfill.interval_ms by itself (see /readyz gaps.backfill). Stop it to run a backfill by hand.';
  return withStoppedQueue(config, refusal, async ({ queueDir, enqueue, metrics, logger }) => {
    const monitor = GapMonitor.open({ dir: queueDir, config: gapsConfig(config.gaps), metrics, logger });
    try {
      const backfiller = new Backfiller({ monitor, apps, enqueue, includeRaw: config.event.include_raw, metrics, logger });
      const result = await backfiller.run({ groupId, sinceMs, force: true });
      const left = monitor.report();
      if (values.json === true) console.log(JSON.stringify({ ...result, stillMissing: left.missing + left.pending }, null, 2));
      else {
        console.log(`${result.ranges} range(s): ${result.backfilled} message(s) queued (imorigin=backfill), ${result.placeholders} closed as deleted/expired at Tencent, ${result.failed} range(s) left open`);
        console.log(`still missing: ${left.missing + left.pending} message(s) (im-bridge gaps list); the queued events are delivered when the daemon starts`);
      }
      return result.failed > 0 ? 1 : EXIT_OK;
    } finally {
      monitor.close();
    }
  });
}

/**
 * `im-bridge gaps backfill-c2c`: the messages of one C2C conversation in a time window, from
 * Tencent's roaming history (src/backfill/c2c.ts), queued as their callbacks' events. By hand only:
 * C2C has no seq, so no gap is ever detected to fetch by itself.
 */
export async function gapsBackfillC2C(configFile: string | undefined, values: Parsed['values']): Promise<number> {
  const required = (name: string): string => {
    const v = values[name];
    if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
    return v;
  };
  const sdkAppId = required('app');
  const account = required('account');
  const peer = required('peer');
  const nowMs = Date.now();
  const sinceMs = timeArg('--since', required('since'), nowMs)!;
  const untilMs = timeArg('--until', values.until as string | undefined, nowMs) ?? nowMs;
  if (untilMs <= sinceMs) throw new UsageError(`--until (${new Date(untilMs).toISOString()}) must be after --since (${new Date(sinceMs).toISOString()})`);
  const { config } = await loadConfigFile(configFile, { resolvePlugin });
  const app = backfillApps(config.apps).find((a) => a.sdkAppId === sdkAppId);
  if (!app) throw new CliError(`app ${sdkAppId} has no apps[].backfill (identifier, secret_key, api_host) in ${config.file}: nothing can be fetched`);
  if (config.queue.type === 'kafka') throw new CliError('backfill-c2c queues into the local queue directory; with queue.type: kafka there is none here');
  const refusal = 'backfill-c2c needs its queue. Stop it, run the backfill, start it again (the events are delivered then).';
  return withStoppedQueue(config, refusal, async ({ enqueue }) => {
    const window = { sdkAppId, account, peer, sinceMs, untilMs };
    let result: C2CBackfillResult;
    try {
      result = await backfillC2C(app.client, window, enqueue, { includeRaw: config.event.include_raw });
    } catch (error) {
      if (error instanceof RestError || error instanceof C2CPagingError) {
        throw new CliError(`backfill-c2c ${error.code}: ${error.message} (messages queued before the failure stay queued; running it again queues nothing twice at the sinks: same ids)`);
      }
      throw error;
    }
    const span = `${new Date(sinceMs).toISOString()}..${new Date(untilMs).toISOString()}`;
    if (values.json === true) console.log(JSON.stringify({ sdkAppId, account, peer, since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), ...result }, null, 2));
    else {
      console.log(`${escapeControl(account)} <-> ${escapeControl(peer)} ${span}: ${result.listed} message(s) in Tencent's history, ${result.backfilled} queued (imorigin=backfill), ${result.skipped} without a body (recalled), ${result.withoutId} without MsgKey/MsgId; ${result.requests} request(s)`);
      console.log('the queued events are delivered when the daemon starts; sinks drop those whose callback arrived (same id)');
    }
    return EXIT_OK;
  });
}

interface StoppedQueue {
  queueDir: string;
  /** The ingest path itself: routes, unmatched policy and the durable append of a callback. */
  enqueue: (event: CanonicalEvent) => Promise<void>;
  metrics: Metrics;
  logger: pino.Logger;
}

/**
 * The queue of a stopped daemon, locked for the run, with the callback handler's enqueue: what the
 * backfill commands write is delivered at the next start like any accepted callback. Refused (exit 1,
 * `refusal` says why) while an im-bridge holds the queue.
 */
async function withStoppedQueue(config: BridgeConfig, refusal: string, use: (q: StoppedQueue) => Promise<number>): Promise<number> {
  const queueDir = path.resolve(config.dir, config.queue.dir);
  const daemon = locateDaemon(queueDir);
  if ('pid' in daemon) throw new CliError(`im-bridge (pid ${daemon.pid}) holds ${queueDir}; ${refusal}`);
  const lock = acquireQueueLock(queueDir);
  const logger = pino({ level: config.log.level === 'silent' ? 'silent' : 'warn' }, pino.destination(2));
  const metrics = new Metrics({ processMetrics: false });
  try {
    const queue = await DurableQueue.open({ ...config.queue, dir: queueDir });
    try {
      const handler = new CallbackHandler({
        auth: new Authenticator(config.apps, config.auth.time_window_ms),
        validator: createCallbackValidator(),
        routes: new RouteTable(config.routes),
        queue,
        metrics,
        logger,
        quarantine: new Quarantine(queue, metrics, logger),
        includeRaw: config.event.include_raw,
        unmatched: config.unmatched,
        logRequests: 'off',
      });
      return await use({ queueDir, enqueue: (event) => handler.enqueueEvent(event), metrics, logger });
    } finally {
      await queue.close();
    }
  } finally {
    lock.release();
  }
}
