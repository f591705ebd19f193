/**
 * `_bulk` request bodies and the reading of their per-item results.
 *
 * Body: one action line (`index` or `create`, `_index`, `_id` = event id) and the event's stored
 * JSON per event, so a redelivered event overwrites (index) or is refused as a duplicate (create)
 * instead of being indexed twice. For data streams `@timestamp` (= `time`) is put first in the
 * document, as data streams require it.
 *
 * Items: 2xx delivered; 409 on `create` delivered (the document is already there); 429, 5xx, 408
 * and cluster blocks retried; any other 4xx (mapping conflicts, parse errors, invalid index name...)
 * dead-lettered with the Elasticsearch error type and reason.
 */
import { eventJson, type CanonicalEvent, type ItemFailure } from '../../src/sink/api.js';
import type { IndexNameFn } from './index-name.js';

export type OpType = 'index' | 'create';

export interface BulkBodyOptions {
  opType: OpType;
  indexName: IndexNameFn;
  /** Add `@timestamp` (= event time) to each document: data streams require it. */
  timestamp: boolean;
}

/** NDJSON body of a `_bulk` request for the events, in order. */
export function bulkBody(events: readonly CanonicalEvent[], options: BulkBodyOptions): string {
  const op = options.opType === 'create' ? '{"create":{"_index":' : '{"index":{"_index":';
  let body = '';
  for (const event of events) {
    body += op + JSON.stringify(options.indexName(event)) + ',"_id":' + JSON.stringify(event.id) + '}}\n';
    let doc = eventJson(event);
    if (options.timestamp && doc.charCodeAt(0) === 123 /* { */) {
      doc = '{"@timestamp":' + JSON.stringify(event.time) + (doc.length > 2 ? ',' : '') + doc.slice(1);
    }
    body += doc + '\n';
  }
  return body;
}

export interface BulkError {
  type?: string;
  reason?: string | null;
  caused_by?: BulkError;
  [key: string]: unknown;
}

export interface BulkItem {
  status: number;
  error?: BulkError;
  [key: string]: unknown;
}

export interface BulkResponseBody {
  errors?: boolean;
  items?: Array<Record<string, BulkItem>>;
}

export interface ItemOutcomes {
  failures: ItemFailure[];
  /** `create` items refused with 409 because the document already exists (counted as delivered). */
  conflictsIgnored: number;
}

/** Per-item failures of a `_bulk` answer; indexes refer to the events array of the request. */
export function readBulkItems(response: BulkResponseBody, eventCount: number, opType: OpType): ItemOutcomes {
  const failures: ItemFailure[] = [];
  let conflictsIgnored = 0;
  const items = response.items;
  if (!Array.isArray(items) || items.length !== eventCount) {
    // Cannot tell which events got in: retry them all (ids make the retry idempotent).
    const got = Array.isArray(items) ? items.length : 'no';
    for (let index = 0; index < eventCount; index++) {
      failures.push({ index, retriable: true, code: 'ES_BULK_RESPONSE_MISMATCH', message: `_bulk answered ${got} items for ${eventCount} events` });
    }
    return { failures, conflictsIgnored };
  }
  for (let index = 0; index < eventCount; index++) {
    const wrapper = items[index]!;
    const item = wrapper[opType] ?? Object.values(wrapper)[0];
    if (!item) {
      failures.push({ index, retriable: true, code: 'ES_BULK_RESPONSE_MISMATCH', message: `_bulk item ${index} is empty` });
      continue;
    }
    const status = item.status;
    if (status >= 200 && status < 300 && !item.error) continue;
    if (status === 409 && opType === 'create') {
      conflictsIgnored++;
      continue;
    }
    failures.push(itemFailure(index, status, item.error));
  }
  return { failures, conflictsIgnored };
}

export function itemFailure(index: number, status: number, error: BulkError | undefined): ItemFailure {
  const type = error?.type;
  const code = errorCode(type, status);
  const message = `${status} ${describeError(error)}`;
  return { index, retriable: isRetriableStatus(status, type), code, message };
}

/** `ES_<TYPE>` (es_rejected_execution_exception → ES_REJECTED_EXECUTION_EXCEPTION), or `ES_HTTP_<status>` without a type. */
export function errorCode(type: string | undefined, status: number): string {
  return type ? 'ES_' + type.toUpperCase().replace(/^ES_/, '') : `ES_HTTP_${status}`;
}

/** Retry: overload (429), server side (5xx), request timeout (408) and cluster blocks (read-only after a disk flood...). */
export function isRetriableStatus(status: number, type: string | undefined): boolean {
  if (status === 429 || status === 408 || status >= 500) return true;
  if (type === 'cluster_block_exception' || type === 'es_rejected_execution_exception' || type === 'unavailable_shards_exception') return true;
  return false;
}

/** `type: reason (caused by: type: reason)`, as Elasticsearch reports it. */
export function describeError(error: BulkError | undefined): string {
  if (!error) return 'unknown error';
  let text = `${error.type ?? 'error'}: ${error.reason ?? ''}`.trim();
  let cause = error.caused_by;
  for (let depth = 0; cause && depth < 3; depth++) {
    text += ` (caused by ${cause.type ?? 'error'}: ${cause.reason ?? ''})`;
    cause = cause.caused_by;
  }
  return text;
}
