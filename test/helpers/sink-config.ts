import type { SinkConfig } from '../../src/config/schema.js';

/** A sink's host config for tests that build a SinkRunner directly (loader defaults, small timings). */
export function sinkConfig(extra: Partial<SinkConfig> = {}): SinkConfig {
  return {
    name: 'test',
    type: 'test',
    options: {},
    batch: { max_events: 20, max_bytes: 1024 * 1024, max_wait_ms: 5 },
    retry: { initial_backoff_ms: 5, max_backoff_ms: 50, max_attempts: 1000 },
    max_in_flight: 4,
    write_timeout_ms: 2000,
    connect_timeout_ms: 2000,
    thread: false,
    ...extra,
  };
}
