/**
 * kafka sink, without a broker: config (the README example through the real config loader),
 * create-time checks, record encoding, error classification, and the per-event failures decided
 * before anything is sent.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import pino from 'pino';
import kafkajs from 'kafkajs';
import plugin from '../../../plugins/kafka/index.js';
import { describeKafkaError } from '../../../plugins/kafka/errors.js';
import { encodeRecord, isLegalTopic } from '../../../plugins/kafka/records.js';
import { loadConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/errors.js';
import { resolvePlugin } from '../../../src/sink/loader.js';
import { FatalError, PartialBatchError, type CanonicalEvent, type SinkContext } from '../../../src/sink/api.js';
import { rememberEventJson } from '../../../src/sink/event-json.js';
import { normalize } from '../../../src/normalize/index.js';
import { groupMessage, REPO_ROOT } from '../../helpers/daemon.js';

// kafkajs is CommonJS and spreads its error classes into module.exports: not visible as ESM named exports.
const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

const README = path.join(REPO_ROOT, 'plugins/kafka/README.md');

function context(): SinkContext {
  return { name: 'k', logger: pino({ level: 'silent' }), signal: new AbortController().signal, configDir: REPO_ROOT, count: () => undefined };
}

function event(groupId: string, seq: number, text?: string): CanonicalEvent {
  return normalize(
    groupMessage(groupId, seq, text),
    { sdkAppId: '1400000000', command: 'Group.CallbackAfterSendMsg', optPlatform: 'iOS', receivedAtMs: 1767225600000 },
    { includeRaw: true },
  );
}

function sinkBlock(extra: string): string {
  return `
listen: { port: 8080 }
apps: [ { sdk_app_id: 1400000000 } ]
sinks:
  k:
    type: kafka
    brokers: [127.0.0.1:9092]
${extra}
routes:
  - { name: all, match: { command: "*" }, to: [k] }
`;
}

async function load(text: string) {
  return loadConfigText(text, '/tmp/bridge.yaml', '/tmp', { resolvePlugin, env: { KAFKA_PASSWORD: 'secret' } });
}

t.test('the README example is a valid bridge.yaml for this plugin', async (t) => {
  const markdown = fs.readFileSync(README, 'utf8');
  const block = /## Example\s+```yaml\n([\s\S]*?)```/.exec(markdown);
  t.ok(block, 'README has a yaml example under "## Example"');
  const { config, plugins } = await load(block![1]!);
  t.equal(plugins.get('events'), plugin, 'type: kafka resolves to this plugin');
  const options = config.sinks.events!.options as Record<string, unknown>;
  t.match(options, {
    brokers: ['kafka-1:9092', 'kafka-2:9092'],
    topic: 'im.{{data.family}}',
    key: '{{subject}}',
    encoding: 'structured',
    acks: 'all',
    idempotent: true,
    compression: 'gzip',
    create_topics: true,
    topic_partitions: 12,
    topic_replication_factor: 3,
    topic_config: { 'retention.ms': '604800000' },
    tls: { ca_file: './certs/kafka-ca.pem', enabled: true, reject_unauthorized: true },
    sasl: { mechanism: 'scram-sha-512', username: 'im-bridge', password: 'secret' },
  });
  t.notOk('batch' in options, 'host keys are not the plugin’s');
  t.equal(config.sinks.events!.max_in_flight, 4);
  // Every key the schema knows is documented in the README's key table.
  for (const key of Object.keys(plugin.configSchema.properties)) t.match(markdown, `| \`${key}\` |`, `README documents ${key}`);
});

t.test('schema: defaults, accepted forms, refusals', async (t) => {
  const { config } = await load(sinkBlock('    topic: im.events'));
  t.match(config.sinks.k!.options, {
    client_id: 'im-bridge',
    key: '{{subject}}',
    encoding: 'structured',
    acks: 'all',
    idempotent: true,
    compression: 'none',
    max_message_bytes: 1_000_000,
    max_request_bytes: 1_000_000,
    create_topics: false,
    topic_partitions: -1,
    topic_replication_factor: -1,
  });
  const fromString = await load(sinkBlock('    topic: im.events').replace('brokers: [127.0.0.1:9092]', 'brokers: "a:9092, b:9092"'));
  t.equal(fromString.config.sinks.k!.options.brokers, 'a:9092, b:9092', 'a comma-separated string is accepted');
  await load(sinkBlock('    topic: im.events\n    acks: 1\n    idempotent: false'));

  const refused: Array<[string, RegExp]> = [
    ['    topic: im.events\n    unknown_key: 1', /unknown_key/],
    ['    topic: "im events/x"', /topic/],
    ['    topic: im.events\n    acks: 0', /acks/],
    ['    topic: im.events\n    compression: snappy', /compression/],
    ['    topic: im.events\n    sasl: { mechanism: gssapi, username: u, password: p }', /mechanism/],
    ['    topic: im.events\n    tls: { ca: x }', /ca/],
  ];
  for (const [extra, pattern] of refused) {
    const error = await load(sinkBlock(extra)).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(error, ConfigError, extra.trim());
    t.match((error as Error).message, pattern);
  }
});

t.test('create() refuses what cannot work', async (t) => {
  const base = { brokers: ['127.0.0.1:1'], topic: 'im.events', key: '{{subject}}', encoding: 'structured', acks: 'all', idempotent: true, compression: 'none', max_message_bytes: 1e6, max_request_bytes: 1e6, request_timeout_ms: 1000, connection_timeout_ms: 1000, metadata_max_age_ms: 60_000, create_topics: false, topic_partitions: -1, topic_replication_factor: -1, topic_config: {}, client_id: 'x' };
  const create = (over: Record<string, unknown>) => () => plugin.create({ ...base, ...over } as never, context());
  t.throws(create({ acks: 'leader' }), FatalError, 'idempotent needs acks all');
  t.throws(create({ topic: '..' }), /not a legal Kafka topic name/);
  t.throws(create({ topic: 'im.{{imcommand' }), /unclosed/);
  t.throws(create({ key: '{{}}' }), /empty field/);
  t.throws(create({ brokers: ' , ' }), /brokers is empty/);
  t.throws(create({ tls: { enabled: true, ca_file: './no/such/ca.pem', reject_unauthorized: true } }), /cannot read tls.ca_file/);
  t.doesNotThrow(create({ acks: 'leader', idempotent: false }));
});

t.test('validate: the cross-field rules, pure, each at its key; the loader refuses them at file:line', async (t) => {
  const base = { brokers: ['127.0.0.1:1'], topic: 'im.events', key: '{{subject}}', encoding: 'structured', acks: 'all', idempotent: true, compression: 'none', max_message_bytes: 1e6, max_request_bytes: 1e6, request_timeout_ms: 1000, connection_timeout_ms: 1000, metadata_max_age_ms: 60_000, create_topics: false, max_topics: 100, topic_partitions: -1, topic_replication_factor: -1, topic_config: {}, client_id: 'x' };
  const problems = (over: Record<string, unknown>) => plugin.validate!({ ...base, ...over } as never).map((p) => [p.path, p.code]);
  t.same(problems({}), [], 'a good config has no problem');
  t.same(problems({ acks: 'leader', idempotent: false }), []);
  t.same(problems({ acks: 'leader' }), [['acks', 'KAFKA_CONFIG']], 'idempotent needs acks: all');
  t.same(problems({ acks: 1 }), [['acks', 'KAFKA_CONFIG']]);
  t.same(problems({ topic: '..' }), [['topic', 'KAFKA_CONFIG']], 'an illegal static topic');
  t.same(problems({ topic: 'im.{{imcommand' }), [['topic', 'KAFKA_CONFIG']], 'a topic template that does not parse');
  t.same(problems({ key: '{{}}' }), [['key', 'KAFKA_CONFIG']], 'a key template that does not parse');
  t.same(problems({ topic: 'x.{{data.family}}', create_topics_pattern: '(' }), [['create_topics_pattern', 'KAFKA_CONFIG']]);
  t.same(problems({ brokers: ' , ' }), [['brokers', 'KAFKA_CONFIG']]);
  t.same(problems({ acks: 'leader', brokers: ' , ' }).length, 2, 'every problem, not only the first');

  const refused = await load(sinkBlock('    topic: im.events\n    acks: leader')).catch((e: unknown) => e);
  t.type(refused, ConfigError);
  t.match(refused, { code: 'CONFIG_PLUGIN_INVALID', key: 'sinks.k.acks', line: 9, file: '/tmp/bridge.yaml' });
  t.match((refused as Error).message, /^\/tmp\/bridge\.yaml:9:\d+: sinks\.k\.acks: idempotent: true requires acks: all/);
});

t.test('records: structured and binary encodings', async (t) => {
  const e = event('g1', 7);
  const json = JSON.stringify(e);
  rememberEventJson(e, json);
  const structured = encodeRecord(e, 'structured', Buffer.from('group/g1'));
  t.equal(structured.value.toString(), json, 'the stored JSON is the value');
  t.same(structured.headers, { 'content-type': 'application/cloudevents+json', ce_id: e.id });
  t.ok(structured.bytes > json.length + 'group/g1'.length);

  const binary = encodeRecord(e, 'binary', null);
  t.same(JSON.parse(binary.value.toString()), e.data);
  t.equal(binary.headers['content-type'], 'application/json');
  t.equal(binary.headers.ce_id, e.id);
  t.equal(binary.headers.ce_specversion, '1.0');
  t.equal(binary.headers.ce_subject, 'group/g1');
  t.equal(binary.headers.ce_implatform, 'iOS');
  t.notOk('ce_data' in binary.headers || 'ce_datacontenttype' in binary.headers);
});

t.test('topic names', async (t) => {
  for (const ok of ['a', 'im.Group.CallbackAfterSendMsg', 'A-b_c.9', 'x'.repeat(249)]) t.ok(isLegalTopic(ok), ok);
  for (const bad of ['', '.', '..', 'x'.repeat(250), 'a b', 'a/b', '@TGS#1', 'é', 'a:b']) t.notOk(isLegalTopic(bad), JSON.stringify(bad));
});

t.test('kafkajs errors → delivery classes', async (t) => {
  const protocol = (type: string, code: number, retriable = false) => new KafkaJSProtocolError({ type, code, retriable, message: `${type} msg` } as never);
  // What kafkajs's retrier throws when it bails: the broker error wrapped, with it as the cause.
  const Bail = KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: Error }) => Error;
  const refused = protocol('MESSAGE_TOO_LARGE', 10);
  const tooLarge = describeKafkaError(new Bail(refused, { cause: refused }));
  t.match(tooLarge, { kind: 'too_large', code: 'KAFKA_MESSAGE_TOO_LARGE', kafkaCode: 10, fromBroker: true });
  t.match(tooLarge.message, /Kafka error 10/);
  t.match(describeKafkaError(protocol('TOPIC_AUTHORIZATION_FAILED', 29)), { kind: 'fatal', code: 'KAFKA_TOPIC_AUTHORIZATION_FAILED' });
  t.match(describeKafkaError(protocol('UNKNOWN_TOPIC_OR_PARTITION', 3, true)), { kind: 'unknown_topic' });
  t.match(describeKafkaError(protocol('NOT_ENOUGH_REPLICAS', 19, true)), { kind: 'retriable', code: 'KAFKA_NOT_ENOUGH_REPLICAS' });
  const connection = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
  const exhausted = describeKafkaError(new KafkaJSNumberOfRetriesExceeded(connection, { retryCount: 3, retryTime: 100 }));
  t.match(exhausted, { kind: 'retriable', code: 'KAFKA_CONNECTION_ERROR', fromBroker: false });
  t.match(describeKafkaError(new Error('boom')), { kind: 'retriable', code: 'KAFKA_CLIENT_ERROR' });
});

t.test('failures decided before sending are per event and need no broker', async (t) => {
  const config = {
    brokers: ['127.0.0.1:1'], client_id: 'x', topic: 'im.{{data.conversation.groupId}}', key: '{{subject}}', encoding: 'structured', acks: 'all', idempotent: true, compression: 'none',
    max_message_bytes: 50_000, max_request_bytes: 1e6, request_timeout_ms: 1000, connection_timeout_ms: 500, metadata_max_age_ms: 60_000,
    create_topics: false, topic_partitions: -1, topic_replication_factor: -1, topic_config: {},
  };
  const sink = await plugin.create(config as never, context());
  const events = [event('@TGS#x', 1), event('big', 2, 'q'.repeat(60_000)), event('a b', 3)];
  const error = await sink.writeBatch(events, new AbortController().signal).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(error, PartialBatchError);
  t.same(
    (error as PartialBatchError).failures.map((f) => [f.index, f.retriable, f.code]),
    [
      [0, false, 'KAFKA_INVALID_TOPIC'],
      [1, false, 'KAFKA_MESSAGE_TOO_LARGE'],
      [2, false, 'KAFKA_INVALID_TOPIC'],
    ],
  );
  await sink.close();
});
