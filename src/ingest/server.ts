/**
 * HTTP front door (hyper-express on uWebSockets.js). It only does transport: method and path,
 * body size, reading the raw body (hyper-express's req.json() would swallow parse errors), and the
 * operational endpoints. Everything about callbacks is in handler.ts.
 */
import HyperExpress from 'hyper-express';
import type { Logger } from 'pino';
import { reject, type Answer } from './answers.js';
import type { CallbackHandler } from './handler.js';
import type { RateLimiter } from './ratelimit.js';
import type { ListenConfig } from '../config/schema.js';
import type { Metrics } from '../telemetry/metrics.js';

export interface ReadinessReport {
  ready: boolean;
  [key: string]: unknown;
}

export interface ServerDeps {
  listen: ListenConfig;
  handler: CallbackHandler;
  metrics: Metrics;
  logger: Logger;
  readiness: () => Promise<ReadinessReport>;
  /** Called before /metrics is rendered, to refresh gauges read from the queue. */
  beforeMetrics?: () => Promise<void>;
  /** Per-client-IP limit checked before the body is read (429 RATE_LIMITED); none by default. */
  rateLimiter?: RateLimiter;
  /**
   * A callback's body must be complete this long after its headers arrived, or the request is
   * answered 408 REQUEST_TIMEOUT and the connection closed (slowloris). Default 8 s, below
   * uWS's fixed 10 s idle timeout, so that a stalled client gets an answer before uWS drops it.
   */
  bodyTimeoutMs?: number;
}

/** A request whose body is being read; swept by one interval timer (no timer per request). */
interface BodyRead {
  startedMs: number;
  res: HyperExpress.Response;
  ip: () => string;
  /** Set while we wait for the body to be read. */
  resolve?: (body: Buffer | undefined) => void;
  /** Set when the answer is given and hyper-express waits for the rest of the body before sending it. */
  answer?: Answer;
}

export const DEFAULT_BODY_TIMEOUT_MS = 8_000;

const JSON_TYPE = 'application/json; charset=utf-8';

function createApp(tls: ListenConfig['tls']): HyperExpress.Server {
  return new HyperExpress.Server({
    // The limit is enforced in the handler, which can answer 413 with a JSON body (hyper-express
    // would send a bare 413, and never call the handler).
    max_body_length: Number.MAX_SAFE_INTEGER,
    fast_abort: false,
    // We close the listener ourselves when draining; hyper-express would close it again on
    // process exit, and a double close of a uWS listen socket crashes (SIGSEGV).
    auto_close: false,
    ...(tls ? { cert_file_name: tls.cert_file, key_file_name: tls.key_file, passphrase: tls.passphrase } : {}),
  });
}

export class IngestServer {
  private app: HyperExpress.Server;
  private socket: unknown;
  private boundPort = 0;
  private inFlight = 0;
  private draining = false;
  private readonly reading = new Set<BodyRead>();
  private readonly bodyTimeoutMs: number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ServerDeps) {
    const { listen } = deps;
    this.bodyTimeoutMs = deps.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
    this.app = createApp(listen.tls);
    this.routes();
  }

  /**
   * Serves a renewed certificate without a restart: a second uWS app binds the same port
   * (SO_REUSEPORT), then the old listener closes; its open connections finish normally.
   */
  async reloadTls(tls: NonNullable<ListenConfig['tls']>): Promise<void> {
    const next = createApp(tls);
    const previous = this.app;
    this.app = next;
    this.routes();
    try {
      await next.listen(this.boundPort, this.deps.listen.host);
    } catch (error) {
      this.app = previous;
      throw error;
    }
    previous.close();
  }

  get port(): number {
    return this.boundPort;
  }

  /** Requests currently being answered. */
  get pending(): number {
    return this.inFlight;
  }

  async start(): Promise<void> {
    const { host, port } = this.deps.listen;
    this.socket = await this.app.listen(port, host);
    this.boundPort = port !== 0 ? port : (this.app as unknown as { port: number }).port;
    const period = Math.max(50, Math.min(1000, Math.floor(this.bodyTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  /** Bodies being read right now (slow or stalled clients show up here). */
  get readingBodies(): number {
    return this.reading.size;
  }

  /** Health answers 503 from now on; callbacks are refused by the handler. */
  markDraining(): void {
    this.draining = true;
  }

  /** Waits (bounded) for in-flight requests, then closes the listen socket. */
  async stop(deadlineMs: number): Promise<void> {
    while (this.inFlight > 0 && Date.now() < deadlineMs) await new Promise((r) => setTimeout(r, 5));
    this.app.close();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /**
   * Reads the whole body, or resolves undefined when the client went away or missed the body
   * deadline (then it has been answered 408 already). hyper-express would otherwise wait forever
   * for a body that trickles in (every byte resets uWS's 10 s idle timeout).
   */
  private readBody(req: HyperExpress.Request, res: HyperExpress.Response, startedMs: number, ip: () => string): Promise<Buffer | undefined> {
    return new Promise((resolve, rejectRead) => {
      const entry: BodyRead = { startedMs, res, ip, resolve };
      this.reading.add(entry);
      req.buffer().then(
        (body) => {
          if (this.reading.delete(entry)) resolve(body);
        },
        (error: unknown) => {
          if (this.reading.delete(entry)) rejectRead(error);
        },
      );
    });
  }

  /**
   * Rejects a request whose body is not (fully) read. hyper-express sends the answer once the rest
   * of the body has arrived (and is discarded): answering while the client is still uploading
   * makes most clients fail with EPIPE instead of seeing the status. The connection is closed
   * afterwards. A body that does not finish within the body deadline gets the answer at once.
   */
  private answerBeforeBody(req: HyperExpress.Request, res: HyperExpress.Response, answer: Answer, startedMs: number, ip: () => string): void {
    send(res, answer, true);
    if (!res.completed && !res.aborted && !req.received) this.reading.add({ startedMs, res, ip, answer });
  }

  private sweep(): void {
    if (this.reading.size === 0) return;
    const cutoff = performance.now() - this.bodyTimeoutMs;
    const { metrics, logger } = this.deps;
    for (const entry of this.reading) {
      if (entry.res.completed || entry.res.aborted) {
        // The client went away mid-body: hyper-express never settles req.buffer() then.
        this.reading.delete(entry);
        entry.resolve?.(undefined);
      } else if (entry.startedMs <= cutoff) {
        this.reading.delete(entry);
        if (entry.answer) {
          forceAnswer(entry.res, entry.answer);
        } else {
          forceAnswer(entry.res, rejectTransport('REQUEST_TIMEOUT', `the body was not received within ${this.bodyTimeoutMs} ms`, metrics, logger, entry.ip()));
          entry.resolve?.(undefined);
        }
      }
    }
  }

  private routes(): void {
    const { listen, handler, metrics, logger } = this.deps;
    const limit = listen.body_limit_bytes;

    this.app.post(listen.path, async (req, res) => {
      const receivedAtMs = Date.now();
      // Body deadlines use the monotonic clock, so a wall-clock jump cannot expire or pin them.
      const startedMono = performance.now();
      // Synchronous part: the uWS request is only readable before the first await.
      const framing = contentLengthProblem(req);
      // The client address costs a uWS call and a string per request: read it only when needed
      // (rate limit, allowlist, logs), always before the answer is sent.
      let address: string | undefined;
      const ip = () => (address ??= safeIp(req));
      this.inFlight++;
      try {
        if (this.deps.rateLimiter && !this.deps.rateLimiter.take(ip())) {
          this.answerBeforeBody(req, res, rejectTransport('RATE_LIMITED', `client address ${ip()} is over the per-IP request rate`, metrics, logger, ip()), startedMono, ip);
          return;
        }
        if (framing !== undefined) {
          this.answerBeforeBody(req, res, rejectTransport('CONTENT_LENGTH_INVALID', framing, metrics, logger, ip()), startedMono, ip);
          return;
        }
        const declared = Number(req.headers['content-length'] ?? '0');
        if (declared > limit) {
          this.answerBeforeBody(req, res, rejectTransport('PAYLOAD_TOO_LARGE', `body of ${declared} bytes is over the limit of ${limit} bytes (listen.body_limit_bytes)`, metrics, logger, ip()), startedMono, ip);
          return;
        }
        if (req.headers['transfer-encoding'] !== undefined) {
          // Tencent IM sends Content-Length. A chunked body of unknown size is refused up front
          // rather than buffered: hyper-express cannot stream it to us with a limit.
          this.answerBeforeBody(req, res, rejectTransport('LENGTH_REQUIRED', 'chunked request bodies are not accepted; send Content-Length', metrics, logger, ip()), startedMono, ip);
          return;
        }
        const body = await this.readBody(req, res, startedMono, ip);
        if (body === undefined || res.completed || res.aborted) return;
        if (body.length > limit) {
          send(res, rejectTransport('PAYLOAD_TOO_LARGE', `body is over the limit of ${limit} bytes`, metrics, logger, ip()), true);
          return;
        }
        const answer = await handler.handle({
          query: req.path_query,
          body,
          get clientIp() {
            return ip();
          },
          receivedAtMs,
        });
        send(res, answer);
      } catch (error) {
        logger.error({ code: 'HTTP_HANDLER_ERROR', err: (error as Error).message }, 'request failed unexpectedly');
        send(res, reject('INTERNAL_ERROR', 'unexpected error'), true);
      } finally {
        this.inFlight--;
      }
    });

    this.app.any(listen.path, (req, res) => {
      send(res, rejectTransport('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed; Tencent IM callbacks are POST`, metrics, logger, req.ip), false, { Allow: 'POST' });
    });

    this.app.get('/healthz', (_req, res) => {
      res.status(200).header('content-type', JSON_TYPE).send('{"status":"ok"}');
    });

    this.app.get('/readyz', async (_req, res) => {
      try {
        const report = await this.deps.readiness();
        if (this.draining) {
          report.ready = false;
          report.draining = true;
        }
        if (!res.aborted) res.status(report.ready ? 200 : 503).header('content-type', JSON_TYPE).send(JSON.stringify(report));
      } catch (error) {
        if (!res.aborted) res.status(503).header('content-type', JSON_TYPE).send(JSON.stringify({ ready: false, error: (error as Error).message }));
      }
    });

    this.app.get('/metrics', async (_req, res) => {
      await this.deps.beforeMetrics?.().catch(() => undefined);
      const text = await metrics.registry.metrics();
      if (!res.aborted) res.status(200).header('content-type', metrics.registry.contentType).send(text);
    });

    this.app.set_not_found_handler((req, res) => {
      send(res, rejectTransport('NOT_FOUND', `no callback endpoint at ${truncate(req.path)}; configured path is ${listen.path}`, metrics, logger, safeIp(req)));
    });

    this.app.set_error_handler((_req, res, error) => {
      logger.error({ code: 'HTTP_ERROR', err: error.message }, 'HTTP layer error');
      if (!res.completed && !res.aborted) send(res, reject('INTERNAL_ERROR', 'unexpected error'));
    });
  }
}

function send(res: HyperExpress.Response, answer: Answer, close = false, headers?: Record<string, string>): void {
  if (res.completed || res.aborted) return;
  res.status(answer.status).header('content-type', JSON_TYPE);
  if (headers) for (const [k, v] of Object.entries(headers)) res.header(k, v);
  res.send(answer.body, close);
}

/**
 * Answers at once, even while the request body is still arriving (hyper-express's send() would
 * wait for the whole body), and closes the connection. If hyper-express already wrote the status
 * and headers (a deferred send), only the body is written.
 */
function forceAnswer(res: HyperExpress.Response, answer: Answer): void {
  if (res.completed || res.aborted) return;
  const raw = res.raw as unknown as {
    cork(fn: () => void): void;
    writeStatus(status: string): void;
    writeHeader(key: string, value: string): void;
    end(body: string, closeConnection: boolean): void;
  };
  const state = res as unknown as { completed: boolean; initiated: boolean; route?: { app?: { _resolve_pending_request?: () => void } } };
  const initiated = state.initiated;
  try {
    raw.cork(() => {
      if (!initiated) {
        raw.writeStatus(`${answer.status} ${STATUS_TEXT[answer.status] ?? 'Error'}`);
        raw.writeHeader('content-type', JSON_TYPE);
      }
      raw.end(answer.body, true);
    });
  } catch {
    // The socket went away in the meantime: nothing to answer.
  }
  state.completed = true;
  state.route?.app?._resolve_pending_request?.();
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  411: 'Length Required',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
};

/**
 * uWS frames the body by the first Content-Length header, hyper-express sizes its buffer by the
 * last one: two different values crash the process (RangeError in hyper-express's body collector)
 * or bypass the body limit. Such requests, and non-decimal lengths, are refused before the body is
 * read. Must run synchronously in the route handler (the uWS request is valid only then).
 */
function contentLengthProblem(req: HyperExpress.Request): string | undefined {
  const last = req.headers['content-length'];
  if (last === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(last)) return 'Content-Length is not a decimal number';
  let first: string | undefined;
  try {
    first = (req.raw as unknown as { getHeader(name: string): string }).getHeader('content-length');
  } catch {
    return undefined;
  }
  if (first !== '' && first !== last) return 'Content-Length is given more than once with different values';
  return undefined;
}

function rejectTransport(code: 'PAYLOAD_TOO_LARGE' | 'METHOD_NOT_ALLOWED' | 'NOT_FOUND' | 'LENGTH_REQUIRED' | 'CONTENT_LENGTH_INVALID' | 'REQUEST_TIMEOUT' | 'RATE_LIMITED', reason: string, metrics: Metrics, logger: Logger, ip: string): Answer {
  const answer = reject(code, reason);
  metrics.requests.inc({ command: 'unauthenticated', status: String(answer.status) });
  metrics.rejected.inc({ code });
  logger.warn({ code, status: answer.status, reason, ip }, `request rejected: ${code}`);
  return answer;
}

function safeIp(req: HyperExpress.Request): string {
  try {
    return req.ip;
  } catch {
    return 'unknown';
  }
}

function truncate(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value;
}
