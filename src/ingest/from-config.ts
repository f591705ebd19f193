/**
 * The ingest handler and server settings built from a config: one copy for the main thread and the
 * other ingest threads (listen.threads), for the start and for a reload.
 */
import type { Logger } from 'pino';
import type { BridgeConfig } from '../config/schema.js';
import type { IngestQueue } from '../queue/queue.js';
import { RouteTable } from '../route/table.js';
import type { Metrics } from '../telemetry/metrics.js';
import { Authenticator } from './auth.js';
import { CallbackHandler, type HandlerDeps } from './handler.js';
import { Quarantine, type QuarantineStore } from './quarantine.js';
import { RateLimiter } from './ratelimit.js';
import { createCallbackValidator } from './schemas/index.js';

/** What a reload changes in a running handler (the listener and the queue stay). */
export function handlerSettings(config: BridgeConfig): Pick<HandlerDeps, 'auth' | 'routes' | 'includeRaw' | 'unmatched' | 'logRequests'> {
  return {
    auth: new Authenticator(config.apps, config.auth.time_window_ms),
    routes: new RouteTable(config.routes),
    includeRaw: config.event.include_raw,
    unmatched: config.unmatched,
    logRequests: config.log.requests,
  };
}

/** The ingest handler: same checks, same answers over any queue backend and in any ingest thread. */
export function createCallbackHandler(
  config: BridgeConfig,
  deps: { queue: IngestQueue & QuarantineStore; metrics: Metrics; logger: Logger; gaps?: HandlerDeps['gaps'] },
): CallbackHandler {
  return new CallbackHandler({
    ...handlerSettings(config),
    validator: createCallbackValidator(),
    queue: deps.queue,
    metrics: deps.metrics,
    logger: deps.logger,
    quarantine: new Quarantine(deps.queue, deps.metrics, deps.logger),
    gaps: deps.gaps,
  });
}

/** listen.rate_limit as a limiter (one per ingest thread), or none. */
export function rateLimiterFor(config: BridgeConfig): RateLimiter | undefined {
  const limit = config.listen.rate_limit;
  return limit && new RateLimiter({ perSecond: limit.per_ip_per_second, burst: limit.burst, maxTrackedIps: limit.max_tracked_ips });
}
