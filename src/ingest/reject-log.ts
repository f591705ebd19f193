/**
 * Rejection logs, aggregated per code per interval. A client can send thousands of bad requests a
 * second, and a ~220-byte warn line for each is a disk filler (about 2 GB/h from one client). Per
 * rejection code, the first rejection in an interval (1 s) is logged in full; the others are only
 * counted, and one line sums them up when the interval is over:
 * `request rejected: APP_UNKNOWN … and 999 more in the last second` (`suppressed: 999`).
 * The counters (im_bridge_requests_rejected_total) are incremented by the callers for every
 * request, so metrics stay exact; only log lines are saved.
 *
 * The server and the handler share one instance per logger (rejectLogFor), so that a code is
 * aggregated wherever it is rejected.
 */
import type { Logger } from 'pino';

export const REJECT_LOG_INTERVAL_MS = 1000;

interface Window {
  startedMs: number;
  suppressed: number;
  message: string;
}

export class RejectLog {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = REJECT_LOG_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Logs `fields` (which carry `code`) at warn, or counts it when `code` was logged in this interval. */
  warn(code: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    const window = this.windows.get(code);
    if (window && now - window.startedMs < this.intervalMs) {
      window.suppressed++;
      this.arm();
      return;
    }
    if (window) this.summarize(code, window);
    this.windows.set(code, { startedMs: now, suppressed: 0, message });
    this.logger.warn(fields, message);
  }

  /** Writes the summaries of every interval, over or not (at shutdown: nothing counted goes unsaid). */
  flush(): void {
    for (const [code, window] of this.windows) this.summarize(code, window);
    this.windows.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Summarizes the intervals that are over; keeps a timer only while some interval has a count. */
  private sweep(): void {
    this.timer = undefined;
    const now = this.now();
    let pending = false;
    for (const [code, window] of this.windows) {
      if (now - window.startedMs >= this.intervalMs) {
        this.summarize(code, window);
        this.windows.delete(code);
      } else if (window.suppressed > 0) {
        pending = true;
      }
    }
    if (pending) this.arm();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  private summarize(code: string, window: Window): void {
    if (window.suppressed === 0) return;
    const span = this.intervalMs === 1000 ? 'the last second' : `the last ${this.intervalMs} ms`;
    this.logger.warn(
      { code, suppressed: window.suppressed, intervalMs: this.intervalMs },
      `${window.message} … and ${window.suppressed} more in ${span}`,
    );
    window.suppressed = 0;
  }
}

const shared = new WeakMap<Logger, RejectLog>();

/** The RejectLog of this logger (one per logger, shared by the server and the handler). */
export function rejectLogFor(logger: Logger): RejectLog {
  let log = shared.get(logger);
  if (!log) shared.set(logger, (log = new RejectLog(logger)));
  return log;
}
