/**
 * One callback request and its response on uWebSockets.js directly, without hyper-express's
 * Request and Response objects: the callback route is the hot path, and hyper-express costs 3–6 µs
 * of CPU per request on top of uWS (bench cases 1 and 1u, same load), for what this route does not
 * use (its header map, its body collector and promise, its response state).
 *
 * uWS rules this follows:
 * - the HttpRequest is readable only synchronously in the route handler: the query and the headers
 *   this route needs are copied out there (readHeaders);
 * - onAborted and onData must be attached in that same synchronous call, or the body is lost;
 * - the response must not be touched after it was ended or aborted (uWS throws): `open` guards
 *   every write, and a write outside the handler's own call is corked.
 */
import type uWS from 'uWebSockets.js';
import type { Answer } from './answers.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY_BODY = Buffer.alloc(0);

const STATUS_LINE: Record<number, string> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  411: '411 Length Required',
  413: '413 Payload Too Large',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_LINE[status] ?? `${status} Error`;
}

/** The request headers this route reads, from one pass over them. */
export interface RequestHeaders {
  /** Every Content-Length value, in order (uWS frames the body by the first). */
  contentLength: string[];
  transferEncoding: boolean;
  /** Every X-Forwarded-For line, in order; only collected when asked for. */
  forwardedFor: string[] | undefined;
}

/** Synchronous part of the route handler only. */
export function readHeaders(req: uWS.HttpRequest, withForwarded: boolean): RequestHeaders {
  const headers: RequestHeaders = { contentLength: [], transferEncoding: false, forwardedFor: withForwarded ? [] : undefined };
  req.forEach((key, value) => {
    if (key === 'content-length') headers.contentLength.push(value);
    else if (key === 'transfer-encoding') headers.transferEncoding = true;
    else if (key === 'x-forwarded-for') headers.forwardedFor?.push(value);
  });
  return headers;
}

export class Exchange {
  /** The client went away (uWS onAborted): nothing may be written any more. */
  aborted = false;
  /** The answer has been written. */
  answered = false;
  /** Body bytes uWS has handed over so far, kept or not. */
  receivedBytes = 0;
  /** The last chunk of the body has arrived. */
  complete = false;
  /** Called once if the client goes away before the answer (what it held can be freed at once). */
  onAborted: (() => void) | undefined;
  private body: Buffer | undefined;
  private onComplete: ((body: Buffer) => void) | undefined;
  private address: string | undefined;

  constructor(private readonly res: uWS.HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
      this.body = undefined;
      this.onComplete = undefined;
      this.onAborted?.();
    });
  }

  /** Neither answered nor aborted: a write is still allowed. */
  get open(): boolean {
    return !this.answered && !this.aborted;
  }

  /**
   * The TCP peer's address, readable until the answer is written (uWS). 'unknown' afterwards, or
   * when uWS refuses (an aborted response).
   */
  peerAddress(): string {
    if (this.address !== undefined) return this.address;
    if (!this.open) return 'unknown';
    try {
      this.address = Buffer.from(this.res.getRemoteAddressAsText()).toString();
    } catch {
      this.address = 'unknown';
    }
    return this.address;
  }

  /**
   * Collects a body of `declared` bytes (uWS frames it by Content-Length) into one buffer; `done`
   * is called with it once the last chunk is in. Never called when the client goes away first.
   * Must be called in the route handler's synchronous part.
   */
  collect(declared: number, done: (body: Buffer) => void): void {
    this.body = declared > 0 ? Buffer.allocUnsafe(declared) : EMPTY_BODY;
    this.onComplete = done;
    this.listen();
  }

  /**
   * Drops the body as it arrives (counting it); `done`, if given, is called once the last chunk is
   * in. Must be called in the route handler's synchronous part, or the connection stalls.
   */
  discard(done?: () => void): void {
    this.body = undefined;
    this.onComplete = done;
    this.listen();
  }

  /** Writes the whole answer; `close` ends the connection after it. Corked: safe after an await. */
  answer(answer: Answer, close = false): void {
    if (!this.open) return;
    this.answered = true;
    const res = this.res;
    try {
      res.cork(() => {
        res.writeStatus(statusLine(answer.status));
        res.writeHeader('content-type', JSON_TYPE);
        res.end(answer.body, close);
      });
    } catch {
      // The socket went away in the meantime: nothing to answer.
    }
  }

  private listen(): void {
    this.res.onData((chunk, isLast) => {
      const bytes = chunk.byteLength;
      const body = this.body;
      if (body !== undefined && bytes > 0) {
        // Never past the buffer: uWS stops at Content-Length, but a chunked body has none.
        const room = body.length - this.receivedBytes;
        if (room > 0) body.set(new Uint8Array(chunk, 0, Math.min(bytes, room)), this.receivedBytes);
      }
      this.receivedBytes += bytes;
      if (!isLast) return;
      this.complete = true;
      const done = this.onComplete;
      this.onComplete = undefined;
      if (done === undefined || this.aborted) return;
      const kept = body === undefined ? EMPTY_BODY : this.receivedBytes < body.length ? body.subarray(0, this.receivedBytes) : body;
      this.body = undefined;
      (done as (body: Buffer) => void)(kept);
    });
  }
}
