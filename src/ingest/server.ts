/**
 * HTTP front door (hyper-express on uWebSockets.js). It only does transport: method and path,
 * body size, reading the raw body (hyper-express's req.json() would swallow parse errors), and the
 * operational endpoints. Everything about callbacks is in handler.ts.
 */
import HyperExpress from 'hyper-express';
import type { Logger } from 'pino';
import { reject, type Answer } from './answers.js';
import type { CallbackHandler } from './handler.js';
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
}

const JSON_TYPE = 'application/json; charset=utf-8';

export class IngestServer {
  private readonly app: HyperExpress.Server;
  private socket: unknown;
  private boundPort = 0;
  private inFlight = 0;
  private draining = false;

  constructor(private readonly deps: ServerDeps) {
    const { listen } = deps;
    this.app = new HyperExpress.Server({
      // The limit is enforced in the handler, which can answer 413 with a JSON body (hyper-express
      // would send a bare 413, and never call the handler).
      max_body_length: Number.MAX_SAFE_INTEGER,
      fast_abort: false,
      ...(listen.tls ? { cert_file_name: listen.tls.cert_file, key_file_name: listen.tls.key_file, passphrase: listen.tls.passphrase } : {}),
    });
    this.routes();
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
  }

  /** Health answers 503 from now on; callbacks are refused by the handler. */
  markDraining(): void {
    this.draining = true;
  }

  /** Waits (bounded) for in-flight requests, then closes the listen socket. */
  async stop(deadlineMs: number): Promise<void> {
    while (this.inFlight > 0 && Date.now() < deadlineMs) await new Promise((r) => setTimeout(r, 5));
    this.app.close(this.socket as never);
  }

  private routes(): void {
    const { listen, handler, metrics, logger } = this.deps;
    const limit = listen.body_limit_bytes;

    this.app.post(listen.path, async (req, res) => {
      const receivedAtMs = Date.now();
      this.inFlight++;
      try {
        const declared = Number(req.headers['content-length'] ?? '0');
        if (declared > limit) {
          send(res, rejectTransport('PAYLOAD_TOO_LARGE', `body of ${declared} bytes is over the limit of ${limit} bytes (listen.body_limit_bytes)`, metrics, logger, req.ip), true);
          return;
        }
        if (req.headers['transfer-encoding'] !== undefined) {
          // Tencent IM sends Content-Length. A chunked body of unknown size is refused up front
          // rather than buffered: hyper-express cannot stream it to us with a limit.
          send(res, rejectTransport('LENGTH_REQUIRED', 'chunked request bodies are not accepted; send Content-Length', metrics, logger, req.ip), true);
          return;
        }
        const body = await req.buffer();
        if (res.completed || res.aborted) return;
        if (body.length > limit) {
          send(res, rejectTransport('PAYLOAD_TOO_LARGE', `body is over the limit of ${limit} bytes`, metrics, logger, req.ip), true);
          return;
        }
        const answer = await handler.handle({ query: req.path_query, body, clientIp: remoteAddress(req), receivedAtMs });
        send(res, answer);
      } catch (error) {
        logger.error({ code: 'HTTP_HANDLER_ERROR', err: (error as Error).message }, 'request failed unexpectedly');
        send(res, reject('INTERNAL_ERROR', 'unexpected error'));
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

function rejectTransport(code: 'PAYLOAD_TOO_LARGE' | 'METHOD_NOT_ALLOWED' | 'NOT_FOUND' | 'LENGTH_REQUIRED', reason: string, metrics: Metrics, logger: Logger, ip: string): Answer {
  const answer = reject(code, reason);
  metrics.requests.inc({ command: 'unauthenticated', status: String(answer.status) });
  metrics.rejected.inc({ code });
  logger.warn({ code, status: answer.status, reason, ip }, `request rejected: ${code}`);
  return answer;
}

function remoteAddress(req: HyperExpress.Request): string {
  return safeIp(req);
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
