/**
 * The registry of every code the daemon logs, answers or throws (issue #21, code-review P5).
 *
 * One line per code. `docs/codes.md` is generated from this file (`npm run codes:doc`) and
 * test/unit/codes.test.ts fails when a code in src/ or plugins/ is missing here, when an entry here
 * is used nowhere, or when docs/codes.md is stale.
 *
 * Kinds:
 * - `log`: the `code` field of a log line (pino JSON, `[CODE]` in pretty output);
 * - `answer`: the code at the start of an HTTP answer's `ErrorInfo`, with its status and numeric
 *   `ErrorCode` taken from `REJECTIONS` (src/ingest/answers.ts, the only copy of those numbers); also
 *   logged and counted in `im_bridge_requests_rejected_total{code}`;
 * - `error`: the code of a thrown error or of a failed delivery: `errorCode` in SINK_WRITE_RETRY and
 *   EVENT_DEAD_LETTERED lines, the dead letter's `code` (`im-bridge dlq list`), the `code` label of
 *   `im_bridge_delivery_retries_total` / `im_bridge_dead_lettered_total`, `[CODE]` of a config error;
 * - `check`: a warning of `im-bridge check` (`warning: CODE: message`).
 *
 * A key ending in `*` is a prefix: the code is built at run time (`KAFKA_${brokerErrorType}`).
 */
import { REJECTIONS, type RejectCode } from './ingest/answers.js';
import type { ConfigErrorCode } from './config/errors.js';
import type { PluginLoadCode } from './sink/loader.js';
import type { QueueRefusal } from './queue/index.js';

export type CodeArea =
  | 'ingest'
  | 'config'
  | 'bridge'
  | 'queue'
  | 'delivery'
  | 'sink'
  | 'transform'
  | 'gaps'
  | 'backfill'
  | 'cli'
  | 'telemetry'
  | 'kafka'
  | 'nats'
  | 'elasticsearch'
  | 'webhook'
  | 'file'
  | 'stdout';

/** Display order of the areas in docs/codes.md. */
export const CODE_AREAS: readonly CodeArea[] = ['ingest', 'config', 'bridge', 'queue', 'delivery', 'sink', 'transform', 'gaps', 'backfill', 'cli', 'telemetry', 'kafka', 'nats', 'elasticsearch', 'webhook', 'file', 'stdout'];

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type CodeInfo =
  | { kind: 'log'; area: CodeArea; level: LogLevel | `${LogLevel}/${LogLevel}`; meaning: string; action?: string }
  | { kind: 'answer'; area: CodeArea; status: number; errorCode: number; meaning: string; action?: string }
  | { kind: 'error'; area: CodeArea; retriable?: boolean; meaning: string; action?: string }
  | { kind: 'check'; area: CodeArea; meaning: string; action?: string };

const log = (area: CodeArea, level: LogLevel | `${LogLevel}/${LogLevel}`, meaning: string, action?: string): CodeInfo => ({ kind: 'log', area, level, meaning, ...(action ? { action } : {}) });
/** An error code; `retriable`: true = retried with backoff, false = dead-lettered at once, undefined = not a delivery outcome. */
const err = (area: CodeArea, retriable: boolean | undefined, meaning: string, action?: string): CodeInfo => ({ kind: 'error', area, ...(retriable === undefined ? {} : { retriable }), meaning, ...(action ? { action } : {}) });
const check = (meaning: string, action?: string): CodeInfo => ({ kind: 'check', area: 'cli', meaning, ...(action ? { action } : {}) });
const answer = (code: RejectCode, meaning: string, action?: string): CodeInfo => ({ kind: 'answer', area: 'ingest', ...REJECTIONS[code], meaning, ...(action ? { action } : {}) });

/** HTTP rejections. Typed by `RejectCode`, so a new rejection in answers.ts does not compile until it is described here. */
const ANSWERS: Record<RejectCode, CodeInfo> = {
  NOT_FOUND: answer('NOT_FOUND', 'No callback endpoint at this path.', 'Point the Tencent console callback URL at listen.path.'),
  METHOD_NOT_ALLOWED: answer('METHOD_NOT_ALLOWED', 'Not a POST; Tencent IM callbacks are POST.'),
  PAYLOAD_TOO_LARGE: answer('PAYLOAD_TOO_LARGE', 'The body is over listen.body_limit_bytes.', 'Raise listen.body_limit_bytes if such bodies are legitimate.'),
  LENGTH_REQUIRED: answer('LENGTH_REQUIRED', 'A chunked body without Content-Length.'),
  CONTENT_LENGTH_INVALID: answer('CONTENT_LENGTH_INVALID', 'Conflicting or malformed Content-Length headers.'),
  REQUEST_TIMEOUT: answer('REQUEST_TIMEOUT', 'The body did not arrive within listen.body_timeout_ms (slow upload), or no byte of it came for 5 s (stalled upload).'),
  APP_MISSING: answer('APP_MISSING', 'No SdkAppid in the query string.'),
  APP_UNKNOWN: answer('APP_UNKNOWN', 'The SdkAppid is not one of apps[].', 'Add the app to apps[] (or IM_SDK_APP_ID) if it is yours; the log line names the SdkAppid.'),
  IP_NOT_ALLOWED: answer('IP_NOT_ALLOWED', 'The client address is not in apps[].allow_ips.', 'Check apps[].allow_ips and listen.trusted_proxies; the log line names the address.'),
  RATE_LIMITED: answer('RATE_LIMITED', 'The client address is over listen.rate_limit.'),
  SIGN_MISSING: answer('SIGN_MISSING', 'Callback authentication is on but Sign or RequestTime is missing.', 'Enable callback authentication in the Tencent console with the same token.'),
  SIGN_INVALID: answer('SIGN_INVALID', 'Sign does not match the token.', 'Make apps[].token equal the console token.'),
  REQUEST_TIME_INVALID: answer('REQUEST_TIME_INVALID', 'RequestTime is not Unix seconds.'),
  REQUEST_TIME_OUT_OF_WINDOW: answer('REQUEST_TIME_OUT_OF_WINDOW', 'RequestTime is outside the accepted window.', 'Check the host clock (NTP); the log line gives the offset.'),
  QUERY_PARAM_REPEATED: answer('QUERY_PARAM_REPEATED', 'A query parameter (SdkAppid, Sign, ...) appears twice.'),
  BODY_NOT_UTF8: answer('BODY_NOT_UTF8', 'The body is not valid UTF-8.'),
  BODY_NOT_JSON: answer('BODY_NOT_JSON', 'The body is not JSON, or is nested too deeply.'),
  BODY_NOT_OBJECT: answer('BODY_NOT_OBJECT', 'The body is JSON but not an object.'),
  COMMAND_MISSING: answer('COMMAND_MISSING', 'No CallbackCommand in the query string or the body.'),
  COMMAND_INVALID: answer('COMMAND_INVALID', 'CallbackCommand is not of the form Family.Name.'),
  BODY_DUPLICATE_KEY: answer('BODY_DUPLICATE_KEY', 'The same key twice in one JSON object.'),
  SCHEMA_VIOLATION: answer('SCHEMA_VIOLATION', 'The body does not match the schema of its CallbackCommand.', 'The request is kept as a dead letter of kind request: `im-bridge dlq show`.'),
  QUEUE_UNAVAILABLE: answer('QUEUE_UNAVAILABLE', 'The queue cannot take the event; the reason starts with the queue refusal (QUEUE_FULL_EVENTS, QUEUE_DISK_FULL ...). Tencent retries.', 'See the refusal code.'),
  SHUTTING_DOWN: answer('SHUTTING_DOWN', 'The daemon is draining; Tencent retries.'),
  INFLIGHT_LIMIT: answer('INFLIGHT_LIMIT', 'Request bodies in flight are over listen.max_inflight_bytes.', 'Raise listen.max_inflight_bytes if memory allows.'),
  INTERNAL_ERROR: answer('INTERNAL_ERROR', 'An unexpected error while queueing (see INGEST_INTERNAL_ERROR in the log).', 'Report a bug with the log line.'),
};

/** Config errors, `[CODE]` at the end of `file:line:column: key: reason`. Typed by ConfigErrorCode. */
const CONFIG_ERRORS: Record<ConfigErrorCode, CodeInfo> = {
  CONFIG_FILE_NOT_FOUND: err('config', undefined, 'The config file does not exist or cannot be read.', 'Give --config PATH or create bridge.yaml.'),
  CONFIG_YAML_SYNTAX: err('config', undefined, 'The file is not valid YAML.'),
  CONFIG_ENV_UNSET: err('config', undefined, 'A ${VAR} the file uses is not set.', 'Set the variable, or write ${VAR:-default}.'),
  CONFIG_UNKNOWN_KEY: err('config', undefined, 'A key the schema does not know (the message suggests the nearest one).'),
  CONFIG_MISSING_KEY: err('config', undefined, 'A required key is missing.'),
  CONFIG_INVALID_VALUE: err('config', undefined, 'A value has the wrong type or is out of range.'),
  CONFIG_UNKNOWN_SINK: err('config', undefined, 'A route sends to a sink not defined under sinks:.'),
  CONFIG_UNKNOWN_SINK_TYPE: err('config', undefined, 'sinks.<name>.type is neither a built-in sink nor `plugin`.'),
  CONFIG_DUPLICATE_APP: err('config', undefined, 'The same SdkAppid is listed twice under apps:.'),
  CONFIG_UNSIGNED_PUBLIC: err('config', undefined, 'An app without a token on a non-loopback address.', 'Set apps[].token, or IM_BRIDGE_ALLOW_UNSIGNED=true on purpose.'),
  CONFIG_PLUGIN_LOAD: err('config', undefined, 'A sink or transform plugin cannot be loaded; the message carries the PLUGIN_* code.'),
  CONFIG_PLUGIN_INVALID: err('config', undefined, 'Reserved in ConfigErrorCode; not raised at present (plugin check failures are CONFIG_PLUGIN_LOAD).'),
};

/** Plugin loading (src/sink/loader.ts), `[CODE]` at the end of the message; under CONFIG_PLUGIN_LOAD at start. */
const PLUGIN_LOAD_ERRORS: Record<Exclude<PluginLoadCode, ConfigErrorCode>, CodeInfo> = {
  PLUGIN_MODULE_REQUIRED: err('config', undefined, '`type: plugin` without `module:`.'),
  PLUGIN_NOT_FOUND: err('config', undefined, 'The plugin module path or package cannot be resolved from the config directory.', 'Paths are relative to bridge.yaml; packages must be installed next to it.'),
  PLUGIN_IMPORT_FAILED: err('config', undefined, 'The plugin module threw while being imported.'),
  PLUGIN_BAD_EXPORT: err('config', undefined, 'The module does not export a sink/transform plugin (or `module:` given for a built-in type).'),
  PLUGIN_API_VERSION: err('config', undefined, 'The plugin targets another sink API version.', 'Upgrade the plugin or im-bridge.'),
  PLUGIN_DUPLICATE_TYPE: err('config', undefined, 'The plugin declares a type that is a built-in sink type.'),
  PLUGIN_LOAD_TIMEOUT: err('config', undefined, 'The plugin did not finish loading within 10 s.'),
};

/** Why the queue refuses an event (src/queue/index.ts QueueRefusal): the reason of a 503 QUEUE_UNAVAILABLE. */
const QUEUE_REFUSALS: Record<QueueRefusal, CodeInfo> = {
  QUEUE_FULL_EVENTS: err('queue', undefined, 'The queue holds queue.max_events events: callbacks get 503.', 'Fix the slow or failing sink; raise queue.max_events.'),
  QUEUE_FULL_BYTES: err('queue', undefined, 'The queue holds queue.max_bytes bytes: callbacks get 503.', 'Fix the slow or failing sink; raise queue.max_bytes.'),
  QUEUE_FULL_DEAD_LETTERS: err('queue', undefined, 'The dead-letter store is at queue.dead_letter_max_events or dead_letter_max_bytes: callbacks get 503.', 'Replay or purge dead letters (`im-bridge dlq replay` / `dlq purge`).'),
  QUEUE_DISK_FULL: err('queue', undefined, 'Free disk space in queue.dir is below queue.min_free_bytes.', 'Free disk space.'),
  QUEUE_WRITE_FAILED: err('queue', undefined, 'The last queue write failed (I/O error); refused until a write succeeds.', 'Check the disk and the log.'),
  QUEUE_CLOSED: err('queue', undefined, 'The queue is closed (shutdown); answered as SHUTTING_DOWN.'),
};

export const CODES = {
  ...ANSWERS,
  ...CONFIG_ERRORS,
  ...PLUGIN_LOAD_ERRORS,
  ...QUEUE_REFUSALS,

  // ingest
  REQUEST_ACCEPTED: log('ingest', 'info', 'A callback was accepted (only with log.requests: all).'),
  BEFORE_CALLBACK_NOT_QUEUED: log('ingest', 'warn', 'A before-callback was answered 200 but could not be queued; the matching after-callback is the durable record.'),
  EVENT_UNMATCHED_DROPPED: log('ingest', 'warn', 'No route matched the event; dropped (unmatched: drop). Aggregated per second.', 'Add a route, or set unmatched: dead_letter.'),
  EVENT_UNMATCHED_DEAD_LETTERED: log('ingest', 'warn', 'No route matched the event; kept as a dead letter (ROUTE_UNMATCHED). Aggregated per second.', 'Add a route; replay with `im-bridge dlq replay`.'),
  INGEST_INTERNAL_ERROR: log('ingest', 'error', 'Unexpected error while queueing a callback (answered 500 INTERNAL_ERROR).', 'Report a bug.'),
  HTTP_HANDLER_ERROR: log('ingest', 'error', 'A request failed unexpectedly in the HTTP handler.', 'Report a bug.'),
  HTTP_ERROR: log('ingest', 'error', 'The HTTP layer reported an error.'),
  QUARANTINE_FAILED: log('ingest', 'error', 'An invalid request could not be stored as a dead letter of kind request.'),
  QUARANTINE_RATE_LIMITED: log('ingest', 'warn', 'Invalid requests over the quarantine rate (50/s) were not stored; counted here.'),
  QUARANTINE_EVICTED: log('ingest', 'warn', 'Old quarantined requests were deleted to stay within the quarantine limits.'),
  INGEST_THREAD_EXITED: log('ingest', 'error', 'An ingest thread (listen.threads) failed or exited; it is started again after a second. Its open connections are gone; what it acknowledged is on disk.', 'Look for the error before it; report it if it repeats.'),
  INGEST_THREAD_LOG_UNREADABLE: log('ingest', 'warn', 'An ingest thread sent a log line that is not JSON; its first 200 characters are in `line`.', 'Report it: ingest threads log JSON to the main thread.'),
  LISTEN_FAILED: err('ingest', undefined, 'Cannot listen on listen.host:port (or listen.admin); the message names the address and errno.', 'Free the port or change listen.port.'),
  TLS_FILE_UNREADABLE: err('ingest', undefined, 'listen.tls cert_file or key_file cannot be read.'),
  TLS_LOAD_FAILED: err('ingest', undefined, 'The TLS certificate and key cannot be loaded (not PEM, wrong passphrase, mismatched pair).'),
  TLS_RELOADED: log('ingest', 'info', 'SIGHUP re-read the TLS certificate and key.'),
  TLS_RELOAD_FAILED: log('ingest', 'error', 'SIGHUP could not load the TLS certificate; the previous one is still served.'),
  UNKNOWN: err('delivery', undefined, 'Fallback code of a dead letter or quarantined request that carried none.', 'Report a bug.'),

  // config (outside ConfigErrorCode) and reload
  CONFIG_INVALID: err('config', undefined, 'A cross-field config rule failed at start (a bad allow_ips or trusted_proxies entry).'),
  CONFIG_RELOADED: log('config', 'info', 'SIGHUP applied a new configuration generation.'),
  CONFIG_RELOAD_REJECTED: log('config', 'error', 'SIGHUP: the new configuration is invalid; the old one stays. errorCode and file:line say why.'),
  CONFIG_RELOAD_NEEDS_RESTART: log('config', 'warn', 'listen: and queue: changes in a reload take effect at the next restart.'),
  RELOAD_STATUS_WRITE_FAILED: log('config', 'warn', 'The reload status file cannot be written; `im-bridge reload` cannot report the outcome.'),
  AUTH_DISABLED: log('config', 'warn', 'An app has no token: callback signatures are not checked (also an `im-bridge check` warning).', 'Set apps[].token.'),

  // bridge lifecycle
  BRIDGE_STARTED: log('bridge', 'info', 'Listening; the URL, config file and sinks.'),
  BRIDGE_SUMMARY: log('bridge', 'info', 'Start summary: apps, sinks, queue and the next command to try.'),
  BRIDGE_STOPPING: log('bridge', 'info', 'SIGTERM/SIGINT: draining.'),
  BRIDGE_STOPPED: log('bridge', 'info', 'Stopped; undelivered events stay queued.'),
  BRIDGE_FORCED_STOP: log('bridge', 'warn', 'A second signal during the drain: stopping at once (the queue is still closed cleanly).'),
  BRIDGE_STOP_FAILED: log('bridge', 'error', 'Shutdown failed.'),
  BRIDGE_EXIT_UNCLEAN: log('bridge', 'error', 'Exiting without closing the queue (third signal or forced stop timeout); acknowledged events are safe in the WAL.'),

  // queue
  QUEUE_OPENED: log('queue', 'info', 'The queue was opened (SQLite directory or Kafka topic).'),
  QUEUE_LOCKED: err('queue', undefined, 'Another process holds queue.dir (one im-bridge per queue directory).', 'Stop the other daemon, or give this one its own queue.dir.'),
  QUEUE_LOCK_FAILED: err('queue', undefined, 'The queue lock file cannot be opened.'),
  QUEUE_CORRUPT_RECOVERED: log('queue', 'error', 'The queue database was corrupt; it was moved aside and a fresh one started.', 'Inspect the moved-aside file named in `detail`.'),
  QUEUE_ORPHANED_EVENTS: log('queue', 'warn', 'Queued events wait for a sink that is no longer configured.', '`im-bridge queue move --from NAME --to-sink X|--to-dlq`.'),
  QUEUE_STATS_FAILED: log('queue', 'warn', 'Queue statistics cannot be read.'),
  QUEUE_READ_FAILED: log('queue', 'error', 'A sink cannot read its events from the queue; retried.'),
  QUEUE_ACK_FAILED: log('queue', 'error', 'Delivered events cannot be marked delivered; they will be sent again.'),
  QUEUE_DEAD_LETTER_FAILED: log('queue', 'error', 'Failed events cannot be moved to the dead-letter store; tried again with backoff, their conversation waits.', 'Check the queue (disk, dead-letter budget) or the dead-letter topic.'),
  SINK_REMOVED: err('queue', undefined, 'Dead-letter code of events an operator moved out of a sink queue (`im-bridge queue move --to-dlq`).'),
  ROUTE_UNMATCHED: err('queue', undefined, 'Dead-letter code of an event no route matched (unmatched: dead_letter).'),
  KAFKA_QUEUE_WRITE_FAILED: log('queue', 'error', 'queue.type kafka: a produce failed; its callbacks are answered 503.'),
  KAFKA_QUEUE_RECOVERED: log('queue', 'info', 'queue.type kafka: writable again.'),
  KAFKA_TOPICS_CREATED: log('queue', 'info', 'queue.type kafka: the queue topics were created.'),
  KAFKA_CONSUMER_STARTED: log('queue', 'info', 'queue.type kafka: a sink consumes the queue topic as its consumer group.'),
  KAFKA_CONSUMER_START_FAILED: log('queue', 'error', 'queue.type kafka: a sink cannot start its consumer; retried.'),
  KAFKA_PARTITIONS_ASSIGNED: log('queue', 'info', 'queue.type kafka: the consumer group rebalanced; this instance now holds these partitions of the topic.'),
  KAFKA_COMMIT_FAILED: log('queue', 'warn', 'queue.type kafka: settled offsets could not be committed; tried again (a restart meanwhile delivers those events again, same ids).'),

  // delivery
  BUILD_MISSING: err('bridge', undefined, 'Running from source (tests): the compiled file a worker thread needs is not in dist/.', 'Run npm run build.'),
  BUILD_STALE: err('bridge', undefined, 'Running from source (tests): the compiled file in dist/ is older than its TypeScript source, so a test would exercise old code.', 'Run npm run build.'),
  DELIVERY_REVOKED: log('delivery', 'info', 'A shared queue moved partitions to another instance: events fetched but not started were handed back.'),
  SINK_WRITE_RETRY: log('delivery', 'warn', 'A batch failed and is retried with backoff; errorCode is the sink error code.', 'See errorCode.'),
  EVENT_DEAD_LETTERED: log('delivery', 'error', 'An event was moved to the dead-letter store; errorCode says why.', 'Fix the cause, then `im-bridge dlq replay`.'),
  EVENT_CORRUPT: err('delivery', false, 'A stored event cannot be parsed; dead-lettered.'),
  'RETRIES_EXHAUSTED:*': err('delivery', false, 'The event failed sinks.<name>.retry.max_attempts times; the suffix is the last error code.', 'Fix the sink, then `im-bridge dlq replay`.'),

  // sink host (runner, threads)
  SINK_CONNECTED: log('sink', 'info', 'The sink was created and connected.'),
  SINK_CONNECT_FAILED: log('sink', 'warn', 'The sink cannot connect; retried with backoff.'),
  SINK_CREATE_FATAL: log('sink', 'error', 'The sink failed to start with a FatalError (bad configuration); its events stay queued.', 'Fix the sink config and reload.'),
  SINK_RECOVERED: log('sink', 'info', 'A failing sink delivers again.'),
  SINK_STOPPED: log('sink', 'info', 'A sink was stopped (removed by a reload or shutdown); its queued events stay on disk.'),
  SINK_CLOSE_FAILED: log('sink', 'warn', 'A sink did not close cleanly.'),
  SINK_BATCH_ISOLATED: log('sink', 'warn', 'A batch failed with an unclassified error; its events are written one at a time to find the bad one.'),
  SINK_THREAD_UNAVAILABLE: log('sink', 'warn', 'thread: true, but the plugin module is unknown; the sink runs on the main thread.'),
  SINK_THREAD_RESTARTED: log('sink', 'info', 'A threaded sink started a new worker thread.'),
  SINK_THREAD_EXITED: err('sink', true, 'The worker thread of a threaded sink exited or is closed; also logged (error) when the thread stops.'),
  SINK_RETRIABLE: err('sink', true, 'Default code of a RetriableError without a code.'),
  SINK_FATAL: err('sink', false, 'Default code of a FatalError without a code.'),
  SINK_PARTIAL_BATCH: err('sink', undefined, 'Code of a PartialBatchError (per-event codes are in its failures).'),
  SINK_UNEXPECTED_ERROR: err('sink', true, 'The sink threw something that is not a SinkError; retried.', 'Report a bug to the plugin.'),
  SINK_TIMEOUT: err('sink', true, 'writeBatch did not finish within sinks.<name>.write_timeout_ms.'),
  SINK_NOT_CONNECTED: err('sink', true, 'The sink is not connected yet.'),
  SINK_HELD_BACK: err('sink', true, 'Not tried: held back behind an earlier failed event of its subject (retried without counting an attempt).'),
  SINK_ABORTED: err('sink', true, 'The write was aborted by the host before it was sent.'),
  SINK_CLOSING: err('sink', true, 'The sink is closing.'),

  // transform
  TRANSFORM_FAILED: err('transform', false, 'A transform step threw.'),
  TRANSFORM_TIMEOUT: err('transform', false, 'A transform step did not finish within its timeout.'),
  TRANSFORM_BAD_RESULT: err('transform', false, 'A transform step returned something that is not an event (or null to filter).'),
  TRANSFORM_IMMUTABLE_CHANGED: err('transform', false, 'A transform step changed an immutable event field (id, subject ...).'),
  TRANSFORM_FILTERED: log('transform', 'debug', 'A transform filtered an event out; it counts as delivered.'),

  // gaps
  GAPS_OPENED: log('gaps', 'info', 'Gap detection is on; conversations and open gaps loaded.'),
  GAPS_OFF_SHARED_QUEUE: log('gaps', 'info', 'Gap detection is off with queue.type: kafka (each instance sees part of the traffic).'),
  GAPS_STORE_WRITE_FAILED: log('gaps', 'warn', 'The gap state cannot be written; retried.'),
  GROUP_SEQ_GAP: log('gaps', 'warn', 'Group messages are missing between from and to (at most 20 lines per flush interval).', '`im-bridge gaps list`; backfill with apps[].backfill.'),
  GROUP_SEQ_GAPS_SUMMARY: log('gaps', 'warn', 'More gap lines in the interval than were logged; the count.'),
  GROUP_SEQ_RESTARTED: log('gaps', 'info', 'A group seq went back below what was seen (group recreated?); not a gap.'),
  GROUP_SEQ_JUMPED: log('gaps', 'info', 'A group seq jumped more than gaps.max_jump; not counted as a gap.'),

  // backfill
  BACKFILL_ON: log('backfill', 'info', 'Backfill of reported gaps is on for these apps.'),
  BACKFILL_NEEDS_GAPS: log('backfill', 'warn', 'apps[].backfill is set but gap detection is off: nothing to backfill.', 'Set gaps.enabled: true.'),
  BACKFILL_RUN: log('backfill', 'info', 'A backfill pass queued missing messages and closed deleted ones.'),
  BACKFILL_RETRY: log('backfill', 'warn', 'A backfill of a range failed; retried with backoff.'),
  BACKFILL_INCOMPLETE: log('backfill', 'warn', 'The history API did not return every seq of the range; retried.'),
  BACKFILL_GAVE_UP: log('backfill', 'error', 'A range was given up after apps[].backfill.max_attempts; it stays in `im-bridge gaps list`.'),
  BACKFILL_GROUP_GONE: log('backfill', 'warn', 'The group no longer exists; its gaps are closed.'),
  BACKFILL_FATAL: log('backfill', 'error', 'Tencent refused the REST call (wrong key, not an admin, wrong region): backfill stops for the app.', 'Check apps[].backfill identifier, secret_key and api_host.'),
  BACKFILL_ENQUEUE_FAILED: log('backfill', 'warn', 'Backfill stopped: the queue refused the messages.'),
  BACKFILL_C2C_PAGING: err('backfill', undefined, '`im-bridge gaps backfill-c2c`: the C2C history API paged inconsistently.'),
  TENCENT_REST_RETRIABLE: err('backfill', true, 'A Tencent REST call failed transiently (rate limit, internal error).'),
  TENCENT_REST_GROUP_GONE: err('backfill', false, 'Tencent REST: the group does not exist.'),
  TENCENT_REST_FATAL: err('backfill', false, 'Tencent REST: a permanent error.'),

  // cli (`im-bridge check` warnings)
  CONFIG_NO_ROUTES: check('No routes: every event is unmatched.'),
  CONFIG_SINK_UNROUTED: check('A sink is defined but no route sends to it.'),
  CONFIG_QUEUE_SMALLER_THAN_BODY: check('queue.max_bytes is smaller than listen.body_limit_bytes.'),
  CONFIG_LISTEN_UNAVAILABLE: check('listen.host:port cannot be bound now (in use, no permission).'),

  // telemetry
  SYSTEMD_NOTIFY_FAILED: log('telemetry', 'warn', 'systemd-notify failed (READY/STOPPING not sent).'),

  // plugin kafka (plugins/kafka; errors.ts classifies kafkajs errors)
  'KAFKA_*': err('kafka', undefined, 'KAFKA_<broker error type> (KAFKA_NOT_ENOUGH_REPLICAS ...): too large and authorization/invalid-record types are fatal, UNKNOWN_TOPIC_OR_PARTITION after a metadata check, the rest retriable.'),
  KAFKA_CONFIG: err('kafka', false, 'Invalid kafka sink (or queue.kafka) settings: brokers, acks/idempotent, SASL/TLS.', 'Fix the sink config.'),
  KAFKA_MESSAGE_TOO_LARGE: err('kafka', false, 'A record is over max_message_bytes (or the broker refused it as too large).'),
  KAFKA_INVALID_TOPIC: err('kafka', false, 'The topic template renders to an illegal topic name.'),
  KAFKA_TEMPLATE_RENDER_FAILED: err('kafka', false, 'The topic or key template cannot be rendered for the event.'),
  KAFKA_RECORD_ENCODE_FAILED: err('kafka', false, 'The event cannot be encoded as a Kafka record.'),
  KAFKA_UNKNOWN_TOPIC_OR_PARTITION: err('kafka', false, 'The topic does not exist and create_topics is off.', 'Create the topic or set create_topics.'),
  KAFKA_CONNECTION_ERROR: err('kafka', true, 'kafkajs cannot connect to a broker.'),
  KAFKA_CONNECTION_CLOSED: err('kafka', true, 'The broker closed the connection.'),
  KAFKA_REQUEST_TIMEOUT: err('kafka', true, 'A broker request timed out.'),
  KAFKA_METADATA_NOT_LOADED: err('kafka', true, 'Cluster metadata is not loaded yet.'),
  KAFKA_BROKER_NOT_FOUND: err('kafka', true, 'No broker for the partition (leader change).'),
  KAFKA_SASL_AUTHENTICATION_FAILED: err('kafka', true, 'SASL authentication failed.', 'Check the sasl settings.'),
  KAFKA_NOT_IMPLEMENTED: err('kafka', true, 'kafkajs does not implement a feature the broker asked for.'),
  KAFKA_CLIENT_ERROR: err('kafka', true, 'Any other kafkajs error.'),
  KAFKA_CLIENT_LOG: log('kafka', 'warn/debug', 'A line logged by kafkajs, in the kafka sink or the Kafka queue (warnings and errors at warn, the rest at debug); field kafkajs = its namespace.'),
  KAFKA_PRODUCER_RESET: log('kafka', 'info', 'The producer was replaced after a failed request.'),
  KAFKA_ISOLATING_RECORDS: log('kafka', 'warn', 'A produce failed; its records are sent one at a time to find the bad one.'),
  KAFKA_TOPIC_CREATED: log('kafka', 'info', 'The sink created a topic (create_topics).'),
  KAFKA_TOPIC_LIMIT: log('kafka', 'warn', 'A new topic is refused by create_topics.max_topics or its pattern; its events are dead-lettered.'),
  KAFKA_TOPIC_UNAVAILABLE: log('kafka', 'error', 'The configured topic cannot be used (missing or not authorized).'),

  // plugin nats (plugins/nats; errors.ts classifies NatsError)
  'NATS_*': err('nats', true, 'NATS_<client error code> for any other NatsError; retriable.'),
  NATS_CONFIG: err('nats', false, 'Invalid nats sink settings (auth, tls, stream).', 'Fix the sink config.'),
  NATS_ERROR: err('nats', true, 'A non-NATS error while publishing.'),
  NATS_MESSAGE_TOO_LARGE: err('nats', false, 'The message is over the server max_payload or the stream limit.'),
  NATS_WRONG_STREAM: err('nats', false, 'The expected stream does not capture the subject.'),
  NATS_STREAM_NOT_FOUND: err('nats', false, 'The stream does not exist.', 'Create it or set create_stream.'),
  NATS_JETSTREAM_BUSY: err('nats', true, 'JetStream is temporarily unavailable (no leader, resources, stream offline).'),
  NATS_JETSTREAM_UNAVAILABLE: err('nats', true, 'JetStream answered 5xx/408/429.'),
  NATS_JETSTREAM_REJECTED: err('nats', false, 'JetStream refused the message (any other API error).'),
  NATS_TIMEOUT: err('nats', true, 'No PubAck within ack_timeout_ms (the retry is deduplicated by Nats-Msg-Id).'),
  NATS_NO_RESPONDERS: err('nats', true, 'No responders for the publish (JetStream not ready yet).'),
  NATS_SUBJECT_INVALID: err('nats', false, 'The rendered subject is invalid.'),
  NATS_SUBJECT_TOO_LONG: err('nats', false, 'The rendered subject is over max_subject_bytes.'),
  NATS_BAD_HEADER: err('nats', false, 'A message header is invalid.'),
  NATS_BAD_EVENT: err('nats', false, 'The message cannot be built from the event.'),
  NATS_PERMISSION_DENIED: err('nats', false, 'The user may not publish to the subject.', 'Check the NATS permissions.'),
  NATS_AUTH_FAILED: err('nats', false, 'Authentication or authorization failed.', 'Check the nats auth settings.'),
  NATS_INVALID_ACK: err('nats', true, 'An invalid JetStream ack.'),
  NATS_DISCONNECTED: err('nats', true, 'Not connected to NATS (reconnecting); also logged (warn) when the connection drops.'),
  NATS_CLOSING: err('nats', true, 'The sink is closing.'),
  NATS_ABORTED: err('nats', true, 'The write was abandoned by the host (timeout or shutdown).'),
  NATS_NO_STREAM_FOR_SUBJECT: err('nats', false, 'No JetStream stream captures the subject.'),
  NATS_SUBJECT_NOT_IN_STREAM: err('nats', false, 'The configured stream does not capture the subject.'),
  NATS_STREAM_RECREATED: err('nats', true, 'The stream was missing and has been created again; retried.'),
  NATS_CONNECTED: log('nats', 'info', 'Connected to a NATS server.'),
  NATS_RECONNECTED: log('nats', 'info', 'Reconnected to a NATS server.'),
  NATS_CONNECTION_CLOSED: log('nats', 'error', 'The NATS connection closed for good.'),
  NATS_ASYNC_ERROR: log('nats', 'warn', 'An asynchronous error reported by the server.'),
  NATS_LAME_DUCK: log('nats', 'warn', 'The server entered lame duck mode.'),
  NATS_CLOSE_FAILED: log('nats', 'warn', 'Draining the connection failed at close.'),
  NATS_STREAM_CREATED: log('nats', 'info', 'The sink created its stream (create_stream).'),
  NATS_STREAM_BOUND: log('nats', 'info', 'The sink uses an existing stream.'),
  NATS_STREAM_SUBJECTS_MISMATCH: log('nats', 'warn', 'The stream subjects do not cover the subject template.'),

  // plugin elasticsearch
  'ES_*': err('elasticsearch', undefined, 'ES_<item error type> of a _bulk item (ES_MAPPER_PARSING_EXCEPTION, ES_VERSION_CONFLICT_ENGINE_EXCEPTION ...).'),
  'ES_HTTP_*': err('elasticsearch', undefined, 'ES_HTTP_<status> of a _bulk item without an error type.'),
  ES_CONFIG: err('elasticsearch', false, 'Invalid elasticsearch sink settings (index, data_stream/op_type, template).', 'Fix the sink config.'),
  ES_CONNECTION: err('elasticsearch', true, 'Cannot reach Elasticsearch.'),
  ES_TIMEOUT: err('elasticsearch', true, 'An Elasticsearch request timed out.'),
  ES_NO_LIVING_CONNECTIONS: err('elasticsearch', true, 'No Elasticsearch node is reachable.'),
  ES_ABORTED: err('elasticsearch', true, 'The request was aborted.'),
  ES_BAD_RESPONSE: err('elasticsearch', true, 'The answer cannot be read.'),
  ES_PRODUCT_NOT_SUPPORTED: err('elasticsearch', true, 'The server is not Elasticsearch.'),
  ES_REQUEST_FAILED: err('elasticsearch', true, 'Any other request failure.'),
  ES_CLUSTER_RED: err('elasticsearch', true, 'Cluster health is red.'),
  ES_BULK_RESPONSE_MISMATCH: err('elasticsearch', true, 'The _bulk answer does not match the events sent.'),
  ES_REQUEST_TOO_LARGE: err('elasticsearch', false, 'One event alone is over the node http.max_content_length.'),
  ES_INDEX_INVALID: err('elasticsearch', false, 'The index template renders to an invalid index name.'),
  ES_INDEX_RENDER_FAILED: err('elasticsearch', false, 'The index template cannot be rendered for the event.'),
  ES_INDEX_LIMIT: err('elasticsearch', false, 'A new index name is over max_indices; also logged (warn).', 'Raise max_indices or fix the index template.'),
  ES_CONNECTED: log('elasticsearch', 'info', 'Connected; cluster name and health.'),
  ES_TEMPLATE_INSTALLED: log('elasticsearch', 'info', 'The index template was installed.'),
  ES_BULK_SPLIT: log('elasticsearch', 'warn', 'A _bulk request was too large (413) and is split.', 'Lower batch.max_events / max_bytes.'),
  ES_INDEX_BUDGET: log('elasticsearch', 'info', 'Index names matching the pattern on the cluster, against max_indices.'),
  ES_INDEX_LIMIT_REACHED: log('elasticsearch', 'warn', 'max_indices is reached: events for new index names will be dead-lettered (ES_INDEX_LIMIT).'),
  ES_INDEX_LIST_FAILED: log('elasticsearch', 'warn', 'Cannot list the indices (needs view_index_metadata); max_indices counts only names this sink writes.'),

  // plugin webhook
  'WEBHOOK_HTTP_*': err('webhook', undefined, 'WEBHOOK_HTTP_<status>: the endpoint answered an error status (5xx, 408, 429 retriable; other 4xx fatal).'),
  WEBHOOK_CONFIG: err('webhook', false, 'Invalid webhook sink settings (url, headers, tls, signing secret).', 'Fix the sink config.'),
  WEBHOOK_TIMEOUT: err('webhook', true, 'No answer within the timeout.'),
  WEBHOOK_NETWORK_ERROR: err('webhook', true, 'A network error (refused, reset, DNS).'),
  WEBHOOK_ABORTED: err('webhook', true, 'The request was abandoned by the host.'),
  WEBHOOK_CLOSED: err('webhook', true, 'The sink is closed.'),
  WEBHOOK_ORDER_HELD: err('webhook', true, 'Not sent: an earlier event of its subject failed (retried without counting an attempt).'),
  WEBHOOK_UNEXPECTED_ERROR: err('webhook', true, 'An unexpected error sending a request; also logged (error).', 'Report a bug.'),
  WEBHOOK_BAD_URL: err('webhook', false, 'The rendered URL is not valid.'),
  WEBHOOK_URL_TEMPLATE: err('webhook', false, 'The URL template cannot be rendered for the event.'),
  WEBHOOK_BAD_EVENT: err('webhook', false, 'The request headers or body cannot be built from the event.'),
  WEBHOOK_BAD_REDIRECT: err('webhook', false, 'A redirect with an invalid or non-HTTP Location.'),
  WEBHOOK_TOO_MANY_REDIRECTS: err('webhook', false, 'More redirects than max_redirects.'),

  // plugin file
  'FILE_*': err('file', undefined, 'FILE_<errno> of a failed write: FILE_EACCES, FILE_EISDIR, FILE_EROFS fatal; others (FILE_ENOSPC ...) retriable; FILE_WRITE without errno.'),
  FILE_ROTATED: log('file', 'info', 'The output file was rotated.'),
  FILE_TORN_TAIL: log('file', 'warn', 'The file ended in a torn line (crash during a write); it was terminated.'),

  // plugin stdout
  STDOUT_WRITE: err('stdout', true, 'Writing to stdout failed.'),
} satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;

export function isCode(value: string): value is Code {
  return Object.hasOwn(CODES, value);
}
