/**
 * What a kafkajs error means for delivery. kafkajs wraps the broker's answer (a
 * KafkaJSProtocolError with `type` and numeric `code`) in retry wrappers
 * (KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError); the cause chain is unwrapped here.
 *
 * | class     | Kafka errors                                                                           |
 * |-----------|----------------------------------------------------------------------------------------|
 * | too large | MESSAGE_TOO_LARGE (10), RECORD_LIST_TOO_LARGE (18): isolate the record, then fatal    |
 * | fatal     | authorization (29, 31, 53), INVALID_TOPIC_EXCEPTION (17), INVALID_RECORD (87),        |
 * |           | POLICY_VIOLATION (44), INVALID_REQUIRED_ACKS (21), UNSUPPORTED_COMPRESSION_TYPE (76),  |
 * |           | UNSUPPORTED_FOR_MESSAGE_FORMAT (43), INVALID_TIMESTAMP (32)                          |
 * | topic     | UNKNOWN_TOPIC_OR_PARTITION (3): fatal only once a metadata check confirms it           |
 * | retriable | everything else: connection loss, timeouts, leader changes, NOT_ENOUGH_REPLICAS...     |
 */

export type KafkaErrorClass = 'too_large' | 'fatal' | 'unknown_topic' | 'retriable';

export interface KafkaErrorInfo {
  kind: KafkaErrorClass;
  /** Stable code for logs and the dead-letter store, e.g. KAFKA_MESSAGE_TOO_LARGE. */
  code: string;
  /** Numeric Kafka error code when the broker sent one. */
  kafkaCode: number | undefined;
  /** The broker's error type (MESSAGE_TOO_LARGE...) or the kafkajs error name. */
  type: string;
  message: string;
  /** True when the failure came back in a broker response (the request reached the broker). */
  fromBroker: boolean;
}

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
const FATAL = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_RECORD',
  'POLICY_VIOLATION',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'INVALID_TIMESTAMP',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_CONFIG',
]);

const NAMED_CODES: Record<string, string> = {
  KafkaJSConnectionError: 'KAFKA_CONNECTION_ERROR',
  KafkaJSConnectionClosedError: 'KAFKA_CONNECTION_CLOSED',
  KafkaJSRequestTimeoutError: 'KAFKA_REQUEST_TIMEOUT',
  KafkaJSMetadataNotLoaded: 'KAFKA_METADATA_NOT_LOADED',
  KafkaJSBrokerNotFound: 'KAFKA_BROKER_NOT_FOUND',
  KafkaJSSASLAuthenticationError: 'KAFKA_SASL_AUTHENTICATION_FAILED',
  KafkaJSNotImplemented: 'KAFKA_NOT_IMPLEMENTED',
};

interface ErrorLike {
  name?: string;
  message?: string;
  type?: unknown;
  code?: unknown;
  cause?: unknown;
}

export function describeKafkaError(error: unknown): KafkaErrorInfo {
  // The innermost error that says what the broker answered, else the innermost error at all.
  let protocol: ErrorLike | undefined;
  let innermost: ErrorLike | undefined;
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current && typeof current === 'object'; depth++) {
    const e = current as ErrorLike;
    innermost = e;
    if (typeof e.type === 'string' && typeof e.code === 'number') {
      protocol = e;
      break;
    }
    if (e.cause === current) break;
    current = e.cause;
  }
  const outer = error as ErrorLike | undefined;
  if (protocol) {
    const type = protocol.type as string;
    const kafkaCode = protocol.code as number;
    const kind: KafkaErrorClass = TOO_LARGE.has(type) ? 'too_large' : FATAL.has(type) ? 'fatal' : type === 'UNKNOWN_TOPIC_OR_PARTITION' ? 'unknown_topic' : 'retriable';
    return { kind, code: `KAFKA_${type}`, kafkaCode, type, message: `${type} (Kafka error ${kafkaCode}): ${protocol.message ?? ''}`, fromBroker: true };
  }
  const inner = innermost ?? outer;
  const name = inner?.name ?? 'Error';
  const message = inner?.message ?? String(error);
  const code = NAMED_CODES[name] ?? 'KAFKA_CLIENT_ERROR';
  return { kind: 'retriable', code, kafkaCode: undefined, type: name, message: `${name}: ${message}`, fromBroker: false };
}
