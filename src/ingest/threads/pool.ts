/**
 * The ingest threads after the first (listen.threads), seen from the main thread: starts them on
 * the port the main thread's server bound, serves what they share (the queue, gap detection,
 * readiness, metrics, the log), and passes on reloads and the drain. Thread 0, the main thread,
 * keeps its own server; the kernel spreads connections over all of them (SO_REUSEPORT).
 *
 * A thread that dies is logged (INGEST_THREAD_EXITED) and started again after a second; the
 * connections it held are gone, the events it had acknowledged are on disk.
 */
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { BridgeConfig } from '../../config/schema.js';
import type { CanonicalEvent } from '../../normalize/event.js';
import { QueueUnavailableError, type IngestQueue } from '../../queue/queue.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { compiledSibling } from '../../util/compiled-sibling.js';
import { WORKER_YOUNG_GENERATION_MB } from '../../util/heap.js';
import type { QuarantineStore } from '../quarantine.js';
import type { ReadinessReport } from '../server.js';
import { Calls, answer, type ReplyMessage } from './calls.js';
import type { AppendResult, IngestThreadData, ToMain } from './protocol.js';

export interface IngestThreadDeps {
  /** Threads in all, the main thread included (listen.threads). */
  count: number;
  /** The config in force, listen.tls resolved. */
  config: BridgeConfig;
  /** The port the main thread's server bound. */
  port: number;
  queue: IngestQueue & QuarantineStore;
  gaps?: { observe(event: CanonicalEvent): void };
  metrics: Metrics;
  logger: Logger;
  readiness: () => Promise<ReadinessReport>;
  /** Refreshes the main thread's queue gauges: run before /metrics is merged for a thread that asks. */
  beforeMetrics?: () => Promise<void>;
}

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

const RESTART_DELAY_MS = 1000;
const CLOSE_WAIT_MS = 2000;
const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

interface Thread {
  readonly index: number;
  worker: Worker;
  calls: Calls;
  results: AppendResult[];
}

export class IngestThreads {
  private readonly threads: Thread[] = [];
  private config: BridgeConfig;
  private stopping = false;

  private constructor(private readonly deps: IngestThreadDeps) {
    this.config = deps.config;
  }

  /** Starts threads 1 … count-1; resolves once every one is listening (throws the first failure). */
  static async start(deps: IngestThreadDeps): Promise<IngestThreads> {
    const pool = new IngestThreads(deps);
    try {
      await Promise.all(Array.from({ length: deps.count - 1 }, (_, i) => pool.spawn(i + 1)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** A reload: new auth, routes and policies in every thread. */
  update(config: BridgeConfig): void {
    this.config = { ...config, listen: this.config.listen, queue: this.config.queue };
    for (const t of this.threads) t.worker.postMessage({ t: 'update', config: this.config });
  }

  async reloadTls(tls: NonNullable<BridgeConfig['listen']['tls']>): Promise<void> {
    await Promise.all(this.threads.map((t) => t.calls.call('tls', { tls })));
  }

  /** Every thread refuses new callbacks (503), answers those in flight (bounded), closes its listener. */
  async drain(deadlineMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(this.threads.map((t) => t.calls.call('drain', { deadlineMs }).catch(() => undefined)));
  }

  /**
   * Ends the threads: drained ones end by themselves (see worker.ts); one that has not ended within
   * CLOSE_WAIT_MS (a forced stop skips the drain) is terminated.
   */
  async close(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.threads.map(async (t) => {
        if (t.worker.threadId === -1) return;
        const ended = new Promise<boolean>((resolve) => t.worker.once('exit', () => resolve(true)));
        const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), CLOSE_WAIT_MS).unref());
        if (!(await Promise.race([ended, timer]))) await t.worker.terminate();
      }),
    );
    this.threads.length = 0;
  }

  /** /metrics: the main thread's registry and every ingest thread's, counters summed. */
  async metricsText(): Promise<string> {
    const own = await this.deps.metrics.registry.getMetricsAsJSON();
    const others = await Promise.all(this.threads.map((t) => t.calls.call<MetricsJson>('metricsJson').catch(() => [] as MetricsJson)));
    return AggregatorRegistry.aggregate([own, ...others]).metrics();
  }

  private spawn(index: number): Promise<void> {
    const data: IngestThreadData = { thread: index, config: this.config, port: this.deps.port, gaps: this.deps.gaps !== undefined };
    const worker = new Worker(compiledSibling(import.meta.url, './worker.js'), {
      workerData: data,
      name: `im-bridge ingest ${index}`,
      // Its objects live for one request; V8's default young generation (up to 3 × 16 MB) held ~10–30 MB more RSS per thread.
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    const thread: Thread = { index, worker, calls: new Calls((m) => worker.postMessage(m)), results: [] };
    const existing = this.threads.findIndex((t) => t.index === index);
    if (existing >= 0) this.threads[existing] = thread;
    else this.threads.push(thread);
    return new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on('message', (message: ToMain) => {
        if (message.t === 'ready') {
          started = true;
          resolve();
        } else if (message.t === 'failed') {
          reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
        } else this.serve(thread, message);
      });
      worker.on('error', (error) => {
        if (!started) reject(error);
        else this.deps.logger.error({ code: 'INGEST_THREAD_EXITED', thread: index, err: error.message }, `ingest thread ${index} failed: ${error.message}`);
      });
      worker.on('exit', (exitCode) => {
        thread.calls.failAll(new Error(`ingest thread ${index} exited`));
        if (!started || this.stopping) return;
        this.deps.logger.error({ code: 'INGEST_THREAD_EXITED', thread: index, exitCode }, `ingest thread ${index} exited (code ${exitCode}); starting it again in ${RESTART_DELAY_MS} ms`);
        setTimeout(() => {
          if (!this.stopping) this.spawn(index).catch((error: Error) => this.deps.logger.error({ code: 'INGEST_THREAD_EXITED', thread: index, err: error.message }, `ingest thread ${index} could not start again: ${error.message}`));
        }, RESTART_DELAY_MS).unref();
      });
    });
  }

  private serve(thread: Thread, message: Exclude<ToMain, { t: 'ready' | 'failed' }>): void {
    const { queue, gaps } = this.deps;
    const post = (m: unknown): void => thread.worker.postMessage(m);
    switch (message.t) {
      case 'append':
        for (const { id, record } of message.batch) {
          queue.append(record).then(
            (seq) => this.answerAppend(thread, { id, seq }),
            (error: Error & { code?: string }) => this.answerAppend(thread, { id, code: error.code ?? 'INTERNAL_ERROR', message: error.message, unavailable: error instanceof QueueUnavailableError }),
          );
        }
        return;
      case 'observe':
        for (const event of message.events) gaps?.observe(event as unknown as CanonicalEvent);
        return;
      case 'log':
        this.relog(thread.index, message.line);
        return;
      case 'reply':
        thread.calls.settle(message as ReplyMessage);
        return;
      case 'call':
        if (message.op === 'quarantine') answer(post, message.id, () => queue.quarantine(message.input));
        else if (message.op === 'readiness') answer(post, message.id, () => this.deps.readiness());
        else
          answer(post, message.id, async () => {
            await this.deps.beforeMetrics?.().catch(() => undefined);
            return this.metricsText();
          });
        return;
    }
  }

  /** Answers of one commit go back in one message. */
  private answerAppend(thread: Thread, result: AppendResult): void {
    if (thread.results.push(result) !== 1) return;
    setImmediate(() => {
      const results = thread.results;
      thread.results = [];
      thread.worker.postMessage({ t: 'appended', results });
    });
  }

  /** A thread's log line, written by the main thread's logger (its destination and format), with `thread`. */
  private relog(index: number, line: string): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.deps.logger.warn({ code: 'INGEST_THREAD_LOG_UNREADABLE', thread: index, line: line.slice(0, 200) }, 'unreadable log line from an ingest thread');
      return;
    }
    const { level, msg, time: _time, service: _service, pid: _pid, hostname: _hostname, ...fields } = record;
    const name = typeof level === 'string' && LOG_LEVELS.has(level) ? (level as 'info') : 'info';
    this.deps.logger[name]({ ...fields, thread: index }, typeof msg === 'string' ? msg : '');
  }
}
