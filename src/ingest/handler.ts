/**
 * One callback request, transport-free: the check order of design.md §1, then normalize, route,
 * and the durable append. The answer is 200 only after the event is on disk.
 *
 *   method/path, framing (server.ts) → SdkAppid → client IP → Sign/RequestTime (admit, before the
 *   body is read) → body size, in-flight budget, body (server.ts) → UTF-8 + JSON (nesting,
 *   duplicate keys; compacted when spaced) → object → command shape → schema → normalize → route → queue (fsync) → 200
 */
import { isUtf8 } from 'node:buffer';
import type { Logger } from 'pino';
import { OK_ANSWER, reject, type Answer, type RejectCode } from './answers.js';
import type { Authenticator } from './auth.js';
import type { CallbackValidator } from './schemas/index.js';
import { normalize, isBeforeCallback } from '../normalize/index.js';
import type { CanonicalEvent } from '../normalize/event.js';
import { QueueUnavailableError, type IngestQueue } from '../queue/queue.js';
import type { RouteTable } from '../route/table.js';
import type { Metrics } from '../telemetry/metrics.js';
import { Quarantine } from './quarantine.js';
import { rejectLogFor } from './reject-log.js';
import { isCommandShaped, COMMAND_SHAPE_TEXT } from './command.js';
import { compactJsonText, countParsedKeys, firstDuplicateKey, scanJsonText } from './json-text.js';
import { beforeCallbackAnswer } from './before-reply.js';

export { nestedDeeperThan } from './json-text.js';

export interface CallbackRequest {
  /** Raw query string without '?'. */
  query: string;
  body: Buffer;
  clientIp: string;
  receivedAtMs: number;
  /** Content-Length, for the log of a request refused before its body was read (body is empty then). */
  declaredBytes?: number;
}

/** What admit() found in the request line; handle() goes on from there without checking again. */
export interface Admission {
  params: URLSearchParams;
  sdkAppId: string;
}

export interface HandlerDeps {
  auth: Authenticator;
  validator: CallbackValidator;
  routes: RouteTable;
  queue: IngestQueue;
  metrics: Metrics;
  logger: Logger;
  quarantine: Quarantine;
  includeRaw: boolean;
  unmatched: 'dead_letter' | 'drop';
  logRequests: 'off' | 'errors' | 'all';
  /** Gap detection (src/gaps): sees every accepted after-callback, once. */
  gaps?: { observe(event: CanonicalEvent): void };
}

const UTF8_BOM = 0xfeff;
const MAX_COMMAND_LABELS = 300;
/** Deepest accepted nesting of arrays/objects in a callback body. */
export const MAX_NESTING = 256;

/**
 * The event as JSON. `data.raw` is the parsed request body, so instead of serializing it again we
 * splice in the request's own (already validated) JSON text: the most expensive part of the
 * stringify, saved. `data` is the event's last member and `raw` the last member of `data`.
 */
export function serializeEvent(event: CanonicalEvent, bodyText: string): string {
  const raw = event.data.raw;
  if (raw === undefined) return JSON.stringify(event);
  event.data.raw = undefined;
  const rest = JSON.stringify(event);
  event.data.raw = raw;
  // charCodeAt, not endsWith('}}'): V8 allocated a copy of the two-byte string for endsWith (6 % of
  // everything allocated per request).
  const n = rest.length;
  if (rest.charCodeAt(n - 1) !== 0x7d || rest.charCodeAt(n - 2) !== 0x7d || rest.charCodeAt(n - 3) === 0x7b) return JSON.stringify(event);
  return `${rest.slice(0, -2)},"raw":${bodyText}}}`;
}

export class CallbackHandler {
  private accepting = true;
  private readonly commandLabels = new Set<string>();
  /** Labelled counter children, looked up once: prom-client hashes a label object on every inc(). */
  private readonly acceptedCounter = new Map<string, { inc(value?: number): void }>();
  private readonly enqueuedCounter = new Map<string, { inc(value?: number): void }>();

  constructor(private deps: HandlerDeps) {}

  /** Hot reload: swap what a new config changes (routes, auth, policies) without touching the listener. */
  update(deps: Partial<HandlerDeps>): void {
    this.deps = { ...this.deps, ...deps };
    this.acceptedCounter.clear();
    this.enqueuedCounter.clear();
  }

  /** Shutdown: from now on every callback gets 503 (never a 200 that could be lost). */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * The checks that need only the request line — shutting down, repeated parameters, SdkAppid,
   * client IP, Sign/RequestTime — run by the server before a byte of the body is read (an
   * unauthenticated body is never buffered). A refusal is counted and logged like any other; an
   * Admission is passed on to handle(). The answer's reason stays generic, the log has the detail.
   */
  admit(request: CallbackRequest): Admission | Answer {
    const d = this.deps;
    if (!this.accepting) return this.rejected(request, reject('SHUTTING_DOWN', 'im-bridge is shutting down'), undefined);
    const params = new URLSearchParams(request.query);
    for (const key of ['SdkAppid', 'CallbackCommand', 'Sign', 'RequestTime'] as const) {
      if (params.getAll(key).length > 1) return this.rejected(request, reject('QUERY_PARAM_REPEATED', `query parameter ${key} appears more than once`), undefined);
    }
    const sdkAppId = params.get('SdkAppid') ?? undefined;
    const failure = d.auth.check(sdkAppId, params.get('Sign') ?? undefined, params.get('RequestTime') ?? undefined, () => request.clientIp);
    if (failure) return this.rejected(request, { ...reject(failure.code, failure.reason), reason: failure.detail ?? failure.reason }, undefined);
    return { params, sdkAppId: sdkAppId! };
  }

  /** `admission` from admit() when the server ran it before reading the body; else admit() runs here. */
  async handle(request: CallbackRequest, admission?: Admission): Promise<Answer> {
    // Checked again: shutdown may have begun while the body was being read.
    if (!this.accepting) return this.rejected(request, reject('SHUTTING_DOWN', 'im-bridge is shutting down'), undefined);
    const admitted = admission ?? this.admit(request);
    if (!('params' in admitted)) return admitted;
    const { params, sdkAppId } = admitted;
    const d = this.deps;

    let body: unknown;
    let text: string;
    let keysInText = 0;
    let spaced = false;
    try {
      // isUtf8 (C++) then toString is cheaper than a fatal TextDecoder; a BOM is dropped as before.
      if (!isUtf8(request.body)) throw new TypeError('invalid UTF-8');
      text = request.body.toString('utf8');
      if (text.charCodeAt(0) === UTF8_BOM) text = text.slice(1);
      // JSON.parse copes with 100k levels, but the event built from such a body does not
      // (JSON.stringify overflows the stack: a 500). Real callbacks are a few levels deep.
      const shape = scanJsonText(request.body, MAX_NESTING);
      if (shape.tooDeep) throw new RangeError('nested too deeply');
      keysInText = shape.keys;
      spaced = shape.spaced;
      body = JSON.parse(text);
    } catch (error) {
      const code: RejectCode = error instanceof TypeError ? 'BODY_NOT_UTF8' : 'BODY_NOT_JSON';
      const reason =
        code === 'BODY_NOT_UTF8'
          ? 'body is not valid UTF-8'
          : error instanceof RangeError
            ? 'body is nested too deeply to parse'
            : `body is not JSON: ${(error as Error).message}`;
      return this.rejected(request, reject(code, reason), params, true);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return this.rejected(request, reject('BODY_NOT_OBJECT', `body must be a JSON object, got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`), params, true);
    }
    // One reading of the body: JSON.parse keeps the last of two equal keys, a first-wins consumer of
    // data.raw would see the other value. Every key in the text is one ':'; JSON.parse keeps one per name.
    if (countParsedKeys(body) !== keysInText) {
      const key = firstDuplicateKey(text);
      return this.rejected(request, reject('BODY_DUPLICATE_KEY', `body has the key ${JSON.stringify(key ?? '?').slice(0, 80)} twice in one object`), params, true);
    }
    // One event, one line: data.raw is spliced from this text (see serializeEvent).
    if (spaced) text = compactJsonText(text);
    const object = body as Record<string, unknown>;
    const command = params.get('CallbackCommand') || (typeof object.CallbackCommand === 'string' ? object.CallbackCommand : '');
    if (!command) return this.rejected(request, reject('COMMAND_MISSING', 'CallbackCommand is missing from the query string and the body'), params, true);
    if (!isCommandShaped(command)) {
      return this.rejected(request, reject('COMMAND_INVALID', `CallbackCommand must be ${COMMAND_SHAPE_TEXT} (got ${command.length} characters)`), params, true);
    }

    const valid = d.validator.validate(command, object);
    if (!valid.ok) return this.rejected(request, reject('SCHEMA_VIOLATION', `${command}: ${valid.error}`), params, true, command);

    const event = normalize(
      object,
      {
        sdkAppId: sdkAppId!,
        command,
        clientIp: params.get('ClientIP') ?? undefined,
        optPlatform: params.get('OptPlatform') ?? undefined,
        receivedAtMs: request.receivedAtMs,
      },
      { includeRaw: d.includeRaw },
    );
    const label = this.commandLabel(command);

    if (isBeforeCallback(command)) {
      // Answered at once with "allow, unchanged" in the shape the command's page documents
      // (before-reply.ts); forwarded only when a route asks for it.
      const sinks = d.routes.match(event).sinks;
      if (sinks.length > 0) {
        // Tencent waits for this answer to deliver the message, so it does not wait for the disk:
        // a forwarded before-callback is not durable. A refusal is counted and logged, never silent.
        this.enqueue(event, sinks, label, text).catch((error: unknown) => {
          const reason = error instanceof QueueUnavailableError ? error.code : 'INTERNAL_ERROR';
          d.metrics.eventsDropped.inc({ reason: `before_callback_not_queued:${reason}` });
          d.logger.warn(
            { code: 'BEFORE_CALLBACK_NOT_QUEUED', reason, err: (error as Error).message, command: label, eventId: event.id },
            'a forwarded before-callback was answered but the queue refused it; dropped',
          );
        });
      }
      this.accepted(label, request);
      return beforeCallbackAnswer(command, object);
    }

    const sinks = d.routes.match(event).sinks;
    if (sinks.length === 0 && d.unmatched === 'drop') {
      d.metrics.eventsUnmatched.inc({ policy: 'drop' });
      // Aggregated like rejections: forged unmatched commands must not fill the disk with log lines.
      rejectLogFor(d.logger).warn('EVENT_UNMATCHED_DROPPED', { code: 'EVENT_UNMATCHED_DROPPED', command, eventId: event.id }, 'no route matched; dropped (unmatched: drop)');
      // The callback did arrive: its seq is no gap, even though policy dropped the event.
      d.gaps?.observe(event);
      this.accepted(label, request);
      return OK_ANSWER;
    }
    try {
      await this.enqueue(event, sinks, label, text);
    } catch (error) {
      if (error instanceof QueueUnavailableError) {
        return this.rejected(request, reject(error.code === 'QUEUE_CLOSED' ? 'SHUTTING_DOWN' : 'QUEUE_UNAVAILABLE', `${error.code}: ${error.message}`), params, false, command);
      }
      d.logger.error({ code: 'INGEST_INTERNAL_ERROR', err: (error as Error).message, command }, 'unexpected error while queueing');
      return this.rejected(request, reject('INTERNAL_ERROR', 'the event could not be queued'), params, false, command);
    }
    // Only after the durable append: a refused callback will be sent again or is lost, a gap either way.
    d.gaps?.observe(event);
    this.accepted(label, request);
    return OK_ANSWER;
  }

  /**
   * An event made here instead of received (src/backfill): routed, queued and counted exactly like
   * a callback's, unmatched policy included. Throws what the queue throws (QueueUnavailableError).
   */
  async enqueueEvent(event: CanonicalEvent): Promise<void> {
    const d = this.deps;
    const sinks = d.routes.match(event).sinks;
    if (sinks.length === 0 && d.unmatched === 'drop') {
      d.metrics.eventsUnmatched.inc({ policy: 'drop' });
      d.logger.warn({ code: 'EVENT_UNMATCHED_DROPPED', command: event.imcommand, eventId: event.id }, 'no route matched; dropped (unmatched: drop)');
      return;
    }
    await this.enqueue(event, sinks, this.commandLabel(event.imcommand), event.data.raw === undefined ? '' : JSON.stringify(event.data.raw));
  }

  private async enqueue(event: CanonicalEvent, sinks: string[], label: string, bodyText: string): Promise<void> {
    const d = this.deps;
    await d.queue.append({ id: event.id, subject: event.subject, body: serializeEvent(event, bodyText), sinks }, event);
    if (sinks.length === 0) {
      d.metrics.eventsUnmatched.inc({ policy: 'dead_letter' });
      rejectLogFor(d.logger).warn('EVENT_UNMATCHED_DEAD_LETTERED', { code: 'EVENT_UNMATCHED_DEAD_LETTERED', command: label, eventId: event.id }, 'no route matched; kept in the dead-letter store');
    } else {
      for (const sink of sinks) {
        let child = this.enqueuedCounter.get(sink);
        if (!child) this.enqueuedCounter.set(sink, (child = d.metrics.eventsEnqueued.labels({ sink })));
        child.inc();
      }
    }
  }

  private accepted(label: string, request: CallbackRequest): void {
    const d = this.deps;
    let child = this.acceptedCounter.get(label);
    if (!child) this.acceptedCounter.set(label, (child = d.metrics.requests.labels({ command: label, status: '200' })));
    child.inc();
    d.metrics.ackLatency.observe((Date.now() - request.receivedAtMs) / 1000);
    if (d.logRequests === 'all') d.logger.info({ code: 'REQUEST_ACCEPTED', command: label, ip: request.clientIp }, 'callback accepted');
  }

  private rejected(request: CallbackRequest, answer: Answer, params: URLSearchParams | undefined, quarantine = false, command?: string): Answer {
    const d = this.deps;
    const label = command ? this.commandLabel(command) : 'unauthenticated';
    d.metrics.requests.inc({ command: label, status: String(answer.status) });
    d.metrics.rejected.inc({ code: answer.code! });
    // Aggregated per code per second (reject-log.ts): counted above for every request, logged in full once.
    if (d.logRequests !== 'off') {
      rejectLogFor(d.logger).warn(
        answer.code!,
        { code: answer.code, status: answer.status, reason: answer.reason, command: command ?? params?.get('CallbackCommand') ?? undefined, ip: request.clientIp, bytes: request.declaredBytes ?? request.body.length },
        `callback rejected: ${answer.code}`,
      );
    }
    if (quarantine && params) d.quarantine.keep(request, params, answer);
    return answer;
  }

  /** Metrics labels come only from authenticated requests and are capped, so junk cannot explode cardinality. */
  private commandLabel(command: string): string {
    if (this.commandLabels.has(command)) return command;
    if (!isCommandShaped(command) || this.commandLabels.size >= MAX_COMMAND_LABELS) return 'other';
    this.commandLabels.add(command);
    return command;
  }
}
