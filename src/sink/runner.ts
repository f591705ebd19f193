/**
 * Runs one plugin instance for the host: creation, connect with backoff, writes with a timeout,
 * and the classification of whatever a plugin throws. A plugin that throws something unexpected,
 * or hangs, is contained here: it becomes a retriable failure with a code, never a crash.
 *
 * One event must not poison its batch: when a batch of several events fails with an error the plugin
 * did not classify (a TypeError, a URIError while it rendered one event…), the runner writes the
 * events again one at a time, in order, in the same attempt. The event that fails alone keeps its
 * failure; the others are delivered (or fail for their own reason) and no retry is counted for them.
 * Events after a failed one of the same subject are held back (notAttempted) to keep the order. Two
 * single writes in a row failing the same unclassified way end the pass: that is not one poison event.
 */
import type { Logger } from 'pino';
import { FatalError, PartialBatchError, RetriableError, SinkError, type CanonicalEvent, type ItemFailure, type Sink, type SinkPlugin } from './api.js';
import type { SinkConfig } from '../config/schema.js';
import type { Metrics } from '../telemetry/metrics.js';
import { backoffDelay, sleep } from './backoff.js';
import { resolveTransformPlugin } from './loader.js';
import { TransformChain, type ShapedBatch } from '../transform/chain.js';

export type WriteOutcome =
  | { kind: 'ok' }
  | { kind: 'retry'; code: string; message: string; retryAfterMs?: number }
  | { kind: 'fatal'; code: string; message: string }
  | { kind: 'partial'; failures: readonly ItemFailure[] };

export type SinkState = 'starting' | 'connecting' | 'up' | 'failing' | 'closing' | 'closed';

export class SinkRunner {
  state: SinkState = 'starting';
  lastError: string | undefined;
  private instance: Sink | undefined;
  private readonly abort = new AbortController();
  private connecting: Promise<void> | undefined;
  /** The sink's `transforms:` steps (src/transform), applied to every batch before writeBatch. */
  readonly transforms: TransformChain;

  constructor(
    readonly name: string,
    readonly plugin: SinkPlugin,
    readonly config: SinkConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly configDir: string,
  ) {
    this.transforms = new TransformChain(name, config.transforms, configDir, logger, metrics, resolveTransformPlugin);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get connected(): boolean {
    return this.state === 'up' || this.state === 'failing';
  }

  /** Creates and connects the instance, retrying with backoff until it works or the runner closes. */
  connect(): Promise<void> {
    this.connecting ??= this.connectLoop();
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    this.state = 'connecting';
    while (!this.abort.signal.aborted) {
      attempt++;
      try {
        // Transform plugins are created before the sink: no event is written untransformed.
        if (this.transforms.active) await withTimeout(this.transforms.start(), this.config.connect_timeout_ms, 'transform create');
        if (!this.instance) {
          this.instance = await withTimeout(
            Promise.resolve(
              this.plugin.create(this.config.options as never, {
                name: this.name,
                logger: this.logger,
                signal: this.abort.signal,
                configDir: this.configDir,
                count: (metric, value = 1) => this.metrics.pluginEvents.inc({ sink: this.name, name: metric }, value),
              }),
            ),
            this.config.connect_timeout_ms,
            'create',
          );
        }
        await withTimeout(this.instance.connect(this.abort.signal), this.config.connect_timeout_ms, 'connect');
        this.state = 'up';
        this.lastError = undefined;
        this.metrics.sinkUp.set({ sink: this.name }, 1);
        this.logger.info({ code: 'SINK_CONNECTED', attempt }, `sink ${this.name} connected`);
        return;
      } catch (error) {
        this.lastError = describe(error);
        this.metrics.sinkUp.set({ sink: this.name }, 0);
        const delay = backoffDelay(attempt, this.config.retry.initial_backoff_ms, this.config.retry.max_backoff_ms);
        this.logger.warn({ code: 'SINK_CONNECT_FAILED', attempt, retryInMs: delay, err: this.lastError }, `sink ${this.name} cannot connect; retrying`);
        if (error instanceof FatalError && !this.instance) {
          // A plugin that refuses its own config at create() will not change its mind; keep
          // retrying slowly so that a reload can fix it, but say so loudly.
          this.logger.error({ code: 'SINK_CREATE_FATAL', err: this.lastError }, `sink ${this.name} failed to start`);
        }
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /**
   * Writes a batch: the sink's transforms shape it first (per event: the event to write, filtered —
   * acknowledged and counted — or a fatal failure for that event alone), then the shaped events are
   * written and the outcome is mapped back onto the batch the caller gave.
   */
  async write(events: readonly CanonicalEvent[]): Promise<WriteOutcome> {
    if (!this.transforms.active) return this.writeEvents(events);
    if (!this.instance) return { kind: 'retry', code: 'SINK_NOT_CONNECTED', message: 'sink is not connected' };
    const shaped = await this.transforms.apply(events);
    if (shaped.events.length === events.length) return this.writeEvents(shaped.events);
    const outcome: WriteOutcome = shaped.events.length > 0 ? await this.writeEvents(shaped.events) : { kind: 'ok' };
    return mapShaped(outcome, shaped);
  }

  private async writeEvents(events: readonly CanonicalEvent[]): Promise<WriteOutcome> {
    const instance = this.instance;
    if (!instance) return { kind: 'retry', code: 'SINK_NOT_CONNECTED', message: 'sink is not connected' };
    const attempt = new AbortController();
    const onAbort = () => attempt.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    const started = performance.now();
    let outcome: WriteOutcome;
    try {
      outcome = await this.writeOnce(instance, events, attempt);
      if (outcome.kind === 'retry' && outcome.code === UNEXPECTED && events.length > 1 && !attempt.signal.aborted) {
        this.logger.warn({ code: 'SINK_BATCH_ISOLATED', events: events.length, err: outcome.message }, `sink ${this.name} failed a batch with an unclassified error; writing its events one at a time`);
        this.metrics.pluginEvents.inc({ sink: this.name, name: 'batches_isolated' });
        outcome = await this.writeOneByOne(instance, events, attempt);
      }
    } finally {
      this.abort.signal.removeEventListener('abort', onAbort);
    }
    this.metrics.writeDuration.observe({ sink: this.name, outcome: outcome.kind }, (performance.now() - started) / 1000);
    if (outcome.kind === 'partial' && outcome.failures.length >= events.length && outcome.failures.every((f) => f.retriable)) {
      // Every event failed or was held back: as good as a failed batch for health and /readyz.
      const cause = outcome.failures.find((f) => !f.notAttempted) ?? outcome.failures[0]!;
      this.state = 'failing';
      this.lastError = `${cause.code}: ${cause.message}`;
      this.metrics.sinkUp.set({ sink: this.name }, 0);
    } else if (outcome.kind === 'ok' || outcome.kind === 'partial') {
      if (this.state === 'failing') this.logger.info({ code: 'SINK_RECOVERED' }, `sink ${this.name} recovered`);
      this.state = 'up';
      this.lastError = undefined;
      this.metrics.sinkUp.set({ sink: this.name }, 1);
    } else if (outcome.kind === 'retry') {
      this.state = 'failing';
      this.lastError = `${outcome.code}: ${outcome.message}`;
      this.metrics.sinkUp.set({ sink: this.name }, 0);
    }
    return outcome;
  }

  private async writeOnce(instance: Sink, events: readonly CanonicalEvent[], attempt: AbortController): Promise<WriteOutcome> {
    try {
      await withTimeout(instance.writeBatch(events, attempt.signal), this.config.write_timeout_ms, 'writeBatch', attempt);
      return { kind: 'ok' };
    } catch (error) {
      return classify(error, events.length);
    }
  }

  /** The isolation pass (see the module comment): one writeBatch per event, outcomes merged. */
  private async writeOneByOne(instance: Sink, events: readonly CanonicalEvent[], attempt: AbortController): Promise<WriteOutcome> {
    const failures: ItemFailure[] = [];
    const blocked = new Set<string>();
    // Two single writes in a row failing unclassified or timing out: the cause is not one event (a
    // broken connection, a plugin bug on every event). Stop here rather than pay one failed write per
    // event; the rest is retried without an attempt counted.
    let systemic = 0;
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!;
      if (systemic >= 2 || blocked.has(event.subject) || attempt.signal.aborted) {
        failures.push({ index, retriable: true, code: 'SINK_HELD_BACK', message: systemic >= 2 ? 'not tried: single writes kept failing' : 'held back behind an earlier event of its subject', notAttempted: true });
        continue;
      }
      const one = await this.writeOnce(instance, [event], attempt);
      if (one.kind === 'ok') {
        systemic = 0;
        continue;
      }
      systemic = one.kind === 'retry' && (one.code === UNEXPECTED || one.code === 'SINK_TIMEOUT') ? systemic + 1 : 0;
      blocked.add(event.subject);
      if (one.kind === 'partial') {
        const failure = one.failures[0];
        if (failure) failures.push({ ...failure, index });
      } else {
        failures.push({ index, retriable: one.kind === 'retry', code: one.code, message: one.message, retryAfterMs: one.kind === 'retry' ? one.retryAfterMs : undefined });
      }
    }
    return failures.length === 0 ? { kind: 'ok' } : { kind: 'partial', failures };
  }

  async healthcheck(): Promise<{ ok: boolean; error?: string }> {
    if (!this.instance || !this.connected) return { ok: false, error: this.lastError ?? this.state };
    if (!this.instance.healthcheck) return { ok: this.state === 'up', error: this.lastError };
    try {
      await withTimeout(this.instance.healthcheck(this.abort.signal), 5000, 'healthcheck');
      return { ok: true };
    } catch (error) {
      return { ok: false, error: describe(error) };
    }
  }

  /** Aborts pending work and closes the instance (the plugin flushes). */
  async close(timeoutMs: number): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.abort.abort(new Error('sink closing'));
    try {
      if (this.instance) await withTimeout(this.instance.close(), timeoutMs, 'close');
    } catch (error) {
      this.logger.warn({ code: 'SINK_CLOSE_FAILED', err: describe(error) }, `sink ${this.name} did not close cleanly`);
    }
    this.state = 'closed';
    this.metrics.sinkUp.set({ sink: this.name }, 0);
  }
}

const UNEXPECTED = 'SINK_UNEXPECTED_ERROR';

/**
 * The outcome of writing the shaped events, in terms of the caller's batch: transform failures are
 * fatal items, filtered events are absent (delivered for this sink), and a whole-batch outcome
 * applies to the written events only.
 */
function mapShaped(outcome: WriteOutcome, shaped: ShapedBatch): WriteOutcome {
  const failures: ItemFailure[] = [...shaped.failures];
  switch (outcome.kind) {
    case 'ok':
      break;
    case 'partial':
      for (const f of outcome.failures) failures.push({ ...f, index: shaped.index[f.index]! });
      break;
    case 'fatal':
    case 'retry':
      for (const index of shaped.index) {
        failures.push({ index, retriable: outcome.kind === 'retry', code: outcome.code, message: outcome.message, retryAfterMs: outcome.kind === 'retry' ? outcome.retryAfterMs : undefined });
      }
      break;
  }
  failures.sort((a, b) => a.index - b.index);
  return failures.length === 0 ? { kind: 'ok' } : { kind: 'partial', failures };
}

export function classify(error: unknown, batchSize: number): WriteOutcome {
  if (error instanceof PartialBatchError) {
    const failures = error.failures.filter((f) => Number.isInteger(f.index) && f.index >= 0 && f.index < batchSize);
    return { kind: 'partial', failures };
  }
  if (error instanceof FatalError) return { kind: 'fatal', code: error.code, message: error.message };
  if (error instanceof RetriableError) return { kind: 'retry', code: error.code, message: error.message, retryAfterMs: error.retryAfterMs };
  if (error instanceof SinkError) return { kind: 'retry', code: error.code, message: error.message };
  if (error instanceof TimeoutError) return { kind: 'retry', code: 'SINK_TIMEOUT', message: error.message };
  // Plugins loaded from another copy of im-bridge/sink fail instanceof; trust the shape instead.
  const shaped = error as { name?: string; code?: string; message?: string; failures?: ItemFailure[]; retryAfterMs?: number };
  if (shaped?.name === 'PartialBatchError' && Array.isArray(shaped.failures)) return { kind: 'partial', failures: shaped.failures };
  if (shaped?.name === 'FatalError') return { kind: 'fatal', code: shaped.code ?? 'SINK_FATAL', message: shaped.message ?? 'fatal' };
  if (shaped?.name === 'RetriableError') return { kind: 'retry', code: shaped.code ?? 'SINK_RETRIABLE', message: shaped.message ?? 'retriable', retryAfterMs: shaped.retryAfterMs };
  return { kind: 'retry', code: UNEXPECTED, message: describe(error) };
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, controller?: AbortController): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(what, ms);
      controller?.abort(error);
      reject(error);
    }, ms);
  });
  // A hung plugin promise is abandoned, not awaited; its late rejection must not become unhandled.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code !== undefined ? `${String(code)}: ${error.message}` : error.message;
  }
  return String(error);
}
