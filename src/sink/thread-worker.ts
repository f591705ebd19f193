/**
 * The worker side of a sink with `thread: true` (see thread.ts): loads the plugin module, creates
 * the instance with a context whose logger and counters report to the host thread, and runs the
 * calls the proxy sends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../telemetry/logger.js';
import { SinkError, type CanonicalEvent, type Sink } from './api.js';
import { rememberEventJson } from './event-json.js';
import { pickExport } from './loader.js';
import type { ThreadError } from './thread.js';

const port = parentPort!;
const data = workerData as { moduleUrl: string; config: unknown; name: string; configDir: string; logLevel: string; logBindings: Record<string, unknown> };

const { service: _service, ...bindings } = data.logBindings;
const logger = createLogger(data.logLevel, { write: (line: string) => port.postMessage({ log: line }) }).child(bindings);
/** Aborted when the host closes the sink (ctx.signal). */
const lifetime = new AbortController();
/** Per-call signals, aborted by `{ abort: id }`. */
const signals = new Map<number, AbortController>();
let instance: Sink | undefined;

async function create(): Promise<void> {
  const plugin = pickExport((await import(data.moduleUrl)) as Record<string, unknown>);
  instance = await plugin.create(data.config as never, {
    name: data.name,
    logger,
    signal: lifetime.signal,
    configDir: data.configDir,
    count: (metric, value = 1) => port.postMessage({ count: metric, value }),
  });
}

function toEvents(json: string[]): CanonicalEvent[] {
  const events = new Array<CanonicalEvent>(json.length);
  for (let i = 0; i < json.length; i++) {
    const event = JSON.parse(json[i]!) as CanonicalEvent;
    rememberEventJson(event, json[i]!);
    events[i] = event;
  }
  return events;
}

async function run(op: string, args: unknown[], signal: AbortSignal): Promise<unknown> {
  if (op === 'create') return create();
  if (!instance) throw new Error(`sink ${data.name} is not created`);
  switch (op) {
    case 'connect':
      return instance.connect(signal);
    case 'writeBatch':
      return instance.writeBatch(toEvents(args[0] as string[]), signal);
    case 'healthcheck':
      return instance.healthcheck?.(signal);
    case 'close':
      lifetime.abort(new Error('sink closing'));
      return instance.close();
    default:
      throw new Error(`unknown sink thread op ${op}`);
  }
}

port.on('message', (message: { id?: number; op?: string; args?: unknown[]; abort?: number }) => {
  if (message.abort !== undefined) {
    signals.get(message.abort)?.abort(new Error('aborted by the host'));
    return;
  }
  if (message.op === 'abortAll') {
    lifetime.abort(new Error('sink closing'));
    for (const controller of signals.values()) controller.abort(new Error('sink closing'));
    return;
  }
  const id = message.id!;
  const controller = new AbortController();
  signals.set(id, controller);
  run(message.op!, message.args ?? [], controller.signal).then(
    (result) => {
      signals.delete(id);
      port.postMessage({ id, ok: true, result: result ?? undefined });
    },
    (error: unknown) => {
      signals.delete(id);
      port.postMessage({ id, ok: false, error: shape(error) });
    },
  );
});

function shape(error: unknown): ThreadError {
  if (!(error instanceof Error)) return { message: String(error) };
  const e = error as Error & { code?: unknown; retryAfterMs?: number; failures?: ThreadError['failures'] };
  return {
    // Any other SinkError subclass is retriable in-process; keep that meaning across the thread.
    name: error instanceof SinkError && !['PartialBatchError', 'FatalError', 'RetriableError'].includes(error.name) ? 'RetriableError' : error.name,
    code: e.code === undefined ? undefined : String(e.code),
    message: error.message,
    retryAfterMs: e.retryAfterMs,
    failures: e.failures?.map((f) => ({ index: f.index, retriable: f.retriable, code: f.code, message: f.message, retryAfterMs: f.retryAfterMs, notAttempted: f.notAttempted })),
  };
}
