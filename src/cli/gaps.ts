/**
 * `im-bridge gaps list`: the group MsgSeq gaps recorded in <queue.dir>/gaps.db (src/gaps). Read-only:
 * safe while the daemon runs (WAL; the daemon writes its state every gaps.flush_interval_ms, so the
 * listing may be that much behind).
 *
 * `im-bridge gaps backfill`: one backfill run by hand (src/backfill) over the open gaps, pending ones
 * too and without backoff, into the queue, which the daemon then delivers. It needs the queue, so
 * it runs while the daemon is stopped; a running daemon backfills reported gaps by itself.
 */
import path from 'node:path';
import pino from 'pino';
import { Backfiller, backfillApps } from '../backfill/index.js';
import { loadConfigFile } from '../config/load.js';
import { GapMonitor, GapStore, GAPS_DB_FILE, gapsConfig, type SeqState } from '../gaps/index.js';
import { Authenticator } from '../ingest/auth.js';
import { CallbackHandler } from '../ingest/handler.js';
import { Quarantine } from '../ingest/quarantine.js';
import { createCallbackValidator } from '../ingest/schemas/index.js';
import { DurableQueue } from '../queue/index.js';
import { acquireQueueLock, locateDaemon } from '../queue/lock.js';
import { RouteTable } from '../route/table.js';
import { resolvePlugin } from '../sink/loader.js';
import { Metrics } from '../telemetry/metrics.js';
import { escapeControl } from '../telemetry/pretty.js';
import type { QueueSideConfig } from './queue-config.js';
import { CliError, EXIT_OK, timeArg, type Parsed } from './spec.js';

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
  const queueDir = path.resolve(config.dir, config.queue.dir);
  const daemon = locateDaemon(queueDir);
  if ('pid' in daemon) {
    throw new CliError(`im-bridge (pid ${daemon.pid}) holds ${queueDir}; it backfills reported gaps every apps[].backfill.interval_ms by itself (see /readyz gaps.backfill). Stop it to run a backfill by hand.`);
  }
  const lock = acquireQueueLock(queueDir);
  const logger = pino({ level: config.log.level === 'silent' ? 'silent' : 'warn' }, pino.destination(2));
  const metrics = new Metrics({ processMetrics: false });
  const queue = await DurableQueue.open({ ...config.queue, dir: queueDir });
  const monitor = GapMonitor.open({ dir: queueDir, config: gapsConfig(config.gaps), metrics, logger });
  try {
    // The ingest path itself: routes, unmatched policy and the durable append of a callback.
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
    const backfiller = new Backfiller({ monitor, apps, enqueue: (event) => handler.enqueueEvent(event), includeRaw: config.event.include_raw, metrics, logger });
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
    await queue.close();
    lock.release();
  }
}
