/**
 * One way to make a kafkajs client, for the Kafka queue and the kafka sink: connection security
 * (security.ts), timeouts, bounded client retries, and kafkajs's own log lines bridged into ours
 * as KAFKA_CLIENT_LOG (warn for kafkajs errors and warnings, debug below).
 *
 * Client retries are bounded on purpose: delivery guarantees come from the callers (the queue
 * answers 503 and replaces its producer, the sink's batch is retried by the delivery engine), not
 * from endless retries inside kafkajs.
 */
// First: kafkajs's protocol modules must load the faster Encoder (fast-encoding.ts).
import './fast-encoding.js';
import { Kafka, logLevel, type LogEntry, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';

/** The logger side we need (pino's Logger has it). */
export interface KafkaLogSink {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface KafkaClientOptions {
  clientId: string;
  brokers: string[];
  ssl?: ConnectionOptions | boolean;
  sasl?: SASLOptions;
  connectionTimeout: number;
  requestTimeout: number;
  retry: RetryOptions;
  logger: KafkaLogSink;
}

export function createKafkaClient(options: KafkaClientOptions): Kafka {
  const { logger, ...client } = options;
  return new Kafka({ ...client, logLevel: logLevel.WARN, logCreator: () => (entry) => bridgeLog(logger, entry) });
}

function bridgeLog(logger: KafkaLogSink, { level, label, namespace, log }: LogEntry): void {
  const { message, timestamp: _timestamp, logger: _logger, ...extra } = log as LogEntry['log'] & { logger?: unknown };
  // The retries we bound on purpose (see the header): kafkajs says so on every idempotent producer.
  if (message.startsWith('Limiting retries for the idempotent producer')) return;
  const fields = { code: 'KAFKA_CLIENT_LOG', kafkajs: namespace, kafkajsLevel: label, ...extra };
  if (level <= logLevel.WARN) logger.warn(fields, `kafkajs: ${message}`);
  else logger.debug(fields, `kafkajs: ${message}`);
}
