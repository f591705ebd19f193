/**
 * webhook sink config: the keys of a `type: webhook` block besides the host's own (batch, retry,
 * max_in_flight, write_timeout_ms, connect_timeout_ms). One TypeBox declaration gives the types,
 * the validation (ajv, defaults applied) and the docs.
 */
import { Type, type Static } from '@sinclair/typebox';

/** A Standard Webhooks secret: `whsec_` + base64 of the key bytes. */
export const SECRET_PATTERN = '^whsec_[A-Za-z0-9+/]+={0,2}$';

export const TlsSchema = Type.Object(
  {
    ca_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA bundle that signs the receiver’s certificate (replaces the default roots).' })),
    cert_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate for mutual TLS (with key_file).' })),
    key_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of cert_file.' })),
    passphrase: Type.Optional(Type.String({ description: 'Passphrase of key_file.' })),
    server_name: Type.Optional(Type.String({ minLength: 1, description: 'SNI / certificate name to check instead of the URL host.' })),
    reject_unauthorized: Type.Boolean({ default: true, description: 'Verify the receiver’s certificate. Turn off only for tests.' }),
  },
  { additionalProperties: false, default: {} },
);

export const SigningSchema = Type.Object(
  {
    secrets: Type.Array(Type.String({ pattern: SECRET_PATTERN }), {
      minItems: 1,
      maxItems: 8,
      description: 'Standard Webhooks secrets (`whsec_…`). Each request carries one signature per secret, space-separated, so a receiver can rotate.',
    }),
  },
  { additionalProperties: false },
);

export const WebhookConfigSchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      description: 'http(s) URL. `{{path}}` placeholders take event attributes or dotted paths (e.g. `{{data.conversation.groupId}}`), URL-encoded.',
    }),
    method: Type.Union([Type.Literal('POST'), Type.Literal('PUT')], { default: 'POST' }),
    headers: Type.Record(Type.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' }), Type.String(), {
      default: {},
      additionalProperties: false,
      description: 'Extra request headers, e.g. Authorization. `${ENV}` is expanded when bridge.yaml is loaded.',
    }),
    timeout_ms: Type.Integer({ minimum: 1, default: 10_000, description: 'Whole-request deadline (connect, send, response, redirects). Keep it below write_timeout_ms.' }),
    encoding: Type.Union([Type.Literal('structured'), Type.Literal('binary'), Type.Literal('batch')], {
      default: 'structured',
      description: 'CloudEvents HTTP binding: structured (one event per request, JSON body), binary (ce-* headers, data as body) or batch (one JSON array per batch).',
    }),
    tls: TlsSchema,
    signing: Type.Optional(SigningSchema),
    max_connections: Type.Integer({ minimum: 1, maximum: 1024, default: 16, description: 'Keep-alive connections (and concurrent requests) per receiver origin.' }),
    follow_redirects: Type.Boolean({ default: false, description: 'Follow 301/302/307/308, re-sending the same method, body and signature.' }),
    max_redirects: Type.Integer({ minimum: 1, maximum: 20, default: 5, description: 'Redirect hops followed per request when follow_redirects is on.' }),
    max_retry_after_ms: Type.Integer({ minimum: 0, default: 300_000, description: 'Upper bound on a receiver’s Retry-After.' }),
  },
  { additionalProperties: false },
);

export type WebhookConfig = Static<typeof WebhookConfigSchema>;
export type TlsConfig = Static<typeof TlsSchema>;
