/**
 * HTTP transport of the webhook sink: one undici Agent (a keep-alive Pool per receiver origin,
 * `max_connections` sockets each), a per-origin limit on concurrent requests so that a request's
 * deadline starts when it gets a connection rather than while it queues, a whole-request
 * deadline, redirects followed by hand (same method, body and signature; never the GET rewrite
 * that would drop the event), bounded response reads, and the mapping of every outcome to
 * delivered / retriable / fatal.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { TlsConfig } from './config.js';

/** Bytes of a response body read at most; the rest is discarded by closing the connection. */
export const RESPONSE_READ_LIMIT = 4096;
/** Characters of the response body kept in an error message (and so in the dead-letter store). */
const EXCERPT_CHARS = 512;

const REDIRECTS = new Set([301, 302, 307, 308]);
const CROSS_ORIGIN_DROPPED = ['authorization', 'cookie', 'proxy-authorization'];

/** Why a request was not delivered. */
export interface Failure {
  retriable: boolean;
  code: string;
  message: string;
  retryAfterMs?: number;
  status?: number;
}

export interface SendOptions {
  url: string;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

export interface TransportOptions {
  timeoutMs: number;
  maxConnections: number;
  followRedirects: boolean;
  maxRedirects: number;
  maxRetryAfterMs: number;
  tls: TlsConfig;
  configDir: string;
  count(metric: string): void;
}

export class Transport {
  private readonly agent: Agent;
  private readonly connector: buildConnector.connector;
  private readonly limits = new Map<string, Limit>();

  constructor(private readonly options: TransportOptions) {
    const connect = { ...tlsOptions(options.tls, options.configDir), timeout: options.timeoutMs };
    this.connector = buildConnector(connect);
    this.agent = new Agent({
      connections: options.maxConnections,
      pipelining: 1,
      connect,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** Sends one request; resolves with undefined when delivered (2xx), else with why not. */
  async send(request: SendOptions): Promise<Failure | undefined> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return { retriable: false, code: 'WEBHOOK_BAD_URL', message: `not a valid URL: ${request.url}` };
    }
    const limit = this.limitFor(url.origin);
    try {
      await limit.acquire(request.signal);
    } catch {
      return aborted(request.signal);
    }
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DeadlineError(this.options.timeoutMs)), this.options.timeoutMs);
    const onAbort = () => deadline.abort(request.signal.reason);
    request.signal.addEventListener('abort', onAbort, { once: true });
    if (request.signal.aborted) onAbort();
    try {
      return await this.exchange(url, request, deadline.signal);
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onAbort);
      limit.release();
      if (limit.idle) this.limits.delete(url.origin);
    }
  }

  private async exchange(url: URL, request: SendOptions, signal: AbortSignal): Promise<Failure | undefined> {
    let headers = request.headers;
    for (let hop = 0; ; hop++) {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.agent.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: request.method,
          headers,
          body: request.body,
          signal,
        });
      } catch (error) {
        return this.networkFailure(error, signal, url);
      }
      const status = response.statusCode;
      let excerpt: string;
      try {
        excerpt = await readBounded(response.body, RESPONSE_READ_LIMIT);
      } catch (error) {
        // The receiver answered but the body broke off: the status is what counts.
        excerpt = `(response body unreadable: ${(error as Error).message})`;
      }
      this.options.count(`http_${Math.floor(status / 100)}xx`);
      if (status >= 200 && status < 300) return undefined;

      const location = header(response.headers, 'location');
      if (REDIRECTS.has(status) && location !== undefined && this.options.followRedirects) {
        if (hop >= this.options.maxRedirects) {
          return { retriable: false, code: 'WEBHOOK_TOO_MANY_REDIRECTS', status, message: `more than ${this.options.maxRedirects} redirects from ${display(request.url)}` };
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          return { retriable: false, code: 'WEBHOOK_BAD_REDIRECT', status, message: `HTTP ${status} with an invalid Location: ${location.slice(0, 200)}` };
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          return { retriable: false, code: 'WEBHOOK_BAD_REDIRECT', status, message: `HTTP ${status} redirects to a non-HTTP URL: ${next.protocol}` };
        }
        if (next.origin !== url.origin) headers = withoutCredentials(headers);
        this.options.count('redirects');
        url = next;
        continue;
      }
      return this.statusFailure(status, response.headers, excerpt, url, location);
    }
  }

  private statusFailure(status: number, headers: Dispatcher.ResponseData['headers'], excerpt: string, url: URL, location: string | undefined): Failure {
    const code = `WEBHOOK_HTTP_${status}`;
    const detail = excerpt ? `: ${clean(excerpt)}` : '';
    const where = display(url.href);
    if (status === 408 || status === 429 || status >= 500 || status < 200) {
      const retryAfter = parseRetryAfter(header(headers, 'retry-after'));
      const retryAfterMs = retryAfter === undefined ? undefined : Math.min(retryAfter, this.options.maxRetryAfterMs);
      return { retriable: true, code, status, retryAfterMs, message: `HTTP ${status} from ${where}${detail}` };
    }
    if (status >= 300 && status < 400) {
      const why = this.options.followRedirects ? 'not a followable redirect' : 'redirects are not followed (follow_redirects: false)';
      return { retriable: false, code, status, message: `HTTP ${status} from ${where} to ${location ?? '(no Location)'}: ${why}` };
    }
    return { retriable: false, code, status, message: `HTTP ${status} from ${where}${detail}` };
  }

  private networkFailure(error: unknown, signal: AbortSignal, url: URL): Failure {
    if (signal.aborted) {
      if (signal.reason instanceof DeadlineError) {
        this.options.count('timeouts');
        return { retriable: true, code: 'WEBHOOK_TIMEOUT', message: `no answer from ${display(url.href)} within ${this.options.timeoutMs} ms` };
      }
      return aborted(signal);
    }
    this.options.count('network_errors');
    const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    const code = e.code ?? e.cause?.code ?? 'ERROR';
    if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      this.options.count('timeouts');
      return { retriable: true, code: 'WEBHOOK_TIMEOUT', message: `${code} from ${display(url.href)}: ${e.message}` };
    }
    return { retriable: true, code: 'WEBHOOK_NETWORK_ERROR', message: `${code} ${display(url.href)}: ${e.message ?? String(error)}${e.cause?.message ? ` (${e.cause.message})` : ''}` };
  }

  /** Opens and closes one connection to the origin with the sink's TLS settings. */
  probe(origin: string, signal: AbortSignal): Promise<void> {
    const url = new URL(origin);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.connector(
        { hostname: url.hostname, host: url.host, protocol: url.protocol, port: url.port || (url.protocol === 'https:' ? '443' : '80'), servername: this.options.tls.server_name ?? (isIP(url.hostname) ? undefined : url.hostname) },
        (error, socket) => {
          signal.removeEventListener('abort', onAbort);
          socket?.destroy();
          if (error) reject(error);
          else resolve();
        },
      );
    });
  }

  /** Finishes requests in progress (bounded), then closes every connection. */
  async close(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<'forced'>((resolve) => {
      timer = setTimeout(() => resolve('forced'), graceMs);
    });
    const result = await Promise.race([this.agent.close().then(() => 'closed' as const), forced]);
    clearTimeout(timer);
    if (result === 'forced') await this.agent.destroy();
  }

  private limitFor(origin: string): Limit {
    let limit = this.limits.get(origin);
    if (!limit) {
      limit = new Limit(this.options.maxConnections);
      this.limits.set(origin, limit);
    }
    return limit;
  }
}

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`request deadline of ${ms} ms passed`);
    this.name = 'DeadlineError';
  }
}

/** A counting semaphore with abortable waits. */
class Limit {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  get idle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(grant);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  release(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}

function aborted(signal: AbortSignal): Failure {
  const reason = signal.reason instanceof Error ? signal.reason.message : 'aborted';
  return { retriable: true, code: 'WEBHOOK_ABORTED', message: `request abandoned: ${reason}` };
}

/**
 * Reads at most `limit` bytes of a response body. When more is coming, the stream is destroyed,
 * which closes that connection instead of draining an unbounded body into memory.
 */
export async function readBounded(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = limit - size;
    if (chunk.length >= room) {
      chunks.push(chunk.subarray(0, room));
      size = limit;
      break; // leaving the loop destroys the body
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  if (!body.destroyed && !body.readableEnded) body.destroy();
  return Buffer.concat(chunks, size).toString('utf8');
}

/**
 * `Retry-After` as milliseconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Undefined when absent or malformed; a date in the past gives 0.
 */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!CROSS_ORIGIN_DROPPED.includes(name.toLowerCase())) out[name] = value;
  return out;
}

/** The URL without credentials or query (which may hold tokens), for messages and logs. */
function display(href: string): string {
  try {
    const u = new URL(href);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function clean(excerpt: string): string {
  const flat = excerpt.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

function tlsOptions(tls: TlsConfig, configDir: string): Record<string, unknown> {
  const read = (file: string) => readFileSync(path.resolve(configDir, file));
  const out: Record<string, unknown> = { rejectUnauthorized: tls.reject_unauthorized };
  if (tls.ca_file) out.ca = read(tls.ca_file);
  if (tls.cert_file) out.cert = read(tls.cert_file);
  if (tls.key_file) out.key = read(tls.key_file);
  if (tls.passphrase !== undefined) out.passphrase = tls.passphrase;
  if (tls.server_name) out.servername = tls.server_name;
  return out;
}
