/**
 * bridge.yaml schema, one TypeBox schema per section: each gives both the TypeScript type
 * (`Static<>`) and the validator (compiled once by ajv in load.ts). Keys are snake_case with
 * unit suffixes; they are a public contract (design.md §3): add, never rename.
 */
import { SaslSchema, TlsSchema } from '../kafka/security.js';
import { Type, type Static } from '@sinclair/typebox';
import { TransformsSchema } from '../transform/schema.js';


export const ListenSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'Address to bind.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    path: Type.String({ pattern: '^/', default: '/im/callback', description: 'Callback URL path set in the IM console.' }),
    body_limit_bytes: Type.Integer({ minimum: 1024, default: 4 * 1024 * 1024 }),
    body_timeout_ms: Type.Integer({ minimum: 1000, default: 8000, description: 'A body not fully received in this time gets 408 (slow clients). A body with no new byte for 5 s gets 408 sooner (stalled clients), before the HTTP layer drops the idle connection.' }),
    threads: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 64,
        default: 1,
        description:
          'HTTP ingest threads on the one port (SO_REUSEPORT: the kernel spreads connections). Thread 0 is the main thread, which also runs the queue and the sinks; the others only receive, check and normalize. rate_limit and max_inflight_bytes apply per thread.',
      }),
    ),
    rate_limit: Type.Optional(
      Type.Object(
        {
          per_ip_per_second: Type.Number({ exclusiveMinimum: 0, description: 'Sustained callbacks per second per client IP (IPv6 per /64).' }),
          burst: Type.Integer({ minimum: 1, description: 'Bucket size: requests allowed at once.' }),
          max_tracked_ips: Type.Optional(Type.Integer({ minimum: 1, description: 'Bound on remembered IPs (default 10000).' })),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        { cert_file: Type.String({ minLength: 1 }), key_file: Type.String({ minLength: 1 }), passphrase: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
    // Optional in the type (the default is applied at load) so that embedders and tests can omit them.
    max_inflight_bytes: Type.Optional(
      Type.Integer({
        minimum: 1024 * 1024,
        default: 64 * 1024 * 1024,
        description:
          'Budget of request-body bytes being received at once, reserved by Content-Length before the body is read; 503 INFLIGHT_LIMIT above it. Bodies over 64 KiB may use 3/4 of it, so slow large uploads never starve ordinary callbacks.',
      }),
    ),
    trusted_proxies: Type.Optional(
      Type.Array(Type.String({ pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$', description: 'An IP address or CIDR (names are not resolved).' }), {
        description:
          'Reverse proxies (addresses or CIDRs) whose X-Forwarded-For is believed: allow_ips and rate_limit then see the rightmost hop that is not a trusted proxy. Requests from other peers are judged by their own address.',
      }),
    ),
    admin: Type.Optional(
      Type.Object(
        {
          host: Type.String({ default: '127.0.0.1', description: 'Address of the operators\' listener (plain HTTP).' }),
          port: Type.Integer({ minimum: 0, maximum: 65535 }),
        },
        {
          additionalProperties: false,
          description:
            'A second listener for /healthz, /readyz and /metrics. When set, the callback port no longer serves /metrics, and its /readyz answers only { ready }.',
        },
      ),
    ),
  },
  { additionalProperties: false, default: {} },
);

/** Repair of group gaps from Tencent's history API, per app (src/backfill, README "When callbacks are lost"). */
export const BackfillSchema = Type.Object(
  {
    identifier: Type.String({ minLength: 1, maxLength: 32, description: 'An app admin account (REST API identifier).' }),
    secret_key: Type.String({ minLength: 1, description: 'The app\'s SDK secret key, which signs the admin UserSig. Write it as ${VAR}.' }),
    api_host: Type.String({
      minLength: 1,
      description: 'REST API host of the app\'s region: console.tim.qq.com (China), adminapisgp.im.qcloud.com (Singapore), adminapikr.im.qcloud.com (Seoul), adminapiger.im.qcloud.com (Frankfurt), adminapiusa.im.qcloud.com (Silicon Valley), adminapiidn.im.qcloud.com (Jakarta)... An http(s):// URL is taken as it is.',
    }),
    rate_per_second: Type.Number({ exclusiveMinimum: 0, maximum: 200, default: 20, description: 'History requests per second for this app (Tencent allows 200).' }),
    interval_ms: Type.Integer({ minimum: 100, default: 10_000, description: 'How often reported gaps (older than gaps.grace_ms) are fetched.' }),
    max_attempts: Type.Integer({ minimum: 1, default: 10, description: 'Failed attempts (retriable errors, seqs the API did not return) before a range is given up until the next start.' }),
    timeout_ms: Type.Integer({ minimum: 100, default: 10_000, description: 'Timeout of one REST request.' }),
    usersig_ttl_s: Type.Integer({ minimum: 60, default: 86_400, description: 'Lifetime of the admin UserSig; a new one is made when a fifth of it is left.' }),
  },
  { additionalProperties: false },
);

export const AppSchema = Type.Object(
  {
    sdk_app_id: Type.Union([Type.String({ pattern: '^[0-9]+$' }), Type.Integer({ minimum: 1 })], { description: 'SDKAppID of the IM app.' }),
    token: Type.Optional(Type.String({ maxLength: 128, description: 'Callback token; empty = no signature check.' })),
    previous_tokens: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { description: 'Older tokens still accepted during a rotation.' }),
    ),
    allow_ips: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Client IP allowlist (addresses or CIDRs).' })),
    allow_unsigned: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'Accept unsigned callbacks (no token) although listen.host is not a loopback address. Without it such a config is refused: anyone who can reach the port could forge callbacks.',
      }),
    ),
    backfill: Type.Optional(BackfillSchema),
  },
  { additionalProperties: false },
);

export const AuthSchema = Type.Object(
  {
    time_window_ms: Type.Integer({ minimum: 1000, default: 60_000, description: 'Max |now - RequestTime|.' }),
  },
  { additionalProperties: false, default: {} },
);

export const QueueSchema = Type.Object(
  {
    // --- queue.type: kafka (issue #13, docs/scale-out.md) ---
    type: Type.Union([Type.Literal('local'), Type.Literal('kafka')], {
      default: 'local',
      description: 'local: the fsync\'d SQLite queue of this instance (default). kafka: a shared Kafka topic, for several stateless instances behind a load balancer (docs/scale-out.md).',
    }),
    kafka: Type.Optional(
      Type.Object(
        {
          brokers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Bootstrap brokers, host:port.' }),
          topic: Type.String({ pattern: '^[a-zA-Z0-9._-]{1,249}$', default: 'im-bridge.events', description: 'Event topic (key = event subject). Created if missing with `partitions` and `replication_factor`.' }),
          partitions: Type.Integer({ minimum: 1, default: 12, description: 'Partitions of a topic created by im-bridge; how many instances can share the work of one sink (a partition belongs to one instance at a time).' }),
          replication_factor: Type.Integer({ minimum: -1, default: -1, description: 'Replication of created topics (-1: broker default). Use 3 with min.insync.replicas=2 in production.' }),
          group_prefix: Type.String({ minLength: 1, default: 'im-bridge', description: 'Consumer group per sink: <group_prefix>.<sink>. All instances of one deployment must share it.' }),
          dead_letter_topic: Type.String({ pattern: '^[a-zA-Z0-9._-]{1,249}$', default: 'im-bridge.dead-letters', description: 'Dead letters (headers sink, code, error, attempts, ce_id), unmatched events (code ROUTE_UNMATCHED) and quarantined requests.' }),
          client_id: Type.String({ minLength: 1, default: 'im-bridge', description: 'Kafka client.id.' }),
          max_wait_ms: Type.Number({ minimum: 0, maximum: 1000, default: 2, description: 'Group commit: how long an idle producer waits for more events before one produce (acks=all, idempotent).' }),
          max_batch_events: Type.Integer({ minimum: 1, default: 2048, description: 'Group commit: most events per produce request.' }),
          connection_timeout_ms: Type.Integer({ minimum: 100, default: 3000 }),
          request_timeout_ms: Type.Integer({ minimum: 100, default: 30_000 }),
          session_timeout_ms: Type.Integer({ minimum: 3000, default: 30_000, description: 'Consumer group session: how long a dead instance keeps its partitions before they move to a live one.' }),
          tls: Type.Optional(TlsSchema),
          sasl: Type.Optional(SaslSchema),
        },
        { additionalProperties: false, description: 'Settings of queue.type: kafka.' },
      ),
    ),
    // --- end queue.type: kafka ---
    dir: Type.String({ minLength: 1, default: './data/queue' }),
    max_bytes: Type.Integer({ minimum: 1024 * 1024, default: 4 * 1024 * 1024 * 1024 }),
    max_events: Type.Integer({ minimum: 1, default: 10_000_000 }),
    max_wait_ms: Type.Number({ minimum: 0, maximum: 1000, default: 1, description: 'Group commit: how long an idle queue waits for more appends before it fsyncs (0: at once). Under full load commits follow each other and never wait; at half load the 1 ms default lets a few appends share each fsync (12 % less CPU per request in bench case 4h, p50 unchanged).' }),
    max_batch_events: Type.Integer({ minimum: 1, default: 2048, description: 'Group commit: most events per fsync.' }),
    min_free_bytes: Type.Integer({ minimum: 0, default: 64 * 1024 * 1024, description: 'Refuse events (503) when the disk has less free space.' }),
    dead_letter_max_bytes: Type.Integer({
      minimum: 1024 * 1024,
      default: 1024 * 1024 * 1024,
      description: 'Budget of acknowledged events in the dead-letter store (dead-lettered and unmatched). When full, callbacks get 503 QUEUE_FULL_DEAD_LETTERS until an operator replays or purges; they are never evicted.',
    }),
    dead_letter_max_events: Type.Integer({ minimum: 1, default: 1_000_000, description: 'Same budget, in events.' }),
    quarantine_max_bytes: Type.Integer({
      minimum: 1024 * 1024,
      default: 64 * 1024 * 1024,
      description: 'Bound on quarantined requests (400s kept for inspection, never acknowledged); the oldest are evicted beyond it, counted and logged.',
    }),
    quarantine_max_age_ms: Type.Integer({ minimum: 60_000, default: 7 * 24 * 3600 * 1000, description: 'Quarantined requests older than this are evicted (counted and logged).' }),
  },
  { additionalProperties: false, default: {} },
);

export const EventSchema = Type.Object(
  { include_raw: Type.Boolean({ default: true }) },
  { additionalProperties: false, default: {} },
);

export const BatchSchema = Type.Object(
  {
    max_events: Type.Integer({ minimum: 1, default: 500 }),
    max_bytes: Type.Integer({ minimum: 1024, default: 4 * 1024 * 1024 }),
    max_wait_ms: Type.Integer({
      minimum: 0,
      default: 5,
      description:
        'Linger for a fuller batch. Batches also grow by themselves while earlier ones are in flight (max_in_flight). 0: send what is ready (one write per event at low rates). Events that linger in memory are what V8 promotes to its old generation, so a long linger costs memory and full-GC pauses.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const RetrySchema = Type.Object(
  {
    initial_backoff_ms: Type.Integer({ minimum: 1, default: 200 }),
    max_backoff_ms: Type.Integer({ minimum: 1, default: 30_000 }),
    max_attempts: Type.Integer({ minimum: 1, default: 20, description: 'Attempts before an event is dead-lettered.' }),
  },
  { additionalProperties: false, default: {} },
);

/** Keys every sink has; the rest of a sink block belongs to its plugin’s configSchema. */
export const SinkCommonSchema = Type.Object({
  type: Type.String({ minLength: 1 }),
  module: Type.Optional(Type.String({ minLength: 1, description: 'For type: plugin — a path (relative to bridge.yaml) or npm package.' })),
  batch: BatchSchema,
  retry: RetrySchema,
  max_in_flight: Type.Integer({ minimum: 1, maximum: 1024, default: 4 }),
  write_timeout_ms: Type.Integer({ minimum: 100, default: 30_000 }),
  connect_timeout_ms: Type.Integer({ minimum: 100, default: 30_000 }),
  thread: Type.Boolean({
    default: false,
    description:
      'Run the plugin instance in a worker thread of its own: its CPU (e.g. kafkajs building produce requests) no longer competes with ingest on the HTTP thread. Costs a copy of each event JSON and a parse in the thread.',
  }),  transforms: Type.Optional(TransformsSchema),
});
export const SINK_COMMON_KEYS = new Set(Object.keys(SinkCommonSchema.properties));

export const RouteMatchSchema = Type.Object(
  {
    command: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
    family: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
    group_type: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
    group_id: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
    element_type: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
    sender: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
    sdk_app_id: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
  },
  { additionalProperties: false, default: {} },
);

export const RouteSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    match: RouteMatchSchema,
    to: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true }),
    /** Stop evaluating later routes once this one matched. */
    final: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export const LogSchema = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    requests: Type.Union([Type.Literal('off'), Type.Literal('errors'), Type.Literal('all')], {
      default: 'errors',
      description: 'Request logging: rejected requests only (default), all, or off.',
    }),
    format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
      default: 'auto',
      description: 'auto (default): readable text when stdout is a terminal, JSON lines otherwise (pipes, files, systemd, containers). json or pretty: always that.',
    }),
  },
  { additionalProperties: false, default: {} },
);

/** Group MsgSeq gap detection (src/gaps, README "When callbacks are lost"). */
export const GapsSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Track the MsgSeq of group messages and report the seqs no callback arrived for. Needs one instance to see all callbacks of an app: with queue.type: kafka it stays off.',
    }),
    grace_ms: Type.Integer({ minimum: 0, default: 60_000, description: 'A missing seq becomes a reported gap when its callback has not arrived for this long (callbacks arrive out of order).' }),
    max_groups: Type.Integer({ minimum: 1, default: 100_000, description: 'Conversations (group or topic) kept in memory, least recently seen evicted first (about 200 bytes each plus 64 per open range); evicted ones stay in gaps.db and are read back when they reappear.' }),
    max_ranges_per_group: Type.Integer({ minimum: 2, default: 100, description: 'Open missing ranges per conversation; beyond it the two closest are merged (no missing seq is forgotten).' }),
    max_jump: Type.Integer({ minimum: 1, default: 100_000, description: 'A seq more than this far from the last one is not a gap but a new sequence (a re-created group).' }),
    flush_interval_ms: Type.Integer({ minimum: 100, default: 1000, description: 'How often changed state is written to <queue.dir>/gaps.db, in one transaction.' }),
  },
  { additionalProperties: false, default: {} },
);

export const BridgeConfigSchema = Type.Object(
  {
    listen: ListenSchema,
    apps: Type.Array(AppSchema, { minItems: 1 }),
    auth: AuthSchema,
    queue: QueueSchema,
    event: EventSchema,
    sinks: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }), Type.Object({ type: Type.String({ minLength: 1 }) })),
    routes: Type.Array(RouteSchema, { default: [] }),
    unmatched: Type.Union([Type.Literal('dead_letter'), Type.Literal('drop')], {
      default: 'dead_letter',
      description: 'What happens to an event no route matches. Both are counted and logged.',
    }),
    log: LogSchema,
    shutdown_timeout_ms: Type.Integer({ minimum: 100, default: 15_000 }),
    // Optional in the type (the default is applied at load) so that embedders and tests can omit it.
    gaps: Type.Optional(GapsSchema),
  },
  { additionalProperties: false },
);

export type ListenConfig = Static<typeof ListenSchema>;
export type AppConfig = Static<typeof AppSchema>;
export type QueueConfig = Static<typeof QueueSchema>;
export type GapsConfig = Static<typeof GapsSchema>;
export type BackfillConfig = Static<typeof BackfillSchema>;
export type BatchConfig = Static<typeof BatchSchema>;
export type RetryConfig = Static<typeof RetrySchema>;
export type RouteConfig = Static<typeof RouteSchema>;
export type RouteMatchConfig = Static<typeof RouteMatchSchema>;
export type SinkCommonConfig = Static<typeof SinkCommonSchema>;

/** A sink block after validation: host keys typed, plugin keys in `options`. */
export interface SinkConfig extends SinkCommonConfig {
  name: string;
  options: Record<string, unknown>;
}

export interface BridgeConfig extends Omit<Static<typeof BridgeConfigSchema>, 'sinks'> {
  sinks: Record<string, SinkConfig>;
  /** Absolute path of the file, or `<embedded default>`. */
  file: string;
  /** Directory that relative paths resolve against. */
  dir: string;
  /** Increments on every successful reload. */
  generation: number;
}

