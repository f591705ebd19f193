/**
 * Composition root: wires the stages in flow order — ingest → normalize → queue → delivery → sink —
 * and owns start, reload, drain and stop. The queue is whatever backend `openQueue` picked
 * (src/queue/open.ts); nothing here depends on which.
 */
import { unsignedApps } from './config/auth-policy.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile } from './config/load.js';
import type { BridgeConfig, SinkConfig } from './config/schema.js';
import type { CallbackHandler } from './ingest/handler.js';
import { createCallbackHandler, handlerSettings, rateLimiterFor } from './ingest/from-config.js';
import { IngestServer, type ReadinessReport } from './ingest/server.js';
import { IngestThreads } from './ingest/threads/pool.js';
import type { StoreStats } from './queue/index.js';
import { openQueue } from './queue/open.js';
import type { QueueBackend } from './queue/queue.js';
import { GapMonitor, gapsConfig } from './gaps/index.js';
import { Backfiller, backfillApps } from './backfill/index.js';
import { writeReloadStatus, type ReloadStatus } from './queue/reload-status.js';
import { DeliveryEngine } from './delivery/engine.js';
import { pluginModuleUrl, resolvePlugin } from './sink/loader.js';
import { threadedPlugin } from './sink/thread.js';
import { SinkRunner } from './sink/runner.js';
import type { SinkPlugin } from './sink/api.js';
import { createLogger } from './telemetry/logger.js';
import { Metrics } from './telemetry/metrics.js';
import { notifySystemd } from './telemetry/systemd.js';

export interface BridgeOptions {
  /** Config file; undefined = ./bridge.yaml when present, else the embedded default. */
  configFile?: string;
  logger?: Logger;
}

interface SinkUnit {
  config: SinkConfig;
  runner: SinkRunner;
  engine: DeliveryEngine;
}

export class Bridge {
  config!: BridgeConfig;
  logger!: Logger;
  readonly metrics = new Metrics();
  private queue!: QueueBackend;
  private handler!: CallbackHandler;
  private server!: IngestServer;
  /** Ingest threads after the first (listen.threads > 1). */
  private threads: IngestThreads | undefined;
  private readonly sinks = new Map<string, SinkUnit>();
  private lastStats: StoreStats | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  /** Group MsgSeq gap detection (src/gaps); undefined when off (gaps.enabled: false, or a shared queue). */
  private gaps: GapMonitor | undefined;
  /** Repair of reported gaps for apps with apps[].backfill (src/backfill). */
  private backfill: Backfiller | undefined;
  private closing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private reloading = false;
  /** Reloads run by this process, for the status file `im-bridge reload` waits on (src/queue/reload-status.ts). */
  private reloadAttempts = 0;
  private readonly warnedOrphans = new Set<string>();
  /** quarantineEvicted already counted in the metric. */
  private evictedReported = 0;

  constructor(private readonly options: BridgeOptions = {}) {}

  get port(): number {
    return this.server.port;
  }

  static defaultConfigFile(): string | undefined {
    return fs.existsSync('bridge.yaml') ? path.resolve('bridge.yaml') : undefined;
  }

  async start(): Promise<void> {
    const file = this.options.configFile ?? Bridge.defaultConfigFile();
    const { config, plugins } = await loadConfigFile(file, { resolvePlugin });
    this.config = config;
    this.logger = this.options.logger ?? createLogger(config.log.level);
    this.metrics.configGeneration.set(config.generation);

    this.queue = await openQueue(config, this.logger);
    const stateDir = this.queue.stateDir;
    if (gapsConfig(config.gaps).enabled && !stateDir) {
      // Each instance of a shared queue sees only a share of the callbacks: every other message would look missing.
      this.logger.info({ code: 'GAPS_OFF_SHARED_QUEUE' }, `gap detection is off with queue.type: ${config.queue.type} (each instance sees only part of the callbacks)`);
    } else if (gapsConfig(config.gaps).enabled && stateDir) {
      this.gaps = GapMonitor.open({ dir: stateDir, config: gapsConfig(config.gaps), metrics: this.metrics, logger: this.logger });
      this.gaps.start();
      const report = this.gaps.report();
      this.logger.info({ code: 'GAPS_OPENED', conversations: report.stored, openGaps: report.openGaps, missing: report.missing }, `gap detection on: ${report.stored} conversation(s), ${report.openGaps} open gap(s)`);
    }
    this.handler = this.createHandler(config, this.queue);
    const backfill = backfillApps(config.apps);
    if (backfill.length > 0 && !this.gaps) {
      this.logger.warn({ code: 'BACKFILL_NEEDS_GAPS', apps: backfill.map((a) => a.sdkAppId) }, 'apps[].backfill is set but gap detection is off (gaps.enabled: false): nothing to backfill');
    } else if (backfill.length > 0) {
      const handler = this.handler;
      this.backfill = new Backfiller({ monitor: this.gaps!, apps: backfill, enqueue: (event) => handler.enqueueEvent(event), includeRaw: config.event.include_raw, metrics: this.metrics, logger: this.logger.child({ component: 'backfill' }) });
      this.backfill.start();
      this.logger.info({ code: 'BACKFILL_ON', apps: backfill.map((a) => a.sdkAppId) }, `backfill of reported gaps on for app(s) ${backfill.map((a) => a.sdkAppId).join(', ')}`);
    }

    for (const [name, sinkConfig] of Object.entries(config.sinks)) this.startSink(sinkConfig, plugins.get(name)!);
    await this.startServer(config);
    this.recordReload({ generation: config.generation, ok: true });
  }

  /**
   * The outcome of the latest reload (attempt 0: the start), for `im-bridge reload` to wait on
   * (src/queue/reload-status.ts). Only with a queue of this instance's own: the CLI finds the daemon
   * through its directory. A failed write is logged and changes nothing else: the reload itself took effect.
   */
  private recordReload(outcome: Pick<ReloadStatus, 'generation' | 'ok' | 'error'>): void {
    const dir = this.queue.stateDir;
    if (!dir) return;
    try {
      writeReloadStatus(dir, { pid: process.pid, attempt: this.reloadAttempts, at: new Date().toISOString(), ...outcome });
    } catch (error) {
      this.logger.warn({ code: 'RELOAD_STATUS_WRITE_FAILED', dir, err: (error as Error).message }, 'cannot write the reload status file; `im-bridge reload` will time out, the log has the outcome');
    }
  }

  /** The ingest handler: same checks, same answers over any queue backend. */
  private createHandler(config: BridgeConfig, queue: QueueBackend): CallbackHandler {
    return createCallbackHandler(config, { queue, metrics: this.metrics, logger: this.logger, gaps: this.gaps });
  }

  private async startServer(config: BridgeConfig): Promise<void> {
    const listen = { ...config.listen, tls: resolveTls(config) };
    const threads = listen.threads ?? 1;
    // Several ingest threads: the others bind first, then this one, so that none takes
    // connections before all are listening (the kernel spreads connections as they arrive).
    const sharedPort = threads > 1 ? await IngestServer.reservePort(listen, this.logger) : undefined;
    if (sharedPort !== undefined) {
      this.threads = await IngestThreads.start({
        count: threads,
        config: { ...config, listen },
        port: sharedPort,
        queue: this.queue,
        gaps: this.gaps,
        metrics: this.metrics,
        logger: this.logger,
        readiness: () => this.readiness(),
        beforeMetrics: () => this.refreshStats(),
      });
    }
    this.server = new IngestServer({
      listen,
      handler: this.handler,
      metrics: this.metrics,
      logger: this.logger,
      readiness: () => this.readiness(),
      beforeMetrics: () => this.refreshStats(),
      renderMetrics: this.threads ? () => this.threads!.metricsText() : undefined,
      bodyTimeoutMs: config.listen.body_timeout_ms,
      rateLimiter: rateLimiterFor(config),
      joinPort: sharedPort,
    });
    try {
      await this.server.start();
    } catch (error) {
      await this.threads?.close();
      throw error;
    }
    await this.refreshStats();
    this.statsTimer = setInterval(() => void this.refreshStats(), 5000);
    this.statsTimer.unref();
    const scheme = config.listen.tls ? 'https' : 'http';
    for (const app of unsignedApps(config)) this.logger.warn({ code: 'AUTH_DISABLED', sdkAppId: app.sdkAppId, host: config.listen.host }, app.message);
    this.logger.info(
      { code: 'BRIDGE_STARTED', url: `${scheme}://${config.listen.host}:${this.port}${config.listen.path}`, config: config.file, sinks: Object.keys(config.sinks), generation: config.generation, threads },
      `im-bridge listening on ${scheme}://${config.listen.host}:${this.port}${config.listen.path}`,
    );
    notifySystemd('READY=1', this.logger, `listening on ${config.listen.host}:${this.port}`);
  }

  /**
   * Applies a new config without restarting the listener or dropping queued events. An invalid
   * config changes nothing. Listener and queue settings need a restart (logged).
   */
  async reload(): Promise<{ ok: boolean; error?: string; generation: number }> {
    if (this.reloading || this.stopping) return { ok: false, error: 'busy', generation: this.config.generation };
    this.reloading = true;
    this.reloadAttempts++;
    try {
      let loaded;
      try {
        loaded = await loadConfigFile(this.config.file.startsWith('<') ? undefined : this.config.file, { resolvePlugin, generation: this.config.generation + 1 });
      } catch (error) {
        const e = error as Error & { code?: string; line?: number; file?: string; key?: string };
        this.logger.error({ code: 'CONFIG_RELOAD_REJECTED', errorCode: e.code, file: e.file, line: e.line, key: e.key, err: e.message }, `reload refused, keeping generation ${this.config.generation}: ${e.message}`);
        this.recordReload({ generation: this.config.generation, ok: false, error: { code: e.code, message: e.message, file: e.file, line: e.line, key: e.key } });
        return { ok: false, error: e.message, generation: this.config.generation };
      }
      const next = loaded.config;
      const tls = resolveTls(next);
      if (tls && this.config.listen.tls) {
        try {
          await this.server.reloadTls(tls);
          await this.threads?.reloadTls(tls);
          this.logger.info({ code: 'TLS_RELOADED', cert: tls.cert_file }, 'TLS certificate and key re-read');
        } catch (error) {
          this.logger.error({ code: 'TLS_RELOAD_FAILED', err: (error as Error).message }, 'cannot load the TLS certificate; still serving the previous one');
        }
      }
      const { tls: _nextTls, ...nextListen } = next.listen;
      const { tls: _currentTls, ...currentListen } = this.config.listen;
      if (JSON.stringify(nextListen) !== JSON.stringify(currentListen) || Boolean(_nextTls) !== Boolean(_currentTls) || JSON.stringify(next.queue) !== JSON.stringify(this.config.queue)) {
        this.logger.warn({ code: 'CONFIG_RELOAD_NEEDS_RESTART' }, 'listen: and queue: changes take effect at the next restart');
      }
      // New and changed sinks first, so that new routes never point at a sink that is not running.
      for (const [name, sinkConfig] of Object.entries(next.sinks)) {
        const current = this.sinks.get(name);
        if (current && sameSink(current.config, sinkConfig)) continue;
        if (current) await this.stopSink(name, 'changed');
        this.startSink(sinkConfig, loaded.plugins.get(name)!);
      }
      this.handler.update(handlerSettings(next));
      this.threads?.update(next);
      for (const name of [...this.sinks.keys()]) {
        if (!(name in next.sinks)) await this.stopSink(name, 'removed');
      }
      this.logger.level = next.log.level;
      this.config = { ...next, listen: this.config.listen, queue: this.config.queue };
      this.metrics.configGeneration.set(next.generation);
      this.logger.info({ code: 'CONFIG_RELOADED', generation: next.generation, sinks: Object.keys(next.sinks) }, `configuration generation ${next.generation} in force`);
      this.recordReload({ generation: next.generation, ok: true });
      return { ok: true, generation: next.generation };
    } finally {
      this.reloading = false;
    }
  }

  /** Graceful stop: refuse new callbacks (503), finish in-flight ones, let sinks finish their batches, close. */
  stop(reason = 'stop'): Promise<void> {
    this.stopping ??= (async () => {
      const deadline = Date.now() + this.config.shutdown_timeout_ms;
      this.logger.info({ code: 'BRIDGE_STOPPING', reason, timeoutMs: this.config.shutdown_timeout_ms }, 'draining');
      notifySystemd('STOPPING=1', this.logger);
      this.handler.stopAccepting();
      this.server.markDraining();
      const serversDeadline = Math.min(deadline, Date.now() + 2000);
      await Promise.all([this.server.stop(serversDeadline), this.threads?.drain(serversDeadline)]);
      await this.threads?.close();
      await this.backfill?.stop();
      await Promise.all([...this.sinks.values()].map((unit) => unit.engine.stop(deadline)));
      await this.closeQueue(false);
    })();
    return this.stopping;
  }

  /**
   * A second SIGTERM/SIGINT during the drain (README "Health, shutdown, reload, TLS"): stop waiting
   * for sinks and in-flight requests, but still do what is quick and safe. The queue commits the
   * appends and acks it has gathered and records a clean shutdown, the pid file goes, BRIDGE_STOPPED
   * is logged. Batches still in flight in sinks are not acknowledged, so the next start delivers them
   * again (same ids); nothing acknowledged to a caller is lost.
   */
  async forceStop(signal: string): Promise<void> {
    this.logger.warn({ code: 'BRIDGE_FORCED_STOP', signal }, `second ${signal} during the drain: stopping now; batches in flight in sinks are delivered again at the next start`);
    await this.closeQueue(true);
  }

  /** Closes the queue and drops the lock once, for a drain or a forced stop; then logs BRIDGE_STOPPED. */
  private closeQueue(forced: boolean): Promise<void> {
    this.closing ??= (async () => {
      if (this.statsTimer) clearInterval(this.statsTimer);
      const stats = await this.queue.stats().catch(() => undefined);
      void this.backfill?.stop(); // a forced stop does not wait for a request in flight
      // Ingest threads go before the queue: their appends need it (a drain has stopped them already).
      await this.threads?.close();
      this.gaps?.close();
      await this.queue.close();
      this.logger.info(
        { code: 'BRIDGE_STOPPED', forced, pending: stats?.sinks },
        this.queue.stateDir ? 'stopped; undelivered events stay queued for the next start' : 'stopped; undelivered events stay in the shared queue for the other instances',
      );
    })();
    return this.closing;
  }

  async readiness(): Promise<ReadinessReport> {
    const queue = this.queue.readiness();
    const sinks: Record<string, unknown> = {};
    for (const [name, unit] of this.sinks) {
      const depth = this.lastStats?.sinks.find((s) => s.sink === name);
      sinks[name] = { state: unit.runner.state, lastError: unit.runner.lastError, pending: depth?.depth ?? 0, ...unit.engine.stats() };
    }
    const orphaned: Record<string, { pending: number; bytes: number }> = {};
    for (const s of this.lastStats?.sinks ?? []) if (!this.sinks.has(s.sink)) orphaned[s.sink] = { pending: s.depth, bytes: s.bytes };
    return {
      ready: queue.writable && !this.stopping,
      generation: this.config.generation,
      queue: {
        ...queue,
        ...(queue.deadLetters ? { deadLetters: { ...queue.deadLetters, quarantined: this.lastStats?.quarantined ?? 0, quarantinedBytes: this.lastStats?.quarantinedBytes ?? 0 } } : {}),
      },
      sinks,
      // Detail only: a gap is lost callbacks upstream, not a reason to stop taking new ones.
      gaps: this.gaps ? { ...this.gaps.report(), ...(this.backfill ? { backfill: this.backfill.report() } : {}) } : { enabled: false },
      // Events queued for sinks that are not configured (removed, or a replay target): no delivery engine reads them.
      ...(Object.keys(orphaned).length ? { orphaned } : {}),
    };
  }

  private startSink(config: SinkConfig, plugin: SinkPlugin): void {
    const logger = this.logger.child({ sink: config.name });
    const moduleUrl = config.thread ? pluginModuleUrl(plugin) : undefined;
    if (config.thread && !moduleUrl) logger.warn({ code: 'SINK_THREAD_UNAVAILABLE' }, `sink ${config.name}: the plugin's module is unknown; it runs on the main thread`);
    const runner = new SinkRunner(config.name, moduleUrl ? threadedPlugin(plugin, moduleUrl) : plugin, config, logger, this.metrics, this.config.dir);
    const engine = new DeliveryEngine(this.queue.source(config.name, { logger }), runner, logger, this.metrics);
    this.sinks.set(config.name, { config, runner, engine });
    engine.start();
  }

  private async stopSink(name: string, why: string): Promise<void> {
    const unit = this.sinks.get(name);
    if (!unit) return;
    this.sinks.delete(name);
    await unit.engine.stop(Date.now() + this.config.shutdown_timeout_ms);
    this.logger.info({ code: 'SINK_STOPPED', why }, `sink ${name} stopped (${why}); its queued events stay on disk`);
  }

  private async refreshStats(): Promise<void> {
    try {
      // None for a shared Kafka queue: its consumer lag is Kafka's own metric.
      const stats = await this.queue.stats();
      if (!stats) return;
      this.lastStats = stats;
      const now = Date.now();
      this.metrics.queueStored.set(stats.events);
      this.metrics.queueStoredBytes.set(stats.bytes);
      this.metrics.deadLetterStored.set({ kind: 'event' }, stats.deadLetterEvents);
      this.metrics.deadLetterStoredBytes.set({ kind: 'event' }, stats.deadLetterBytes);
      this.metrics.deadLetterStored.set({ kind: 'request' }, stats.quarantined);
      this.metrics.deadLetterStoredBytes.set({ kind: 'request' }, stats.quarantinedBytes);
      const evicted = this.queue.quarantineEvicted - this.evictedReported;
      if (evicted > 0) {
        this.evictedReported += evicted;
        this.metrics.quarantineEvicted.inc(evicted);
        this.logger.warn(
          { code: 'QUARANTINE_EVICTED', evicted, quarantined: stats.quarantined, bytes: stats.quarantinedBytes },
          `${evicted} quarantined request(s) evicted (queue.quarantine_max_bytes / quarantine_max_age_ms)`,
        );
      }
      // Sinks with queued events that are no longer configured get the same gauges: nothing waits unseen.
      const names = new Set([...this.sinks.keys(), ...this.warnedOrphans, ...stats.sinks.map((s) => s.sink)]);
      for (const name of names) {
        const s = stats.sinks.find((x) => x.sink === name);
        this.metrics.queueDepth.set({ sink: name }, s?.depth ?? 0);
        this.metrics.queueBytes.set({ sink: name }, s?.bytes ?? 0);
        this.metrics.queueOldest.set({ sink: name }, s?.oldestMs ? (now - s.oldestMs) / 1000 : 0);
      }
      for (const s of stats.sinks) {
        if (!this.sinks.has(s.sink) && !this.warnedOrphans.has(s.sink)) {
          this.warnedOrphans.add(s.sink);
          this.logger.warn({ code: 'QUEUE_ORPHANED_EVENTS', sinkName: s.sink, depth: s.depth }, `${s.depth} queued event(s) wait for sink "${s.sink}", which is not configured; re-add it, or move them: im-bridge queue move --from ${s.sink} --to-sink NAME (or --to-dlq)`);
        }
      }
    } catch (error) {
      this.logger.warn({ code: 'QUEUE_STATS_FAILED', err: (error as Error).message }, 'cannot read queue stats');
    }
  }
}

/** TLS files resolve against the config file's directory, like every other path. */
function resolveTls(config: BridgeConfig): BridgeConfig['listen']['tls'] {
  const tls = config.listen.tls;
  if (!tls) return undefined;
  return { ...tls, cert_file: path.resolve(config.dir, tls.cert_file), key_file: path.resolve(config.dir, tls.key_file) };
}

function sameSink(a: SinkConfig, b: SinkConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
