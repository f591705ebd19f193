/**
 * Messages between the main thread and the other ingest threads (listen.threads). Every payload
 * is structured-cloned; appends and their answers travel in batches (one message per event-loop
 * turn each way), so a message costs the thread little more than the events it carries.
 */
import type { BridgeConfig } from '../../config/schema.js';
import type { AppendRecord, QuarantineInput } from '../../queue/store.js';
import type { ReadinessReport } from '../server.js';

/** What an ingest thread starts from. */
export interface IngestThreadData {
  /** 1, 2, …: thread 0 is the main thread. */
  thread: number;
  /** The config in force, listen.tls resolved to absolute paths. */
  config: BridgeConfig;
  /** The port the main thread bound (listen.port may be 0). */
  port: number;
  /** Whether the main thread runs gap detection (accepted events are then reported to it). */
  gaps: boolean;
}

/** The fields of an accepted event that gap detection reads (src/gaps, GapMonitor.observe). */
export interface ObservedEvent {
  imcommand: string;
  imsdkappid: string;
  data: { conversation: { kind: string; groupId?: string; topicId?: string; groupType?: string }; seq?: unknown };
}

export type AppendResult = { id: number; seq: number } | { id: number; code: string; message: string; unavailable: boolean };

export type ToMain =
  | { t: 'ready' }
  | { t: 'failed'; error: { message: string; code?: string } }
  | { t: 'append'; batch: Array<{ id: number; record: AppendRecord }> }
  | { t: 'observe'; events: ObservedEvent[] }
  | { t: 'log'; line: string }
  | { t: 'call'; id: number; op: 'quarantine'; input: QuarantineInput }
  | { t: 'call'; id: number; op: 'readiness' | 'metrics' }
  | { t: 'reply'; id: number; ok: true; result: unknown }
  | { t: 'reply'; id: number; ok: false; error: { message: string; code?: string } };

export type ToThread =
  | { t: 'appended'; results: AppendResult[] }
  | { t: 'update'; config: BridgeConfig }
  | { t: 'call'; id: number; op: 'tls'; tls: NonNullable<BridgeConfig['listen']['tls']> }
  | { t: 'call'; id: number; op: 'drain'; deadlineMs: number }
  | { t: 'call'; id: number; op: 'metricsJson' }
  | { t: 'reply'; id: number; ok: true; result: unknown }
  | { t: 'reply'; id: number; ok: false; error: { message: string; code?: string } };
