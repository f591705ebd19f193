/**
 * Public Kafka module, exported as `im-bridge/kafka`: what the Kafka queue and the kafka sink
 * share (connection security today). The second public module a built-in plugin may import,
 * besides `im-bridge/sink` (test/unit/boundary.test.ts keeps it so).
 */
export { TlsSchema, SaslSchema, KafkaConfigError, kafkaTlsOptions, kafkaSaslOptions, type KafkaTlsConfig, type KafkaSaslConfig } from './security.js';
