/**
 * NATS / JetStream failures → what the host should do with the event (retry or dead-letter).
 *
 * "No responders" on a JetStream publish is ambiguous (JetStream not ready yet, stream deleted,
 * subject captured by no stream): the sink diagnoses it with the JetStream API before deciding
 * (see diagnoseNoResponders in index.ts); this module maps everything else.
 */
import { ErrorCode, NatsError } from 'nats';

export interface Classified {
  retriable: boolean;
  code: string;
  message: string;
}

/** JetStream API err_codes (nats-server errors.json) that clear up by themselves. */
const RETRIABLE_API_ERR_CODES = new Set([
  10008, // JetStream system temporarily unavailable
  10009, // JetStream cluster can not handle request (no leader)
  10023, // insufficient resources
  10028, // insufficient memory resources available
  10047, // insufficient storage resources available
  10077, // storing the message failed (e.g. maximum messages/bytes exceeded with discard: new)
  10118, // stream is offline
]);
const STREAM_NOT_FOUND = 10059;
const WRONG_STREAM = 10060;
const MESSAGE_TOO_LARGE = 10054;

export function isNoResponders(error: unknown): boolean {
  return error instanceof NatsError && error.code === ErrorCode.NoResponders && !error.api_error;
}

export function isStreamNotFound(error: unknown): boolean {
  const api = error instanceof NatsError ? error.api_error : undefined;
  return api?.err_code === STREAM_NOT_FOUND || (api?.code === 404 && /stream not found/i.test(api.description));
}

export function classify(error: unknown): Classified {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof NatsError)) {
    return { retriable: true, code: 'NATS_ERROR', message };
  }
  const api = error.api_error;
  if (api) {
    const detail = `${api.description} (code ${api.code}${api.err_code ? `, err_code ${api.err_code}` : ''})`;
    if (api.err_code === MESSAGE_TOO_LARGE) return { retriable: false, code: 'NATS_MESSAGE_TOO_LARGE', message: detail };
    if (api.err_code === WRONG_STREAM) return { retriable: false, code: 'NATS_WRONG_STREAM', message: detail };
    if (api.err_code === STREAM_NOT_FOUND) return { retriable: false, code: 'NATS_STREAM_NOT_FOUND', message: detail };
    if (api.err_code !== undefined && RETRIABLE_API_ERR_CODES.has(api.err_code)) return { retriable: true, code: 'NATS_JETSTREAM_BUSY', message: detail };
    if (api.code >= 500 || api.code === 408 || api.code === 429) return { retriable: true, code: 'NATS_JETSTREAM_UNAVAILABLE', message: detail };
    return { retriable: false, code: 'NATS_JETSTREAM_REJECTED', message: detail };
  }
  switch (error.code) {
    case ErrorCode.Timeout:
      return { retriable: true, code: 'NATS_TIMEOUT', message: 'no PubAck within ack_timeout_ms (the message may be stored: the retry is deduplicated by Nats-Msg-Id)' };
    case ErrorCode.NoResponders:
      return { retriable: true, code: 'NATS_NO_RESPONDERS', message };
    // The sink checks both before publishing (index.ts prepare); these remain for a server whose
    // limits changed between that check and the publish (a reconnect to another server).
    case ErrorCode.MaxPayloadExceeded:
      return { retriable: false, code: 'NATS_MESSAGE_TOO_LARGE', message };
    case ErrorCode.BadSubject:
      return { retriable: false, code: 'NATS_SUBJECT_INVALID', message };
    case ErrorCode.BadHeader:
      return { retriable: false, code: 'NATS_BAD_HEADER', message };
    case ErrorCode.PermissionsViolation:
      return { retriable: false, code: 'NATS_PERMISSION_DENIED', message };
    case ErrorCode.AuthorizationViolation:
    case ErrorCode.BadAuthentication:
    case ErrorCode.BadCreds:
    case ErrorCode.AuthenticationExpired:
    case ErrorCode.AuthenticationTimeout:
    case ErrorCode.AccountExpired:
      return { retriable: false, code: 'NATS_AUTH_FAILED', message };
    case ErrorCode.JetStreamInvalidAck:
      return { retriable: true, code: 'NATS_INVALID_ACK', message };
    case ErrorCode.ConnectionClosed:
    case ErrorCode.ConnectionDraining:
    case ErrorCode.ConnectionRefused:
    case ErrorCode.ConnectionTimeout:
    case ErrorCode.Disconnect:
      return { retriable: true, code: 'NATS_DISCONNECTED', message };
    default:
      return { retriable: true, code: `NATS_${error.code.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`, message };
  }
}
