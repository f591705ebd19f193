/**
 * Config of the kafka sink: the keys of a `type: kafka` block besides the host's (batch, retry,
 * max_in_flight, write_timeout_ms, connect_timeout_ms). Types, validation, defaults and the
 * documentation of each key come from this one declaration (README.md shows an example that a
 * unit test validates against it).
 */
import { Type, type Static } from '@sinclair/typebox';

/** Characters a topic template may contain: legal topic characters plus `{{ field }}` markup. */
const TOPIC_TEMPLATE_PATTERN = '^[A-Za-z0-9._\\-{} ]+$';

export { TlsSchema, SaslSchema } from '../../src/kafka/index.js';
import { TlsSchema, SaslSchema } from '../../src/kafka/index.js';

export const configSchema = Type.Object(
  {
    brokers: Type.Union(
      [
        Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
        Type.String({ minLength: 1, description: 'Comma-separated, e.g. from ${KAFKA_BROKERS}.' }),
      ],
      { description: 'Bootstrap brokers, host:port; a list or one comma-separated string.' },
    ),
    client_id: Type.String({ minLength: 1, default: 'im-bridge', description: 'Kafka client.id (broker logs, quotas).' }),
    topic: Type.String({
      minLength: 1,
      pattern: TOPIC_TEMPLATE_PATTERN,
      description:
        'Topic name or template over event fields, e.g. im.events or im.{{data.family}}. ' +
        'An event whose topic renders to an illegal name ([a-zA-Z0-9._-], 1-249 chars, not . or ..) is dead-lettered (KAFKA_INVALID_TOPIC). ' +
        'imcommand, data.family, group ids and accounts are chosen by whoever sends the callback: see create_topics_pattern and max_topics.',
    }),
    key: Type.String({
      default: '{{subject}}',
      description: 'Record key template. The default keeps one conversation in one partition (ordered). Empty result = no key.',
    }),
    encoding: Type.Union([Type.Literal('structured'), Type.Literal('binary')], {
      default: 'structured',
      description:
        'CloudEvents Kafka binding: structured = the whole CloudEvent JSON as value (content-type application/cloudevents+json); ' +
        'binary = data as value, attributes as ce_* headers.',
    }),
    acks: Type.Union([Type.Literal('all'), Type.Literal(-1), Type.Literal('leader'), Type.Literal(1)], {
      default: 'all',
      description: 'all (-1): every in-sync replica has the record; leader (1): the leader only (needs idempotent: false).',
    }),
    idempotent: Type.Boolean({
      default: true,
      description: 'Idempotent producer: broker-side dedup of the client’s own retries. Requires acks: all.',
    }),
    compression: Type.Union([Type.Literal('none'), Type.Literal('gzip')], { default: 'none', description: 'Record batch compression.' }),
    max_message_bytes: Type.Integer({
      minimum: 1024,
      default: 1_000_000,
      description:
        'Largest record (key + value + headers, uncompressed). A larger event is dead-lettered (KAFKA_MESSAGE_TOO_LARGE) without being sent. ' +
        'Keep it at or below the topic’s max.message.bytes (broker default 1048588).',
    }),
    max_request_bytes: Type.Integer({
      minimum: 1024,
      default: 1_000_000,
      description: 'Records per produce request, uncompressed bytes: bounds every partition’s record batch below max.message.bytes.',
    }),
    request_timeout_ms: Type.Integer({ minimum: 100, default: 30_000, description: 'Produce / metadata request timeout (also the broker-side acks timeout).' }),
    connection_timeout_ms: Type.Integer({ minimum: 100, default: 3_000, description: 'TCP (and TLS) connect timeout per broker.' }),
    metadata_max_age_ms: Type.Integer({ minimum: 1000, default: 300_000, description: 'How long a checked topic is trusted to exist before it is checked again.' }),
    create_topics: Type.Boolean({
      default: false,
      description:
        'Create a missing topic (topic_partitions, topic_replication_factor, topic_config), if it matches create_topics_pattern and fewer than max_topics were created. ' +
        'Off: events for a missing topic are dead-lettered (KAFKA_UNKNOWN_TOPIC_OR_PARTITION).',
    }),
    create_topics_pattern: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Regular expression (whole name) a missing topic must match to be created. Default: the topic template with each {{…}} as one value of ' +
          '1-128 characters [A-Za-z0-9._-] starting and ending with a letter or digit. Other missing topics: the event is dead-lettered (KAFKA_TOPIC_LIMIT).',
      }),
    ),
    max_topics: Type.Integer({
      minimum: 1,
      default: 100,
      description:
        'Most topics this sink instance creates (create_topics). An event for a further missing topic is dead-lettered (KAFKA_TOPIC_LIMIT). ' +
        'Bounds what forged callbacks can create through a template over sender-controlled fields (imcommand, data.family, group ids).',
    }),
    topic_partitions: Type.Integer({ minimum: -1, default: -1, description: 'Partitions of a created topic; -1 = broker default (num.partitions).' }),
    topic_replication_factor: Type.Integer({ minimum: -1, default: -1, description: 'Replication factor of a created topic; -1 = broker default.' }),
    topic_config: Type.Record(Type.String({ minLength: 1 }), Type.String(), {
      default: {},
      description: 'Topic configs of a created topic, e.g. { retention.ms: "604800000" }.',
    }),
    tls: Type.Optional(TlsSchema),
    sasl: Type.Optional(SaslSchema),
  },
  { additionalProperties: false },
);

export type KafkaSinkConfig = Static<typeof configSchema>;
