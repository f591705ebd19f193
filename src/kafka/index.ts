/**
 * Public Kafka module, exported as `im-bridge/kafka`: what the Kafka queue and the kafka sink
 * share: connection security and the client itself (timeouts, bounded retries, log bridge). The second public module a built-in plugin may import,
 * besides `im-bridge/sink` (test/unit/boundary.test.ts keeps it so).
 */
// Before anything that loads kafkajs (see the module).
import './fast-encoding.js';
export { TlsSchema, SaslSchema, KafkaConfigError, kafkaTlsOptions, kafkaSaslOptions, type KafkaTlsConfig, type KafkaSaslConfig } from './security.js';
export { createKafkaClient, type KafkaClientOptions, type KafkaLogSink } from './client.js';
