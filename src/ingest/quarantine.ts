/**
 * Requests that authenticated but failed to parse or validate are kept in the dead-letter store
 * (kind "request") for inspection and replay with `im-bridge dlq`. A flood of bad requests must
 * not fill the disk: bodies are capped and the rate is bounded; what is not kept is counted.
 */
import type { Logger } from 'pino';
import type { QuarantineInput } from '../queue/store.js';

/** Where quarantined requests go: the local queue's dead-letter table, or the Kafka dead-letter topic. */
export interface QuarantineStore {
  quarantine(input: QuarantineInput): Promise<number>;
}
import type { Metrics } from '../telemetry/metrics.js';
import type { Answer } from './answers.js';

const MAX_BODY_BYTES = 256 * 1024;
const MAX_PER_SECOND = 50;

export class Quarantine {
  private windowStart = 0;
  private inWindow = 0;
  private skipped = 0;

  constructor(
    private readonly queue: QuarantineStore,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  keep(request: { query: string; body: Buffer; clientIp: string; receivedAtMs: number }, params: URLSearchParams, answer: Answer): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      if (this.skipped > 0) this.logger.warn({ code: 'QUARANTINE_RATE_LIMITED', skipped: this.skipped }, `${this.skipped} invalid request(s) not quarantined (rate limit)`);
      this.windowStart = now;
      this.inWindow = 0;
      this.skipped = 0;
    }
    if (++this.inWindow > MAX_PER_SECOND) {
      this.skipped++;
      return;
    }
    params.delete('Sign');
    const slice = request.body.subarray(0, MAX_BODY_BYTES);
    const text = slice.toString('utf8');
    const isUtf8 = Buffer.from(text, 'utf8').equals(slice);
    const record = {
      query: params.toString(),
      clientIp: request.clientIp,
      receivedAtMs: request.receivedAtMs,
      bytes: request.body.length,
      truncated: request.body.length > MAX_BODY_BYTES,
      ...(isUtf8 ? { body: text } : { bodyBase64: slice.toString('base64') }),
    };
    this.queue
      .quarantine({ code: answer.code ?? 'UNKNOWN', reason: answer.reason ?? '', request: record })
      .then(() => this.metrics.quarantined.inc())
      .catch((error: Error) => this.logger.error({ code: 'QUARANTINE_FAILED', err: error.message }, 'cannot quarantine an invalid request'));
  }
}
