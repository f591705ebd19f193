/**
 * Backfill (issue 25): the reported gaps of apps with `apps[].backfill` are fetched from Tencent's
 * group history (group_msg_get_simple, newest first, 20 per request, paged down through the range),
 * turned into the events their callbacks would have produced (mapping.ts), and queued through the
 * same path as callbacks (CallbackHandler.enqueueEvent: routes, unmatched policy, durable append).
 * Each seq is then resolved in the gap monitor: `backfill` when an event was queued, `place_msg` when
 * Tencent reports it deleted, expired, recalled or a system message (closed and counted, never
 * retried). Retriable failures back off per range; after max_attempts, a group that is gone or a
 * fatal (configuration) error, the range is given up until the next start — it stays listed.
 */
import type { Logger } from 'pino';
import type { BackfillConfig } from '../config/schema.js';
import type { GapMonitor, SeqState, MissingRange } from '../gaps/index.js';
import type { CanonicalEvent } from '../normalize/event.js';
import type { Metrics } from '../telemetry/metrics.js';
import { backfilledEvent } from './mapping.js';
import { RestError, TencentRestClient, type RestMessage } from './rest.js';
import { UserSigSource } from './usersig.js';

export { RestError, TencentRestClient, classify } from './rest.js';
export { UserSigSource } from './usersig.js';
export { backfilledEvent, callbackBody, c2cBackfilledEvent, c2cCallbackBody } from './mapping.js';
export { backfillC2C, C2CPagingError, type C2CBackfillResult, type C2CWindow } from './c2c.js';

/** group_msg_get_simple returns at most this many messages per request. */
export const PAGE_SIZE = 20;
const FATAL_PAUSE_MS = 10 * 60_000;

export interface BackfillApp {
  sdkAppId: string;
  config: BackfillConfig;
  client: TencentRestClient;
}

export interface BackfillDeps {
  monitor: GapMonitor;
  apps: BackfillApp[];
  /** The ingest path for made events (CallbackHandler.enqueueEvent). */
  enqueue: (event: CanonicalEvent) => Promise<void>;
  includeRaw: boolean;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

export interface BackfillFilter {
  groupId?: string;
  sinceMs?: number;
  /** By hand: ranges still within grace too, and no waiting for backoff. */
  force?: boolean;
}

export interface BackfillResult {
  ranges: number;
  backfilled: number;
  placeholders: number;
  failed: number;
}

interface Attempts {
  count: number;
  nextMs: number;
  givenUp: boolean;
}

export function backfillApps(apps: Array<{ sdk_app_id: string | number; backfill?: BackfillConfig }>): BackfillApp[] {
  const out: BackfillApp[] = [];
  for (const app of apps) {
    if (!app.backfill) continue;
    const sdkAppId = String(app.sdk_app_id);
    const c = app.backfill;
    const userSig = new UserSigSource(sdkAppId, c.identifier, c.secret_key, c.usersig_ttl_s);
    out.push({ sdkAppId, config: c, client: new TencentRestClient({ apiHost: c.api_host, userSig, ratePerSecond: c.rate_per_second, timeoutMs: c.timeout_ms }) });
  }
  return out;
}

export class Backfiller {
  private readonly apps: Map<string, BackfillApp>;
  private readonly attempts = new Map<string, Attempts>();
  private readonly pausedUntil = new Map<string, number>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<BackfillResult> | undefined;
  private stopped = false;
  private last: (BackfillResult & { atMs: number }) | undefined;

  constructor(private readonly deps: BackfillDeps) {
    this.apps = new Map(deps.apps.map((a) => [a.sdkAppId, a]));
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    const interval = Math.min(...[...this.apps.values()].map((a) => a.config.interval_ms));
    this.timer = setInterval(() => {
      if (!this.running) void this.run().catch(() => undefined);
    }, interval);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress (it stops after its current request). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  report(): Record<string, unknown> {
    let givenUp = 0;
    for (const a of this.attempts.values()) if (a.givenUp) givenUp++;
    return { apps: [...this.apps.keys()], running: this.running !== undefined, givenUp, last: this.last };
  }

  run(filter: BackfillFilter = {}): Promise<BackfillResult> {
    if (this.running) return this.running;
    this.running = this.runOnce(filter).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runOnce(filter: BackfillFilter): Promise<BackfillResult> {
    const result: BackfillResult = { ranges: 0, backfilled: 0, placeholders: 0, failed: 0 };
    const states = this.deps.monitor.openRanges({ groupId: filter.groupId, sinceMs: filter.sinceMs });
    for (const state of states) {
      const app = this.apps.get(state.sdkAppId);
      if (!app || this.stopped) continue;
      if (!filter.force && (this.pausedUntil.get(app.sdkAppId) ?? 0) > this.now()) continue;
      for (const range of state.ranges) {
        if (this.stopped) break;
        if (!filter.force && range.confirmedMs === undefined) continue;
        const key = `${state.key}\u0000${range.from}`;
        const attempts = this.attempts.get(key) ?? { count: 0, nextMs: 0, givenUp: false };
        if (!filter.force && (attempts.givenUp || attempts.nextMs > this.now())) continue;
        result.ranges++;
        try {
          const done = await this.fetchRange(app, state, range, result);
          if (done) {
            this.attempts.delete(key);
            continue;
          }
          this.failed(key, attempts, app, state, range, 'BACKFILL_INCOMPLETE', 'the history API did not return every seq of the range');
          result.failed++;
        } catch (error) {
          result.failed++;
          if (!(error instanceof RestError)) {
            // The queue refused (full, closed): nothing is lost, the gap stays open for the next run.
            this.deps.logger.warn({ code: 'BACKFILL_ENQUEUE_FAILED', err: (error as Error).message, groupId: state.groupId }, 'backfill stopped: the queue refused an event; the gap stays open');
            return this.finish(result);
          }
          this.deps.metrics.backfillRequests.inc({ result: error.verdict });
          if (error.verdict === 'fatal') {
            this.pausedUntil.set(app.sdkAppId, this.now() + FATAL_PAUSE_MS);
            this.deps.logger.error(
              { code: 'BACKFILL_FATAL', sdkAppId: app.sdkAppId, errorCode: error.errorCode, err: error.message },
              `backfill of app ${app.sdkAppId} paused for 10 min: ${error.message} (check apps[].backfill: identifier, secret_key, api_host)`,
            );
            break;
          }
          if (error.verdict === 'group_gone') {
            attempts.givenUp = true;
            this.attempts.set(key, attempts);
            this.deps.logger.warn({ code: 'BACKFILL_GROUP_GONE', sdkAppId: app.sdkAppId, groupId: state.groupId, from: range.from, to: range.to, errorCode: error.errorCode }, `group ${state.groupId} no longer exists at Tencent: its gap ${range.from}-${range.to} cannot be backfilled`);
            continue;
          }
          this.failed(key, attempts, app, state, range, 'BACKFILL_RETRY', error.message);
        }
      }
    }
    return this.finish(result);
  }

  private finish(result: BackfillResult): BackfillResult {
    if (result.ranges > 0) {
      // The last run that had something to do (idle runs every interval would hide it).
      this.last = { ...result, atMs: this.now() };
      this.deps.logger.info({ code: 'BACKFILL_RUN', ...result }, `backfill: ${result.backfilled} message(s) queued, ${result.placeholders} closed as deleted/expired, ${result.failed} range(s) left open`);
    }
    return result;
  }

  private failed(key: string, attempts: Attempts, app: BackfillApp, state: SeqState, range: MissingRange, code: string, reason: string): void {
    attempts.count++;
    attempts.givenUp = attempts.count >= app.config.max_attempts;
    // 1 s, 2 s, 4 s ... capped at 5 min: Tencent's rate limits and outages pass.
    attempts.nextMs = this.now() + Math.min(300_000, 1000 * 2 ** (attempts.count - 1));
    this.attempts.set(key, attempts);
    const fields = { code: attempts.givenUp ? 'BACKFILL_GAVE_UP' : code, sdkAppId: app.sdkAppId, groupId: state.groupId, topicId: state.topicId || undefined, from: range.from, to: range.to, attempts: attempts.count, err: reason };
    if (attempts.givenUp) this.deps.logger.error(fields, `backfill of group ${state.groupId} seqs ${range.from}-${range.to} given up after ${attempts.count} attempt(s): ${reason}; it stays in \`im-bridge gaps list\``);
    else this.deps.logger.warn(fields, `backfill of group ${state.groupId} seqs ${range.from}-${range.to} failed (attempt ${attempts.count}): ${reason}`);
  }

  /** Pages down from range.to to range.from. True when every seq of the range was resolved. */
  private async fetchRange(app: BackfillApp, state: SeqState, range: MissingRange, result: BackfillResult): Promise<boolean> {
    const target = { sdkAppId: state.sdkAppId, groupId: state.groupId, topicId: state.topicId, groupType: state.groupType };
    const m = this.deps.metrics;
    let seq = range.to;
    const seen = new Set<number>();
    while (seq >= range.from && !this.stopped) {
      const count = Math.min(PAGE_SIZE, seq - range.from + 1);
      const response = await app.client.groupMsgGetSimple({ GroupId: state.groupId, ReqMsgSeq: seq, ReqMsgNumber: count, ...(state.topicId ? { TopicId: state.topicId } : {}) });
      m.backfillRequests.inc({ result: 'ok' });
      const list: RestMessage[] = Array.isArray(response.RspMsgList) ? response.RspMsgList : [];
      const backfilled: number[] = [];
      const placeholders: number[] = [];
      let lowest = seq + 1;
      for (const message of list) {
        const s = message.MsgSeq;
        if (!Number.isSafeInteger(s)) continue;
        lowest = Math.min(lowest, s);
        if (s < range.from || s > range.to || seen.has(s)) continue;
        seen.add(s);
        if (message.IsPlaceMsg === 1 || message.IsPlaceMsg === 2 || message.IsSystemMsg === 1 || !Array.isArray(message.MsgBody) || message.MsgBody.length === 0) {
          placeholders.push(s);
          continue;
        }
        await this.deps.enqueue(backfilledEvent(target, message, this.now(), this.deps.includeRaw));
        backfilled.push(s);
      }
      // Resolved page by page: a failure further down keeps what is already queued.
      if (backfilled.length) result.backfilled += this.deps.monitor.resolve(state.sdkAppId, state.groupId, state.topicId, backfilled, 'backfill');
      if (placeholders.length) result.placeholders += this.deps.monitor.resolve(state.sdkAppId, state.groupId, state.topicId, placeholders, 'place_msg');
      m.backfillEvents.inc({ outcome: 'backfilled' }, backfilled.length);
      m.backfillEvents.inc({ outcome: 'place_msg' }, placeholders.length);
      if (list.length === 0 || response.IsFinished === 1 || lowest > seq) break;
      seq = lowest - 1;
    }
    return seen.size === range.to - range.from + 1;
  }
}
