/**
 * `thread: true` on a sink: the plugin instance runs in a worker thread of its own, behind a
 * proxy that implements the same Sink interface for the host (runner, delivery engine, retries and
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
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { compiledSibling } from '../util/compiled-sibling.js';
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

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class ThreadedSink implements Sink {
  private worker: Worker | undefined;
  /** A replacement thread being started (create + connect) after the previous one died. */
  private restarting: Promise<Worker> | undefined;
  private closed = false;
  private readonly calls = new Map<number, PendingCall>();
  private nextId = 1;
  private readonly destination: { write(line: string): void } | undefined;

  private constructor(
    private readonly moduleUrl: string,
    private readonly config: unknown,
    private readonly ctx: SinkContext,
  ) {
    this.destination = (ctx.logger as unknown as Record<symbol, { write(line: string): void } | undefined>)[pino.symbols.streamSym];
  }

  static async start(moduleUrl: string, config: unknown, ctx: SinkContext): Promise<ThreadedSink> {
    const sink = new ThreadedSink(moduleUrl, config, ctx);
    ctx.signal.addEventListener('abort', () => sink.worker?.postMessage({ op: 'abortAll' }), { once: true });
    await sink.spawn(); // a plugin that refuses its config at create() fails here, as in-process
    return sink;
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.send(await this.ready(), 'connect', [], signal);
  }

  async writeBatch(events: readonly CanonicalEvent[], signal: AbortSignal): Promise<void> {
    const json = new Array<string>(events.length);
    for (let i = 0; i < events.length; i++) json[i] = eventJson(events[i]!);
    await this.send(await this.ready(), 'writeBatch', [json], signal);
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    await this.send(await this.ready(), 'healthcheck', [], signal);
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    try {
      await this.send(worker, 'close', [], undefined);
    } finally {
      this.worker = undefined;
      await worker.terminate();
    }
  }

  /** Starts a thread and creates the plugin instance in it. */
  private async spawn(): Promise<Worker> {
    const worker = new Worker(workerUrl(), {
      // A sink thread's objects live for one batch; V8's default young generation let the Kafka
      // sink's thread hold ~20 MB more RSS for no measurable throughput (bench case 5t).
      resourceLimits: { maxYoungGenerationSizeMb: 12 },
      workerData: { moduleUrl: this.moduleUrl, config: this.config, name: this.ctx.name, configDir: this.ctx.configDir, logLevel: this.ctx.logger.level, logBindings: this.ctx.logger.bindings() },
    });
    this.worker = worker;
    worker.on('message', (message: Reply) => this.receive(message));
    worker.on('error', (error) => this.lost(worker, error));
    worker.on('exit', (code) => this.lost(worker, new Error(`sink thread exited with code ${code}`)));
    try {
      await this.send(worker, 'create', [], undefined);
    } catch (error) {
      if (this.worker === worker) this.worker = undefined;
      await worker.terminate();
      throw error;
    }
    return worker;
  }

  /**
   * The live thread; after a crash, a new one (create + connect) for the next call. Until it is
   * up the call fails as retriable, so the host backs off and tries again: events are never
   * dead-lettered just because a thread died.
   */
  private async ready(): Promise<Worker> {
    if (this.closed) throw new RetriableError(`sink ${this.ctx.name} is closed`, { code: 'SINK_THREAD_EXITED' });
    if (this.worker) return this.worker;
    this.restarting ??= (async () => {
      const worker = await this.spawn();
      await this.send(worker, 'connect', [], this.ctx.signal);
      this.ctx.logger.info({ code: 'SINK_THREAD_RESTARTED' }, `sink ${this.ctx.name}: started a new thread`);
      return worker;
    })().finally(() => {
      this.restarting = undefined;
    });
    try {
      return await this.restarting;
    } catch (error) {
      throw new RetriableError(`sink ${this.ctx.name}: cannot restart its thread: ${(error as Error).message}`, { code: 'SINK_THREAD_EXITED', cause: error });
    }
  }

  private send(worker: Worker, op: string, args: unknown[], signal: AbortSignal | undefined): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => worker.postMessage({ abort: id });
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      const done = () => signal && onAbort && signal.removeEventListener('abort', onAbort);
      this.calls.set(id, {
        resolve: (v) => (done(), resolve(v)),
        reject: (e) => (done(), reject(e)),
      });
      worker.postMessage({ id, op, args });
    });
  }

  private receive(message: Reply): void {
    if (message.log !== undefined) {
      if (this.destination) this.destination.write(message.log);
      else process.stdout.write(message.log);
      return;
    }
    if (message.count !== undefined) {
      this.ctx.count(message.count, message.value);
      return;
    }
    const call = this.calls.get(message.id!);
    if (!call) return;
    this.calls.delete(message.id!);
    if (message.ok) call.resolve(message.result);
    else call.reject(rebuildError(message.error!));
  }

  /** A thread ended without close(): its pending calls fail as retriable; the next call starts a new one. */
  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return; // closed, replaced, or the 'exit' after an 'error'
    this.worker = undefined;
    this.ctx.logger.error({ code: 'SINK_THREAD_EXITED', err: error.message }, `sink ${this.ctx.name}: its thread stopped (${error.message}); the next write starts a new one`);
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
  return compiledSibling(import.meta.url, './thread-worker.js');
}
