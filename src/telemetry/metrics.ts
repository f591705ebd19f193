/**
 * Prometheus metrics (prom-client). Names and labels are documented in README.md "Metrics".
 * The accounting identity the tests check: requests = accepted + rejected, and per sink
 * accepted-for-sink = delivered + queued + dead-lettered.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'im_bridge_requests_total',
    help: 'Callback requests by command and HTTP status.',
    labelNames: ['command', 'status'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'im_bridge_requests_rejected_total',
    help: 'Rejected requests by reason code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly ackLatency = new Histogram({
    name: 'im_bridge_ack_latency_seconds',
    help: 'Time from request received to answer sent, for accepted callbacks.',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [this.registry],
  });
  readonly eventsEnqueued = new Counter({
    name: 'im_bridge_events_enqueued_total',
    help: 'Events durably enqueued for a sink.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly eventsUnmatched = new Counter({
    name: 'im_bridge_events_unmatched_total',
    help: 'Events no route matched, by the unmatched policy applied (dead_letter or drop).',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'im_bridge_events_dropped_total',
    help: 'Events accepted (answered 200) and then not kept, by reason (e.g. a forwarded before-callback the queue refused).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'im_bridge_events_delivered_total',
    help: 'Events delivered by a sink.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly retried = new Counter({
    name: 'im_bridge_events_retried_total',
    help: 'Event delivery attempts that failed and will be retried, by error code.',
    labelNames: ['sink', 'code'] as const,
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({
    name: 'im_bridge_events_dead_lettered_total',
    help: 'Events moved to the dead-letter store, by sink and error code.',
    labelNames: ['sink', 'code'] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'im_bridge_sink_batch_events',
    help: 'Events per batch written to a sink.',
    labelNames: ['sink'] as const,
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [this.registry],
  });
  readonly writeDuration = new Histogram({
    name: 'im_bridge_sink_write_seconds',
    help: 'Duration of a sink writeBatch call.',
    labelNames: ['sink', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly sinkUp = new Gauge({
    name: 'im_bridge_sink_up',
    help: '1 when the sink is connected and its last write succeeded.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'im_bridge_queue_depth_events',
    help: 'Events waiting for a sink.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly queueBytes = new Gauge({
    name: 'im_bridge_queue_depth_bytes',
    help: 'Bytes of events waiting for a sink.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly queueOldest = new Gauge({
    name: 'im_bridge_queue_oldest_age_seconds',
    help: 'Age of the oldest event waiting for a sink.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly queueStored = new Gauge({
    name: 'im_bridge_queue_stored_events',
    help: 'Events stored in the local queue (all sinks).',
    registers: [this.registry],
  });
  readonly queueStoredBytes = new Gauge({
    name: 'im_bridge_queue_stored_bytes',
    help: 'Bytes stored in the local queue (all sinks).',
    registers: [this.registry],
  });
  readonly deadLetterStored = new Gauge({
    name: 'im_bridge_dead_letters_stored',
    help: 'Rows in the dead-letter store: kind="event" acknowledged events (dead-lettered or unmatched, never evicted), kind="request" quarantined requests.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly deadLetterStoredBytes = new Gauge({
    name: 'im_bridge_dead_letters_stored_bytes',
    help: 'Bytes in the dead-letter store, by kind (see im_bridge_dead_letters_stored).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly quarantineEvicted = new Counter({
    name: 'im_bridge_requests_quarantine_evicted_total',
    help: 'Quarantined requests evicted, oldest first, by queue.quarantine_max_bytes or quarantine_max_age_ms.',
    registers: [this.registry],
  });
  readonly quarantined = new Counter({
    name: 'im_bridge_requests_quarantined_total',
    help: 'Invalid requests kept in the dead-letter store for inspection.',
    registers: [this.registry],
  });
  readonly pluginEvents = new Counter({
    name: 'im_bridge_sink_plugin_events_total',
    help: 'Plugin-specific counters (SinkContext.count).',
    labelNames: ['sink', 'name'] as const,
    registers: [this.registry],
  });
  readonly transformEvents = new Counter({
    name: 'im_bridge_transform_events_total',
    help: 'Events through a transform step of a sink, by outcome: passed, filtered (left out for this sink, acknowledged) or failed (dead-lettered for this sink).',
    labelNames: ['sink', 'transform', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly ingestThreadRequests = new Counter({
    name: 'im_bridge_ingest_thread_requests_total',
    help: 'Callback requests received per ingest thread (listen.threads; thread 0 is the main thread): shows how the kernel spreads connections.',
    labelNames: ['thread'] as const,
    registers: [this.registry],
  });
  readonly configGeneration = new Gauge({
    name: 'im_bridge_config_generation',
    help: 'Generation of the configuration in force (1 at start, +1 per successful reload).',
    registers: [this.registry],
  });

  // --- group MsgSeq gaps (src/gaps, README "When callbacks are lost") ---
  readonly groupSeqGaps = new Counter({
    name: 'im_bridge_group_seq_gaps_total',
    help: 'Gaps found in group MsgSeq: ranges of seqs whose callback did not arrive within gaps.grace_ms.',
    registers: [this.registry],
  });
  readonly groupSeqGapsClosed = new Counter({
    name: 'im_bridge_group_seq_gaps_closed_seqs_total',
    help: 'Missing seqs of reported gaps that were closed, by how: late_callback, backfill, place_msg (deleted or expired at Tencent), restart (the group was re-created), destroyed (the group was dismissed).',
    labelNames: ['how'] as const,
    registers: [this.registry],
  });
  readonly groupSeqMissing = new Gauge({
    name: 'im_bridge_group_seq_missing_messages',
    help: 'Group messages currently missing: seqs in reported, still open gaps.',
    registers: [this.registry],
  });
  readonly groupSeqOpenGaps = new Gauge({
    name: 'im_bridge_group_seq_open_gaps',
    help: 'Reported gaps still open.',
    registers: [this.registry],
  });
  readonly groupSeqTracked = new Gauge({
    name: 'im_bridge_group_seq_tracked_conversations',
    help: 'Conversations (group or topic) whose MsgSeq is tracked in memory (bounded by gaps.max_groups).',
    registers: [this.registry],
  });
  readonly groupSeqUncomparable = new Counter({
    name: 'im_bridge_group_seq_uncomparable_total',
    help: 'Group messages whose seq was not compared, by reason: avchatroom, first_seen, restart, jump.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly groupSeqDuplicates = new Counter({
    name: 'im_bridge_group_seq_duplicates_total',
    help: 'Group message callbacks whose seq had been seen already (redeliveries).',
    registers: [this.registry],
  });
  readonly backfillEvents = new Counter({
    name: 'im_bridge_backfill_events_total',
    help: 'Seqs of reported gaps resolved from Tencent\'s history API, by outcome: backfilled (queued as an event marked imorigin=backfill) or place_msg (deleted, expired, recalled or a system message: closed, nothing queued).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly backfillRequests = new Counter({
    name: 'im_bridge_backfill_requests_total',
    help: 'History API requests by result: ok, retriable, group_gone, fatal.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  // --- end group MsgSeq gaps ---

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'im_bridge_' });
  }
}
