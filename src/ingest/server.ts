/**
 * HTTP front door (hyper-express on uWebSockets.js). It only does transport: method and path,
 * body size, the client address (listen.trusted_proxies), the in-flight body budget, reading the raw
 * body (hyper-express's req.json() would swallow parse errors), and the operational endpoints
 * (on the callback port, or on listen.admin). Everything about callbacks is in handler.ts, whose
 * pre-body step (admit: SdkAppid, client IP, Sign) runs before a byte of the body is read.
 *
 *   rate limit → Content-Length framing → admit (SdkAppid, client IP, Sign) → body size → chunked
 *   → in-flight budget → read the body (deadline) → handle → answer
 */
import fs from 'node:fs';
import HyperExpress from 'hyper-express';
import type { Logger } from 'pino';
import { reject, type Answer, type RejectCode } from './answers.js';
import { TrustedProxies } from './client-address.js';
import type { CallbackHandler, CallbackRequest } from './handler.js';
import { DEFAULT_MAX_INFLIGHT_BYTES, InflightBudget, SMALL_BODY_BYTES } from './inflight.js';
import { bindApp, closeSocket, probePort, rebindApp, ListenError, type ListenSocket } from './listen.js';
import type { RateLimiter } from './ratelimit.js';
import { rejectLogFor } from './reject-log.js';
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
  /**
   * The /metrics text, when it is more than this thread's registry: with listen.threads > 1 the
   * main thread merges every ingest thread's counters, and the other threads ask it for the result.
   */
  renderMetrics?: () => Promise<string>;
  /** This server's ingest thread (listen.threads): 0 is the main thread. */
  thread?: number;
  /**
   * Bind onto a port the main thread's server already holds (SO_REUSEPORT) instead of binding it
   * afresh: the ingest threads after the first.
   */
  joinPort?: number;
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
  req: HyperExpress.Request;
  res: HyperExpress.Response;
  ip: () => string;
  /** The body bytes seen at the last sweep, and when that count last grew. */
  bytesSeen: number;
  progressMs: number;
  /** Set while we wait for the body to be read. */
  resolve?: (body: Buffer | undefined) => void;
  /** Set when the answer is decided and only the rest of the body is awaited before it goes out. */
  answer?: Answer;
}

export const DEFAULT_BODY_TIMEOUT_MS = 8_000;

/**
 * uWS closes a connection that received nothing for its 10 s idle timeout, counted in 4 s ticks:
 * 8 to 12 s after the last byte, without an answer. A body that stalls is therefore answered
 * (408, or the answer already decided) after this long without a new byte, whatever
 * listen.body_timeout_ms says, so that the client always reads why. The sweep sees progress up to
 * one period (≤ 1 s) late and fires up to one period late: at most 7 s, under uWS's 8. Tencent
 * sends a whole callback at once and gives up after 2 s, so this never cuts a real one short.
 */
const STALL_ANSWER_MS = 5_000;

const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY_BODY = Buffer.alloc(0);
const PUBLIC_KEYS = { host: 'listen.host', port: 'listen.port' };
const ADMIN_KEYS = { host: 'listen.admin.host', port: 'listen.admin.port' };

function createApp(tls: ListenConfig['tls']): HyperExpress.Server {
  if (tls) {
    for (const [key, file] of [['listen.tls.cert_file', tls.cert_file], ['listen.tls.key_file', tls.key_file]] as const) {
      try {
        fs.accessSync(file, fs.constants.R_OK);
      } catch (error) {
        throw Object.assign(new Error(`cannot read ${key} ${file} (${(error as NodeJS.ErrnoException).code})`), { code: 'TLS_FILE_UNREADABLE' });
      }
    }
  }
  try {
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
  } catch (error) {
    if (!tls) throw error;
    throw Object.assign(new Error(`cannot load the TLS certificate ${tls.cert_file} and key ${tls.key_file}: ${(error as Error).message} (PEM files? listen.tls.passphrase?)`), { code: 'TLS_LOAD_FAILED' });
  }
}

/**
 * The request the handler sees. A class with the getter on its prototype, never an object literal
 * with `get clientIp()`: V8 keeps such a literal in dictionary mode, and the requests built that way
 * (the getter's closure and the uWS request, response and body it sees) outlived their answer through
 * scavenges of the HTTP thread into the old generation. Measured with --trace-gc-nvp, the daemon at
 * 5,500 req/s: 0.77 MB promoted per scavenge, 0.28 MB with this class; the full GCs that forced
 * every ~2 s held the answers of the requests arriving meanwhile for 10 ms and more (bench case 4h
 * p99 16 against 8 ms, README "Performance"). test/unit/ingest/request-shape.test.ts guards it.
 */
class IncomingCallback implements CallbackRequest {
  body: Buffer = EMPTY_BODY;

  constructor(
    readonly query: string,
    readonly receivedAtMs: number,
    /** Content-Length, for the log of a request refused before its body was read. */
    readonly declaredBytes: number,
    private readonly addressOf: () => string,
  ) {}

  /** Read only when needed (allowlist, rate limit, logs): it costs a uWS call and a string. */
  get clientIp(): string {
    return this.addressOf();
  }
}

export class IngestServer {
  private app: HyperExpress.Server;
  private socket: ListenSocket | undefined;
  private boundPort = 0;
  /** listen.admin: /healthz, /readyz and /metrics on an address of their own. */
  private adminApp: HyperExpress.Server | undefined;
  private adminSocket: ListenSocket | undefined;
  private adminBoundPort = 0;
  private inFlight = 0;
  private draining = false;
  private readonly reading = new Set<BodyRead>();
  private readonly bodyTimeoutMs: number;
  private readonly budget: InflightBudget;
  private readonly trusted: TrustedProxies | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ServerDeps) {
    const { listen } = deps;
    this.bodyTimeoutMs = deps.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
    this.budget = new InflightBudget(listen.max_inflight_bytes ?? DEFAULT_MAX_INFLIGHT_BYTES);
    this.trusted = listen.trusted_proxies?.length ? new TrustedProxies(listen.trusted_proxies) : undefined;
    this.app = createApp(listen.tls);
    this.routes();
    if (listen.admin) {
      this.adminApp = createApp(undefined);
      this.adminRoutes(this.adminApp);
    }
  }

  /**
   * Serves a renewed certificate without a restart: a second uWS app binds the same port
   * (SO_REUSEPORT: the HTTPS listener is the one that shares its port, see listen.ts), then the old
   * listener closes; its open connections finish normally.
   */
  async reloadTls(tls: NonNullable<ListenConfig['tls']>): Promise<void> {
    const next = createApp(tls);
    const previous = this.app;
    const previousSocket = this.socket;
    this.app = next;
    this.routes();
    try {
      compile(next);
      this.socket = await rebindApp(next.uws_instance, this.deps.listen.host, this.boundPort, PUBLIC_KEYS);
    } catch (error) {
      this.app = previous;
      this.socket = previousSocket;
      throw error;
    }
    closeSocket(previousSocket);
  }

  get port(): number {
    return this.boundPort;
  }

  /**
   * listen.threads > 1: the port every ingest thread will share, found (and checked free) before
   * any of them binds, so that no thread takes connections before all are listening.
   */
  static async reservePort(listen: Pick<ListenConfig, 'host' | 'port'>, logger: Logger): Promise<number> {
    try {
      return await probePort(listen.host, listen.port, PUBLIC_KEYS);
    } catch (error) {
      logListenError(logger, error);
      throw error;
    }
  }

  /** The port of listen.admin (0 when there is none). */
  get adminPort(): number {
    return this.adminBoundPort;
  }

  /** Body bytes reserved right now (listen.max_inflight_bytes). */
  get inflightBytes(): number {
    return this.budget.bytes;
  }

  /** Requests currently being answered. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Binds the callback port (exclusively; HTTPS shares its port only with its own reload) and
   * listen.admin. A failure names the address and the errno (ListenError, code LISTEN_FAILED).
   */
  async start(): Promise<void> {
    const { host, port, tls, admin } = this.deps.listen;
    try {
      compile(this.app);
      if (this.deps.joinPort !== undefined) {
        this.socket = await rebindApp(this.app.uws_instance, host, this.deps.joinPort, PUBLIC_KEYS);
        this.boundPort = this.deps.joinPort;
      } else {
        // Shared (SO_REUSEPORT, after a probe that refuses a port another process holds): the HTTPS
        // reload binds a second app on it.
        const bound = await bindApp(this.app.uws_instance, host, port, tls ? 'shared' : 'exclusive', PUBLIC_KEYS);
        this.socket = bound.socket;
        this.boundPort = bound.port;
      }
      if (this.adminApp && admin) {
        compile(this.adminApp);
        const adminBound = await bindApp(this.adminApp.uws_instance, admin.host ?? '127.0.0.1', admin.port, 'exclusive', ADMIN_KEYS);
        this.adminSocket = adminBound.socket;
        this.adminBoundPort = adminBound.port;
      }
    } catch (error) {
      closeSocket(this.socket);
      this.socket = undefined;
      logListenError(this.deps.logger, error);
      throw error;
    }
    const period = Math.max(50, Math.min(1000, Math.floor(Math.min(this.bodyTimeoutMs, STALL_ANSWER_MS) / 4)));
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
    closeSocket(this.socket);
    closeSocket(this.adminSocket);
    this.socket = this.adminSocket = undefined;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    // The last "… and N more" lines are written now, not lost with the process.
    rejectLogFor(this.deps.logger).flush();
  }

  /**
   * After stop(): closes every connection still open (keep-alive ones too). An ingest thread does
   * this before it ends: a thread whose loop still holds uWS sockets aborts the process on exit.
   */
  closeConnections(): void {
    (this.app.uws_instance as unknown as { close(): void }).close();
  }

  /**
   * Reads the whole body, or resolves undefined when the client went away or missed the body
   * deadline (then it has been answered 408 already). hyper-express would otherwise wait forever
   * for a body that trickles in (every byte resets uWS's 10 s idle timeout).
   */
  private readBody(req: HyperExpress.Request, res: HyperExpress.Response, startedMs: number, ip: () => string): Promise<Buffer | undefined> {
    return new Promise((resolve, rejectRead) => {
      const entry: BodyRead = { startedMs, req, res, ip, resolve, bytesSeen: 0, progressMs: startedMs };
      this.reading.add(entry);
      bodyOf(req).then(
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
   * Rejects a request whose body is not (fully) read; nothing of the body is kept either way, and
   * the connection is closed afterwards.
   * - By default the body is discarded as it arrives, and the answer goes out, whole, once it is
   *   complete: answering while the client is still uploading makes most clients fail with EPIPE
   *   instead of seeing the status. A body that does not finish within the body deadline, or stops
   *   arriving for STALL_ANSWER_MS, gets the answer at once.
   * - `cutShort` (a stranger: authentication failed, or the in-flight budget is full) with a body
   *   over 64 KiB: the answer goes out at once and the connection is closed, which ends the upload
   *   (an attacker's 4 MiB costs the headers only). Small bodies are usually in the socket buffer
   *   already and are drained as above, so that the client sees its 401/403/503.
   */
  private answerBeforeBody(req: HyperExpress.Request, res: HyperExpress.Response, answer: Answer, startedMs: number, ip: () => string, cutShort = false): void {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (cutShort && !req.received && declared > SMALL_BODY_BYTES) {
      // Chunks uWS already holds are still delivered after the close: hyper-express must drop them
      // (buffering one would pause() a finished response, which throws and kills the process).
      discardBody(req);
      forceAnswer(res, answer);
      return;
    }
    if (req.received) {
      send(res, answer, true);
      return;
    }
    // Not hyper-express's send(): it writes the status line at once and the rest only when the body
    // is in, so a client cut off in between (uWS idle timeout) would read a status without a body.
    // The whole answer goes out when the body is in, or at the sweep's deadline.
    discardBody(req);
    const entry: BodyRead = { startedMs, req, res, ip, answer, bytesSeen: receivedBytes(req), progressMs: startedMs };
    this.reading.add(entry);
    req.once('received', () => {
      if (this.reading.delete(entry)) forceAnswer(res, answer);
    });
    // hyper-express pauses uWS past max_body_buffer; the rest of a discarded body must flow in.
    req.resume();
  }

  /**
   * The client's address: the TCP peer, or with listen.trusted_proxies and a trusted peer, the
   * rightmost untrusted X-Forwarded-For hop (client-address.ts).
   */
  private clientAddress(req: HyperExpress.Request, forwarded: string[] | undefined): string {
    const peer = safeIp(req);
    return this.trusted ? this.trusted.clientOf(peer, forwarded) : peer;
  }

  private sweep(): void {
    if (this.reading.size === 0) return;
    const now = performance.now();
    const cutoff = now - this.bodyTimeoutMs;
    const { metrics, logger } = this.deps;
    for (const entry of this.reading) {
      if (entry.res.completed || entry.res.aborted) {
        // The client went away mid-body: hyper-express never settles req.buffer() then.
        this.reading.delete(entry);
        entry.resolve?.(undefined);
        continue;
      }
      const bytes = receivedBytes(entry.req);
      if (bytes !== entry.bytesSeen) {
        entry.bytesSeen = bytes;
        entry.progressMs = now;
      }
      const stalled = now - entry.progressMs >= STALL_ANSWER_MS;
      if (entry.startedMs > cutoff && !stalled) continue;
      this.reading.delete(entry);
      if (entry.answer) {
        forceAnswer(entry.res, entry.answer);
      } else {
        const why = entry.startedMs <= cutoff ? `the body was not received within ${this.bodyTimeoutMs} ms` : `no body bytes for ${Math.round((now - entry.progressMs) / 1000)} s (${bytes} received)`;
        forceAnswer(entry.res, rejectTransport('REQUEST_TIMEOUT', why, metrics, logger, entry.ip()));
        entry.resolve?.(undefined);
      }
    }
  }

  private routes(): void {
    const { listen, handler, metrics, logger } = this.deps;
    const limit = listen.body_limit_bytes;

    const threadRequests = metrics.ingestThreadRequests.labels({ thread: String(this.deps.thread ?? 0) });
    this.app.post(listen.path, async (req, res) => {
      const receivedAtMs = Date.now();
      threadRequests.inc();
      // Body deadlines use the monotonic clock, so a wall-clock jump cannot expire or pin them.
      const startedMono = performance.now();
      // Synchronous part: the uWS request is only readable before the first await.
      const framing = contentLengthProblem(req);
      const forwarded = this.trusted ? forwardedFor(req) : undefined;
      // The client address costs a uWS call and a string per request: read it only when needed
      // (rate limit, allowlist, logs), always before the answer is sent.
      let address: string | undefined;
      const ip = () => (address ??= this.clientAddress(req, forwarded));
      this.inFlight++;
      let reserved = 0;
      try {
        if (this.deps.rateLimiter && !this.deps.rateLimiter.take(ip())) {
          this.answerBeforeBody(req, res, rejectTransport('RATE_LIMITED', 'the client address is over the per-IP request rate', metrics, logger, ip(), `client address ${ip()} is over listen.rate_limit`), startedMono, ip);
          return;
        }
        if (framing !== undefined) {
          this.answerBeforeBody(req, res, rejectTransport('CONTENT_LENGTH_INVALID', framing, metrics, logger, ip()), startedMono, ip);
          return;
        }
        const declared = Number(req.headers['content-length'] ?? '0');
        const request = new IncomingCallback(req.path_query, receivedAtMs, declared, ip);
        // SdkAppid, client IP and Sign are all in the request line: an unauthenticated request is
        // answered (counted and logged by the handler) before a byte of its body is kept. A handler
        // without the pre-body step (test doubles) checks in handle().
        const admission = handler.admit?.(request);
        if (admission !== undefined && !('params' in admission)) {
          this.answerBeforeBody(req, res, admission, startedMono, ip, true);
          return;
        }
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
        if (!this.budget.reserve(declared)) {
          const detail = `${this.budget.bytes} bytes of request bodies in flight; this one declares ${declared}, listen.max_inflight_bytes is ${this.budget.limit}`;
          this.answerBeforeBody(req, res, rejectTransport('INFLIGHT_LIMIT', 'too many request bodies in flight; retry later', metrics, logger, ip(), detail), startedMono, ip, true);
          return;
        }
        reserved = declared;
        const body = await this.readBody(req, res, startedMono, ip);
        if (body === undefined || res.completed || res.aborted) return;
        if (body.length > limit) {
          send(res, rejectTransport('PAYLOAD_TOO_LARGE', `body is over the limit of ${limit} bytes`, metrics, logger, ip()), true);
          return;
        }
        request.body = body;
        const answer = await handler.handle(request, admission);
        send(res, answer);
      } catch (error) {
        logger.error({ code: 'HTTP_HANDLER_ERROR', err: (error as Error).message }, 'request failed unexpectedly');
        send(res, reject('INTERNAL_ERROR', 'unexpected error'), true);
      } finally {
        this.inFlight--;
        // Held until the answer: the body, its text and the event built from it live until then.
        this.budget.release(reserved);
      }
    });

    this.app.any(listen.path, (req, res) => {
      send(res, rejectTransport('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed; Tencent IM callbacks are POST`, metrics, logger, safeIp(req)), false, { Allow: 'POST' });
    });

    this.app.get('/healthz', (_req, res) => {
      res.status(200).header('content-type', JSON_TYPE).send('{"status":"ok"}');
    });

    if (this.deps.listen.admin) {
      // The operators' details (sink errors with internal addresses, queue figures, metrics) are
      // on listen.admin only; a load balancer probing the callback port still learns { ready }.
      this.app.get('/readyz', async (_req, res) => {
        const report = await this.report();
        if (!res.aborted) res.status(report.ready ? 200 : 503).header('content-type', JSON_TYPE).send(report.ready ? '{"ready":true}' : '{"ready":false}');
      });
    } else {
      this.app.get('/readyz', (_req, res) => this.serveReadiness(res));
      this.app.get('/metrics', (_req, res) => this.serveMetrics(res));
    }

    this.app.set_not_found_handler((req, res) => {
      const detail = `no callback endpoint at ${truncate(req.path)}; configured path is ${listen.path}`;
      send(res, rejectTransport('NOT_FOUND', 'no callback endpoint at this path', metrics, logger, safeIp(req), detail));
    });

    this.app.set_error_handler((_req, res, error) => {
      logger.error({ code: 'HTTP_ERROR', err: error.message }, 'HTTP layer error');
      if (!res.completed && !res.aborted) send(res, reject('INTERNAL_ERROR', 'unexpected error'));
    });
  }

  /** listen.admin: health, full readiness and metrics; nothing else (404 without counting it as a callback). */
  private adminRoutes(app: HyperExpress.Server): void {
    app.get('/healthz', (_req, res) => {
      res.status(200).header('content-type', JSON_TYPE).send('{"status":"ok"}');
    });
    app.get('/readyz', (_req, res) => this.serveReadiness(res));
    app.get('/metrics', (_req, res) => this.serveMetrics(res));
    app.set_not_found_handler((_req, res) => {
      res.status(404).header('content-type', JSON_TYPE).send('{"error":"not found; this listener serves /healthz, /readyz and /metrics"}');
    });
    app.set_error_handler((_req, res, error) => {
      this.deps.logger.error({ code: 'HTTP_ERROR', err: error.message }, 'HTTP layer error (admin listener)');
      if (!res.completed && !res.aborted) res.status(500).header('content-type', JSON_TYPE).send('{"error":"unexpected error"}');
    });
  }

  private async report(): Promise<ReadinessReport> {
    try {
      const report = await this.deps.readiness();
      if (this.draining) {
        report.ready = false;
        report.draining = true;
      }
      return report;
    } catch (error) {
      return { ready: false, error: (error as Error).message };
    }
  }

  private async serveReadiness(res: HyperExpress.Response): Promise<void> {
    const report = await this.report();
    if (!res.aborted) res.status(report.ready ? 200 : 503).header('content-type', JSON_TYPE).send(JSON.stringify(report));
  }

  private async serveMetrics(res: HyperExpress.Response): Promise<void> {
    await this.deps.beforeMetrics?.().catch(() => undefined);
    const text = this.deps.renderMetrics ? await this.deps.renderMetrics() : await this.deps.metrics.registry.metrics();
    if (!res.aborted) res.status(200).header('content-type', this.deps.metrics.registry.contentType).send(text);
  }
}

/** A failed bind, logged with its code, address and errno (the message names them for people). */
function logListenError(logger: Logger, error: unknown): void {
  if (error instanceof ListenError) logger.error({ code: error.code, address: error.address, errno: error.errno }, error.message);
}

/** From now on hyper-express drops the body's chunks as uWS hands them over (still counting them). */
function discardBody(req: HyperExpress.Request): void {
  (req as unknown as { _body_parser_stop(): void })._body_parser_stop();
}

/** Body bytes uWS has handed to hyper-express so far (its parser counts them, kept or not). */
function receivedBytes(req: HyperExpress.Request): number {
  return (req as unknown as { _body_received_bytes?: number })._body_received_bytes ?? 0;
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
  401: 'Unauthorized',
  403: 'Forbidden',
  408: 'Request Timeout',
  411: 'Length Required',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
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

type TransportCode = Extract<RejectCode, 'PAYLOAD_TOO_LARGE' | 'METHOD_NOT_ALLOWED' | 'NOT_FOUND' | 'LENGTH_REQUIRED' | 'CONTENT_LENGTH_INVALID' | 'REQUEST_TIMEOUT' | 'RATE_LIMITED' | 'INFLIGHT_LIMIT'>;

/**
 * A refusal by the transport, before authentication: counted every time, logged aggregated per code
 * per second (reject-log.ts). `reason` is what the client reads; `detail`, when given, is what the
 * log says instead (internal figures, the configured path).
 */
function rejectTransport(code: TransportCode, reason: string, metrics: Metrics, logger: Logger, ip: string, detail?: string): Answer {
  const answer = reject(code, reason);
  metrics.requests.inc({ command: 'unauthenticated', status: String(answer.status) });
  metrics.rejected.inc({ code });
  rejectLogFor(logger).warn(code, { code, status: answer.status, reason: detail ?? reason, ip }, `request rejected: ${code}`);
  return answer;
}

/** Every X-Forwarded-For line, in order (hyper-express keeps only the last). Synchronous part only. */
function forwardedFor(req: HyperExpress.Request): string[] | undefined {
  const values: string[] = [];
  try {
    (req.raw as unknown as { forEach(cb: (key: string, value: string) => void): void }).forEach((key, value) => {
      if (key === 'x-forwarded-for') values.push(value);
    });
  } catch {
    return undefined;
  }
  return values;
}

/**
 * The body, without the copy req.buffer() makes (Buffer.from of the Uint8Array hyper-express
 * collected it into, sized by Content-Length): one body in memory instead of two.
 */
function bodyOf(req: HyperExpress.Request): Promise<Buffer> {
  const collector = (req as unknown as { _body_parser_get_received_data?: () => Promise<Uint8Array> })._body_parser_get_received_data;
  if (typeof collector !== 'function') return req.buffer();
  return collector.call(req).then((raw) => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
}

function compile(app: HyperExpress.Server): void {
  (app as unknown as { _compile(): void })._compile();
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
