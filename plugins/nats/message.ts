/**
 * A canonical event as a NATS message, per the CloudEvents NATS protocol binding:
 * - binary mode (default): attributes as `ce-<name>` headers, `Content-Type: application/json`,
 *   payload = the event's `data` as JSON;
 * - structured mode: `Content-Type: application/cloudevents+json`, payload = the whole event
 *   (the stored JSON, not re-serialized).
 * Header values are percent-encoded like the CloudEvents HTTP binding does (space, `"`, `%` and
 * everything outside printable ASCII), so any conversation id survives the trip.
 */
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import { eventJson, type CanonicalEvent } from '../../src/sink/api.js';

export type ContentMode = 'binary' | 'structured';

const ATTRIBUTES = ['specversion', 'id', 'type', 'source', 'subject', 'time', 'imsdkappid', 'imcommand', 'implatform', 'imclientip'] as const;
const NEEDS_ENCODING = /[^\x21-\x24\x26-\x7E]|"/;

export function encodeHeaderValue(value: string): string {
  if (!NEEDS_ENCODING.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x21 && code <= 0x7e && ch !== '"' && ch !== '%') out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function decodeHeaderValue(value: string): string {
  return decodeURIComponent(value);
}

export interface NatsMessage {
  payload: Uint8Array;
  headers: MsgHdrs;
}

/**
 * An upper bound of the bytes toMessage's headers take, from string lengths alone (no encoding):
 * a UTF-16 unit is at most 9 bytes once percent-encoded (3 UTF-8 bytes × `%XX`). The exact size
 * is only worth computing when this bound does not fit.
 */
export function headerBytesBound(event: CanonicalEvent, mode: ContentMode): number {
  let bound = 96 + 3 * (event.datacontenttype?.length ?? 0); // the NATS/1.0 line, Content-Type (UTF-8, not encoded), the blank line
  if (mode === 'binary') {
    for (const name of ATTRIBUTES) {
      const value = event[name];
      if (typeof value === 'string') bound += name.length + 8 + 9 * value.length;
    }
  }
  return bound;
}

export function toMessage(event: CanonicalEvent, mode: ContentMode): NatsMessage {
  const headers = natsHeaders();
  if (mode === 'structured') {
    headers.set('Content-Type', 'application/cloudevents+json; charset=utf-8');
    return { headers, payload: Buffer.from(eventJson(event)) };
  }
  for (const name of ATTRIBUTES) {
    const value = event[name];
    if (typeof value === 'string' && value !== '') headers.set(`ce-${name}`, encodeHeaderValue(value));
  }
  headers.set('Content-Type', event.datacontenttype ?? 'application/json');
  return { headers, payload: Buffer.from(JSON.stringify(event.data ?? null)) };
}
