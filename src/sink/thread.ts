/**
 * `thread: true` on a sink: the plugin instance runs in a worker thread of its own, behind a
 * proxy that implements the same Sink interface for the host (runner, dispatcher, retries and
 * dead letters are unchanged).
 *
 * WHY: the HTTP thread is the daemon's bottleneck. A sink whose client library is CPU-heavy
 * (kafkajs builds every produce request in JavaScript: a third of the HTTP thread in the Kafka
 * benchmark) takes that time from ingest and adds it to ack latency. In its own thread, the HTTP
 * thread only hands over each event's stored JSON (a string copy) and gets back the outcome.
 *
 * Protocol (thread-worker.ts): `{ id, op, args }` in; `{ id, ok, result | error }` out, plus
 * `{ log: line }` (pino lines, written to the host's log destination) and `{ count, value }`
 * (plugin counters). `{ abort: id }` aborts the signal of call `id`. Errors cross as their shape
 * (name, code, message, retryAfterMs, failures) and are rebuilt as the SDK's error classes, so the
 * host classifies them exactly as if the plugin ran in-process. In the worker each event is parsed
 * back from its JSON and that JSON is remembered, so eventJson() returns the stored bytes there too.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { eventJson, FatalError, PartialBatchError, RetriableError, type CanonicalEvent, type ItemFailure, type Sink, type SinkContext, type SinkPlugin } from './api.js';

export interface ThreadError {
  name?: string;
  code?: string;
  message: string;
  retryAfterMs?: number;
  failures?: ItemFailure[];
}

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: ThreadError;
  log?: string;
  count?: string;
  value?: number;
}

/** The plugin, with create() starting a worker thread that loads `moduleUrl` and runs the instance there. */
export function threadedPlugin(plugin: SinkPlugin, moduleUrl: string): SinkPlugin {
  return {
    ...plugin,
    create: (config, ctx) => ThreadedSink.start(moduleUrl, config, ctx),
  };
}

export class ThreadedSink implements Sink {
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited: Error | undefined;
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    private readonly ctx: SinkContext,
  ) {
    const destination = (ctx.logger as unknown as Record<symbol, { write(line: string): void } | undefined>)[pino.symbols.streamSym];
    worker.on('message', (message: Reply) => {
      if (message.log !== undefined) {
        if (destination) destination.write(message.log);
        else process.stdout.write(message.log);
        return;
      }
      if (message.count !== undefined) {
        ctx.count(message.count, message.value);
        return;
      }
      const call = this.calls.get(message.id!);
      if (!call) return;
      this.calls.delete(message.id!);
      if (message.ok) call.resolve(message.result);
      else call.reject(rebuildError(message.error!));
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`sink thread exited with code ${code}`));
    });
  }

  static async start(moduleUrl: string, config: unknown, ctx: SinkContext): Promise<ThreadedSink> {
    const worker = new Worker(workerUrl(), {
      // A sink thread's objects live for one batch; V8's default young generation let the Kafka
      // sink's thread hold ~20 MB more RSS for no measurable throughput (bench case 5t).
      resourceLimits: { maxYoungGenerationSizeMb: 12 },
      workerData: { moduleUrl, config, name: ctx.name, configDir: ctx.configDir, logLevel: ctx.logger.level, logBindings: ctx.logger.bindings() },
    });
    const sink = new ThreadedSink(worker, ctx);
    ctx.signal.addEventListener('abort', () => worker.postMessage({ op: 'abortAll' }), { once: true });
    try {
      await sink.call('create', [], undefined);
    } catch (error) {
      sink.closing = true;
      await worker.terminate();
      throw error;
    }
    return sink;
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.call('connect', [], signal) as Promise<void>;
  }

  writeBatch(events: readonly CanonicalEvent[], signal: AbortSignal): Promise<void> {
    const json = new Array<string>(events.length);
    for (let i = 0; i < events.length; i++) json[i] = eventJson(events[i]!);
    return this.call('writeBatch', [json], signal) as Promise<void>;
  }

  healthcheck(signal: AbortSignal): Promise<void> {
    return this.call('healthcheck', [], signal) as Promise<void>;
  }

  async close(): Promise<void> {
    try {
      if (!this.exited) await this.call('close', [], undefined);
    } finally {
      this.closing = true;
      await this.worker.terminate();
      this.exited ??= new Error(`sink ${this.ctx.name} is closed`);
    }
  }

  private call(op: string, args: unknown[], signal: AbortSignal | undefined): Promise<unknown> {
    if (this.exited) return Promise.reject(new RetriableError(this.exited.message, { code: 'SINK_THREAD_EXITED' }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => this.worker.postMessage({ abort: id });
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      const done = () => signal && onAbort && signal.removeEventListener('abort', onAbort);
      this.calls.set(id, {
        resolve: (v) => (done(), resolve(v)),
        reject: (e) => (done(), reject(e)),
      });
      this.worker.postMessage({ id, op, args });
    });
  }

  private fail(error: Error): void {
    this.exited ??= error;
    this.ctx.logger.error({ code: 'SINK_THREAD_EXITED', err: error.message }, `sink ${this.ctx.name}: its thread stopped: ${error.message}`);
    for (const call of this.calls.values()) call.reject(new RetriableError(error.message, { code: 'SINK_THREAD_EXITED' }));
    this.calls.clear();
  }
}

function rebuildError(shape: ThreadError): Error {
  const code = shape.code;
  switch (shape.name) {
    case 'PartialBatchError':
      return new PartialBatchError(shape.failures ?? [], shape.message);
    case 'FatalError':
      return new FatalError(shape.message, { code });
    case 'RetriableError':
      return new RetriableError(shape.message, { code, retryAfterMs: shape.retryAfterMs });
    default:
      return Object.assign(new Error(shape.message), { name: shape.name ?? 'Error', code });
  }
}

/** Source runs (tests through a TypeScript loader) use the compiled worker: a worker thread cannot load .ts. */
function workerUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return new URL(`file://${path.join(path.resolve(path.dirname(here), '../..'), 'dist/src/sink/thread-worker.js')}`);
  return new URL('./thread-worker.js', import.meta.url);
}
