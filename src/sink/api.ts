/**
 * Public sink plugin API, exported as `im-bridge/sink`.
 *
 * A plugin only knows how to connect, write a batch, check health and close. The host owns
 * batching, concurrency, per-conversation ordering, retries with backoff and dead-lettering,
 * identically for built-in and custom sinks (design.md §6). Built-in sinks use exactly this module.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { CanonicalEvent } from '../normalize/event.js';

export type { CanonicalEvent, EventData, Conversation, MessageElement } from '../normalize/event.js';

/** The plugin API version the host implements. A plugin declaring another major is refused at load. */
export const SINK_API_VERSION = '1';

/** What the host hands each sink instance. */
export interface SinkContext {
  /** The sink's name in bridge.yaml (`sinks.<name>`). */
  name: string;
  /** A pino child logger bound to `{ sink: name }`. */
  logger: Logger;
  /** Aborted when the host shuts the sink down. */
  signal: AbortSignal;
  /** Directory of the config file, to resolve relative paths the plugin is given. */
  configDir: string;
  /** Count something plugin-specific; exported as `im_bridge_sink_plugin_events_total{sink,name}`. */
  count(metric: string, value?: number): void;
}

/** A running sink instance, as returned by `create`. */
export interface Sink {
  /** Open connections. The host retries with backoff until it resolves. */
  connect(signal: AbortSignal): Promise<void>;
  /**
   * Deliver every event of the batch, in array order for events of one subject.
   * Resolve only when every event is delivered. Throw RetriableError, FatalError or
   * PartialBatchError; any other error is treated as retriable.
   */
  writeBatch(events: readonly CanonicalEvent[], signal: AbortSignal): Promise<void>;
  /** Optional: mimic a write without extra permissions. Throw when unhealthy. */
  healthcheck?(signal: AbortSignal): Promise<void>;
  /** Flush, then release. Called once. */
  close(): Promise<void>;
}

export interface SinkPlugin<S extends TSchema = TSchema> {
  /** snake_case noun, referenced as `type:` in bridge.yaml (or `type: plugin` + `module:`). */
  type: string;
  /** Must be SINK_API_VERSION's major. */
  apiVersion: string;
  /** TypeBox schema of the plugin's own config keys: types, validation and docs in one declaration. */
  configSchema: S;
  /** Delivery semantics the sink offers; `at_most_once` sinks (fire-and-forget) are counted as such. */
  delivery?: 'at_least_once' | 'at_most_once';
  /**
   * Optional: the rules the schema cannot express (keys that go together, a template that must
   * parse, a regular expression that must compile). Pure and synchronous: no network, no files.
   * The host calls it right after the schema check, with the defaults filled in, so that
   * `im-bridge check` and every start or reload refuse a config that could never start, at the
   * file:line of `sinks.<name>.<path>` (CONFIG_PLUGIN_INVALID). Return [] when the config is fine.
   */
  validate?(config: Static<S>): ReadonlyArray<ConfigProblem>;
  create(config: Static<S>, ctx: SinkContext): Promise<Sink> | Sink;
}

/** One thing wrong with a sink config, found by `SinkPlugin.validate`. */
export interface ConfigProblem {
  /** Dotted key path inside the sink block (`tls.cert_file`, `servers.0`); '' for the block itself. */
  path: string;
  /** What is wrong and how to fix it, without the key (the host prefixes file:line and the key). */
  message: string;
  /** The plugin's own code (e.g. KAFKA_CONFIG), kept when create() refuses the same config. */
  code?: string;
}

/**
 * For `create()`: a config can reach it without the host's load (tests, tools, a conformance run),
 * so a plugin re-runs its `validate` there; this throws the first problem as a FatalError with the
 * problem's code (else `code`), prefixed with its key path.
 */
export function throwIfInvalid(problems: ReadonlyArray<ConfigProblem>, code: string): void {
  const first = problems[0];
  if (!first) return;
  throw new FatalError(first.path ? `${first.path}: ${first.message}` : first.message, { code: first.code ?? code });
}

/** Typed identity: gives `create` the static type of `configSchema`. */
export function defineSink<S extends TSchema>(plugin: SinkPlugin<S>): SinkPlugin<S> {
  return plugin;
}

/** Base of the errors a sink throws to tell the host what to do. */
export abstract class SinkError extends Error {
  /** A stable machine code, e.g. `KAFKA_MESSAGE_TOO_LARGE`, kept in the dead-letter store. */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A transient failure: the host retries the batch with exponential backoff and jitter. */
export class RetriableError extends SinkError {
  /** Wait at least this long before the next attempt (e.g. from Retry-After). */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { code?: string; retryAfterMs?: number; cause?: unknown }) {
    super(message, options?.code ?? 'SINK_RETRIABLE', options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** A permanent failure: retrying cannot help; the host dead-letters the batch's events. */
export class FatalError extends SinkError {
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, options?.code ?? 'SINK_FATAL', options);
  }
}

/** Per-event outcome of a batch that failed in part. */
export interface ItemFailure {
  /** Index into the `events` array passed to writeBatch. */
  index: number;
  /** Retriable items are retried; fatal ones are dead-lettered. */
  retriable: boolean;
  code: string;
  message: string;
  retryAfterMs?: number;
  /**
   * The sink did not try this event: it held it back to keep a conversation's order after an
   * earlier event of the same subject failed. The host retries it without counting an attempt,
   * so it is never dead-lettered for retries it did not get.
   */
  notAttempted?: boolean;
}

/**
 * Some events of the batch were delivered and some were not. Events not listed were delivered
 * and are not sent again.
 */
export class PartialBatchError extends SinkError {
  readonly failures: readonly ItemFailure[];
  constructor(failures: readonly ItemFailure[], message?: string) {
    super(message ?? `${failures.length} event(s) of the batch failed`, 'SINK_PARTIAL_BATCH');
    this.failures = failures;
  }
}

/** True for errors a sink should treat as "the host is shutting this attempt down". */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/**
 * The event as JSON. The host already holds each event's serialized form (it is what the queue
 * stores), so sinks that write JSON (file, webhook, Kafka structured mode) should use this
 * instead of JSON.stringify: it returns the stored bytes when it can.
 */
export { eventJson } from './event-json.js';

// ---------------------------------------------------------------------------------------------
// Transform plugins (docs/transforms.md): a typed function from event to event, run by the host
// at delivery for each sink that lists it under `transforms:`.

/** What the host hands a transform plugin once, when its sink starts. */
export interface TransformContext {
  /** The sink whose `transforms:` list names this step. */
  sink: string;
  /** The step's label (its `name:`, else the plugin type). */
  name: string;
  /** A pino child logger bound to `{ sink, transform }`. */
  logger: Logger;
  /** Directory of the config file, to resolve relative paths the plugin is given. */
  configDir: string;
}

/** What the host hands each call. */
export interface TransformCallContext {
  sink: string;
  /** Aborted when the step's deadline (`timeout_ms`, default 1000) passes. */
  signal: AbortSignal;
}

/**
 * The event to deliver (the one given, changed or not, or a new object), or null to leave this
 * event out for this sink (counted as filtered and acknowledged: it is not retried). The event is
 * the host's private copy: changing it in place is allowed and affects no other sink. `id` and
 * `subject` must stay as they are; an event whose id or subject changed is dead-lettered for the
 * sink (TRANSFORM_IMMUTABLE_CHANGED).
 */
export type TransformResult = CanonicalEvent | null;

export type TransformFunction = (event: CanonicalEvent, ctx: TransformCallContext) => TransformResult | Promise<TransformResult>;

export interface TransformPlugin<S extends TSchema = TSchema> {
  /** snake_case noun naming the transform (the default `transform` metric label). */
  type: string;
  /** Must be SINK_API_VERSION's major (one API version for sinks and transforms). */
  apiVersion: string;
  /** TypeBox schema of the step's `options:`; checked at load, with file:line. */
  configSchema: S;
  /**
   * Called once per sink when the sink starts; returns the function applied to each event. It must
   * be a pure function of the event and the config: the host applies it again on every retry,
   * redelivery and replay and expects the same result.
   */
  create(config: Static<S>, ctx: TransformContext): TransformFunction | Promise<TransformFunction>;
}

/** Typed identity: gives `create` the static type of `configSchema`. */
export function defineTransform<S extends TSchema>(plugin: TransformPlugin<S>): TransformPlugin<S> {
  return plugin;
}

// Helpers every sink deriving names from events needs, public so that custom plugins get the same
// behaviour as the built-ins (which import nothing else from src/ but im-bridge/kafka).
export { RefusalLog } from './refusal-log.js';
export { compileTemplate, TemplateError, type CompiledTemplate, type TemplateOptions } from './template.js';
