/**
 * TLS and SASL settings of a Kafka connection, shared by the kafka sink (`sinks.<name>.tls/sasl`)
 * and the Kafka queue (`queue.kafka.tls/sasl`): one schema (types, validation, docs) and one
 * translation into kafkajs options. Not a concern of config/: it is the Kafka client's, public to
 * plugins as `im-bridge/kafka` (src/kafka/index.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Type, type Static } from '@sinclair/typebox';
import type { SASLOptions } from 'kafkajs';

export const TlsSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Connect with TLS (set false to keep the block but turn TLS off).' }),
    ca_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA bundle to trust instead of the system CAs; relative to bridge.yaml.' })),
    cert_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate (mutual TLS); relative to bridge.yaml.' })),
    key_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of cert_file; relative to bridge.yaml.' })),
    passphrase: Type.Optional(Type.String({ description: 'Passphrase of key_file.' })),
    reject_unauthorized: Type.Boolean({ default: true, description: 'Verify the broker certificate. Turn off only for tests.' }),
    servername: Type.Optional(Type.String({ minLength: 1, description: 'SNI / certificate host name, when it differs from the broker address.' })),
  },
  { additionalProperties: false },
);
export type KafkaTlsConfig = Static<typeof TlsSchema>;

export const SaslSchema = Type.Object(
  {
    mechanism: Type.Union([Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')], {
      description: 'SASL mechanism. Use PLAIN only over TLS.',
    }),
    username: Type.String({ minLength: 1 }),
    password: Type.String(),
  },
  { additionalProperties: false },
);
export type KafkaSaslConfig = Static<typeof SaslSchema>;

/** A TLS file that cannot be read: a configuration error (code KAFKA_CONFIG), never retried. */
export class KafkaConfigError extends Error {
  readonly code = 'KAFKA_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaConfigError';
  }
}

/** kafkajs `ssl`: undefined (plaintext) or TLS options with the PEM files read (paths relative to configDir). */
export function kafkaTlsOptions(tls: KafkaTlsConfig | undefined, configDir: string): ConnectionOptions | undefined {
  if (!tls || !tls.enabled) return undefined;
  const read = (file: string | undefined, what: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    const resolved = path.resolve(configDir, file);
    try {
      return readFileSync(resolved);
    } catch (error) {
      throw new KafkaConfigError(`cannot read tls.${what} ${resolved}: ${(error as Error).message}`, { cause: error });
    }
  };
  const options: ConnectionOptions = { rejectUnauthorized: tls.reject_unauthorized };
  const ca = read(tls.ca_file, 'ca_file');
  const cert = read(tls.cert_file, 'cert_file');
  const key = read(tls.key_file, 'key_file');
  if (ca) options.ca = [ca];
  if (cert) options.cert = cert;
  if (key) options.key = key;
  if (tls.passphrase !== undefined) options.passphrase = tls.passphrase;
  if (tls.servername !== undefined) options.servername = tls.servername;
  return options;
}

/** kafkajs `sasl`, or undefined. */
export function kafkaSaslOptions(sasl: KafkaSaslConfig | undefined): SASLOptions | undefined {
  if (!sasl) return undefined;
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
}
