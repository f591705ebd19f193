/**
 * Canonical event → Kafka record, per the CloudEvents Kafka protocol binding 1.0:
 * - structured: value = the CloudEvent JSON (the stored bytes, via eventJson), header
 *   `content-type: application/cloudevents+json`;
 * - binary: value = `data` as JSON, header `content-type` = datacontenttype, and one `ce_<attr>`
 *   header per other attribute (string values).
 * Both modes carry `ce_id`, so consumers can deduplicate redeliveries without parsing the value.
 */
import { eventJson, type CanonicalEvent } from '../../src/sink/api.js';

export type Encoding = 'structured' | 'binary';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';
export const HEADER_PREFIX = 'ce_';

export interface EncodedRecord {
  value: Buffer;
  headers: Record<string, string>;
  /** key + value + headers, uncompressed, plus the per-record framing overhead. */
  bytes: number;
}

/** Varints, attributes and lengths of one record inside a record batch, rounded up. */
const RECORD_OVERHEAD_BYTES = 24;
const HEADER_OVERHEAD_BYTES = 4;

export function encodeRecord(event: CanonicalEvent, encoding: Encoding, key: Buffer | null): EncodedRecord {
  let value: Buffer;
  let headers: Record<string, string>;
  if (encoding === 'structured') {
    value = Buffer.from(eventJson(event));
    headers = { 'content-type': STRUCTURED_CONTENT_TYPE, ce_id: event.id };
  } else {
    headers = { 'content-type': event.datacontenttype ?? 'application/json' };
    for (const name of Object.keys(event)) {
      if (name === 'data' || name === 'datacontenttype' || name === 'data_base64') continue;
      const attribute = (event as unknown as Record<string, unknown>)[name];
      if (attribute === undefined || attribute === null) continue;
      headers[HEADER_PREFIX + name] = typeof attribute === 'string' ? attribute : JSON.stringify(attribute);
    }
    value = event.data === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(event.data));
  }
  let bytes = RECORD_OVERHEAD_BYTES + value.length + (key?.length ?? 0);
  for (const name in headers) bytes += HEADER_OVERHEAD_BYTES + name.length + Buffer.byteLength(headers[name]!);
  return { value, headers, bytes };
}

/** Kafka's rule for topic names: 1-249 of [a-zA-Z0-9._-], and not "." or "..". */
export function isLegalTopic(name: string): boolean {
  if (name.length === 0 || name.length > 249 || name === '.' || name === '..') return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 97 && c <= 122) || // a-z
      (c >= 65 && c <= 90) || // A-Z
      (c >= 48 && c <= 57) || // 0-9
      c === 46 || // .
      c === 95 || // _
      c === 45; // -
    if (!ok) return false;
  }
  return true;
}
