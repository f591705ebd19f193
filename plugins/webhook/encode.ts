/**
 * Request bodies and headers for the CloudEvents HTTP protocol binding, and Standard Webhooks
 * signatures.
 *
 * - structured: the event JSON as stored (eventJson), `application/cloudevents+json`.
 * - binary: every context attribute as a `ce-<name>` header (percent-encoded as the binding
 *   requires), `content-type` = datacontenttype, `data` as the body.
 * - batch: a JSON array of events, `application/cloudevents-batch+json`.
 *
 * Signing follows https://www.standardwebhooks.com: `webhook-id`, `webhook-timestamp` (Unix
 * seconds) and `webhook-signature` = `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`,
 * one per secret, space-separated. The HMAC is node:crypto's (≈8× faster than the pure-JS
 * SHA-256 inside the `standardwebhooks` package); the package decodes and checks the secrets
 * here, and the tests check that both produce the same signature.
 */
import { createHash, createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { eventJson, type CanonicalEvent } from '../../src/sink/api.js';

export type Encoding = 'structured' | 'binary' | 'batch';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';

export interface EncodedRequest {
  /** The Standard Webhooks message id: the event id, or a hash of the ids for a batch. */
  id: string;
  headers: Record<string, string>;
  body: string;
}

export function encodeEvent(event: CanonicalEvent, encoding: 'structured' | 'binary'): EncodedRequest {
  if (encoding === 'structured') {
    return { id: event.id, headers: { 'content-type': STRUCTURED_CONTENT_TYPE }, body: eventJson(event) };
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event)) {
    if (name === 'data' || name === 'data_base64' || name === 'datacontenttype') continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    headers[`ce-${name.toLowerCase()}`] = percentEncodeHeader(String(value));
  }
  headers['content-type'] = event.datacontenttype ?? 'application/json';
  const body = event.data === undefined ? '' : JSON.stringify(event.data);
  return { id: event.id, headers, body };
}

export function encodeBatch(events: readonly CanonicalEvent[]): EncodedRequest {
  let body = '[';
  for (let i = 0; i < events.length; i++) body += (i > 0 ? ',' : '') + eventJson(events[i]!);
  body += ']';
  return { id: batchId(events), headers: { 'content-type': BATCH_CONTENT_TYPE }, body };
}

/**
 * `batch_` + base64url(SHA-256 of the event ids joined by newlines): the same events in the same
 * order (as the host retries a batch) give the same webhook-id.
 */
export function batchId(events: readonly CanonicalEvent[]): string {
  const hash = createHash('sha256');
  for (let i = 0; i < events.length; i++) hash.update(i > 0 ? `\n${events[i]!.id}` : events[i]!.id);
  return `batch_${hash.digest('base64url')}`;
}

/**
 * CloudEvents HTTP binding §3.1.3.2: space, double quote, percent and anything outside printable
 * ASCII are percent-encoded (UTF-8 bytes).
 */
export function percentEncodeHeader(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code > 0x20 && code < 0x7f && ch !== '"' && ch !== '%') {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

export class Signer {
  private readonly keys: Buffer[];

  /** Throws when a secret is not a valid `whsec_` secret (checked with the standardwebhooks package). */
  constructor(secrets: readonly string[]) {
    this.keys = secrets.map((secret) => {
      new Webhook(secret); // validates prefix, base64 and non-empty exactly as receivers will
      return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
    });
  }

  /** The three Standard Webhooks headers for one attempt. */
  headers(id: string, body: string, nowMs = Date.now()): Record<string, string> {
    const timestamp = String(Math.floor(nowMs / 1000));
    let signature = '';
    for (const key of this.keys) {
      const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body, 'utf8').digest('base64');
      signature += (signature ? ' v1,' : 'v1,') + mac;
    }
    return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
  }
}
