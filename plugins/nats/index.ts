/**
 * nats sink: canonical events into NATS JetStream (default) or core NATS.
 *
 * JetStream: each event is published with `Nats-Msg-Id` = event id and the PubAck is awaited, so
 * an event is "delivered" only once the stream stored it, and a redelivery (retry, restart after
 * kill -9) inside the stream's duplicate window is dropped by the server. Events of one
 * conversation (CloudEvents `subject`) are published in batch order on one connection; publishes
 * are pipelined (`ordering: pipelined`, default) or each waits for the previous PubAck
 * (`ordering: sequential`). When event i of a conversation fails retriably, every later event of
 * that conversation in the batch is reported failed too, so the host retries them in order.
 *
 * Core NATS (`mode: core`) has no acknowledgement: a batch is "delivered" once the server has
 * received it (a flush round trip), whether or not anybody was subscribed. That is at-most-once
 * after the queue; it is counted as `published_at_most_once`.
 *
 * See README.md for the config keys and the error mapping.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConnectionOptions,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type PubAck,
  type StreamConfig,
} from 'nats';
import {
  defineSink,
  FatalError,
  PartialBatchError,
  RetriableError,
  throwIfInvalid,
  type CanonicalEvent,
  type ConfigProblem,
  type ItemFailure,
  type SinkContext,
} from '../../src/sink/api.js';
import { classify, isNoResponders, isStreamNotFound, type Classified } from './errors.js';
import { headerBytesBound, toMessage, type NatsMessage } from './message.js';
import { checkSubject, compileSubject, filterCovers, subjectMatches, SubjectTemplateError, type CompiledSubject, type SubjectLimits } from './subject.js';

const STREAM_NAME = '^[^.*>\\s/\\\\]+$';
/**
 * The server's max_control_line (4096 by default) bounds the whole `HPUB <subject> <reply inbox>
 * <header bytes> <total bytes>\r\n` line; the reply inbox and the sizes take < 100 bytes.
 */
const MAX_SUBJECT_BYTES_CEILING = 3840;

export const configSchema = Type.Object({
  servers: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
    description: 'NATS server URL(s), e.g. nats://127.0.0.1:4222 (a list, or one string with comma-separated URLs).',
  }),
  subject: Type.String({
    minLength: 1,
    default: 'im.{{imcommand|tokens}}',
    description:
      'Subject template: {{field}} / {{data.path}} placeholders, each value escaped into exactly one token ' +
      '(`.`, `*`, `>`, whitespace, `%` and non-ASCII become %XX); {{field|tokens}} keeps the dots of the value as token separators.',
  }),
  max_subject_bytes: Type.Integer({
    minimum: 16,
    maximum: MAX_SUBJECT_BYTES_CEILING,
    default: 1024,
    description:
      'Longest rendered subject (UTF-8 bytes) the sink publishes; a longer one fails its event alone (NATS_SUBJECT_TOO_LONG). ' +
      `nats-server closes the connection on a publish line over its max_control_line (4096 bytes by default), hence at most ${MAX_SUBJECT_BYTES_CEILING}.`,
  }),
  max_subject_tokens: Type.Integer({
    minimum: 1,
    maximum: 256,
    default: 32,
    description: 'Most tokens (dot-separated parts) in a rendered subject; more fails the event alone (NATS_SUBJECT_TOO_LONG). Bounds `{{field|tokens}}` over sender-controlled values.',
  }),
  mode: Type.Union([Type.Literal('jetstream'), Type.Literal('core')], {
    default: 'jetstream',
    description: 'jetstream: stored and acknowledged (at-least-once, deduplicated by event id). core: fire-and-forget (at-most-once after the queue).',
  }),
  content_mode: Type.Union([Type.Literal('binary'), Type.Literal('structured')], {
    default: 'binary',
    description: 'binary: ce-* headers + the event data as JSON. structured: the whole CloudEvent as JSON (application/cloudevents+json).',
  }),
  stream: Type.Optional(
    Type.String({
      pattern: STREAM_NAME,
      description: 'JetStream stream to bind to: it must exist (unless create_stream is set) and every publish must land in it (Nats-Expected-Stream).',
    }),
  ),
  create_stream: Type.Optional(
    Type.Object(
      {
        subjects: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Default: the wildcard form of `subject`.' })),
        storage: Type.Union([Type.Literal('file'), Type.Literal('memory')], { default: 'file' }),
        retention: Type.Union([Type.Literal('limits'), Type.Literal('interest'), Type.Literal('workqueue')], { default: 'limits' }),
        duplicate_window_ms: Type.Integer({
          minimum: 1000,
          default: 120_000,
          description: 'Redeliveries with the same event id within this window are dropped by the server.',
        }),
        replicas: Type.Integer({ minimum: 1, maximum: 5, default: 1 }),
        max_age_ms: Type.Integer({ minimum: 0, default: 0, description: '0 = keep forever.' }),
        max_bytes: Type.Integer({ minimum: -1, default: -1, description: '-1 = unlimited.' }),
        max_msgs: Type.Integer({ minimum: -1, default: -1, description: '-1 = unlimited.' }),
      },
      { additionalProperties: false, description: 'Create the stream when it does not exist (requires `stream`). An existing stream is never modified.' },
    ),
  ),
  ordering: Type.Union([Type.Literal('pipelined'), Type.Literal('sequential')], {
    default: 'pipelined',
    description: 'pipelined: publish all events of a conversation back to back, then await the PubAcks in order. sequential: await each PubAck before the next publish.',
  }),
  ack_timeout_ms: Type.Integer({ minimum: 100, default: 5000, description: 'Wait this long for a PubAck (JetStream) or a flush (core).' }),
  name: Type.Optional(Type.String({ minLength: 1, description: 'Connection name shown by the server; default im-bridge/<sink name>.' })),
  reconnect_wait_ms: Type.Integer({ minimum: 10, default: 1000, description: 'Delay between reconnect attempts (the client reconnects forever).' }),
  auth: Type.Optional(
    Type.Object(
      {
        user: Type.Optional(Type.String({ minLength: 1 })),
        password: Type.Optional(Type.String()),
        token: Type.Optional(Type.String({ minLength: 1 })),
        nkey_seed: Type.Optional(Type.String({ pattern: '^S', description: 'NKey seed (SU…).' })),
        nkey_seed_file: Type.Optional(Type.String({ minLength: 1, description: 'File holding the NKey seed; relative to bridge.yaml.' })),
        creds_file: Type.Optional(Type.String({ minLength: 1, description: 'Decentralized-auth .creds file (JWT + seed); relative to bridge.yaml; re-read on every reconnect.' })),
      },
      { additionalProperties: false, description: 'One of: user + password, token, nkey_seed / nkey_seed_file, creds_file.' },
    ),
  ),
  tls: Type.Optional(
    Type.Object(
      {
        ca_file: Type.Optional(Type.String({ minLength: 1 })),
        cert_file: Type.Optional(Type.String({ minLength: 1 })),
        key_file: Type.Optional(Type.String({ minLength: 1 })),
        handshake_first: Type.Boolean({ default: false, description: 'TLS before the NATS INFO (server option handshake_first).' }),
      },
      { additionalProperties: false, description: 'TLS client settings; paths relative to bridge.yaml. A client certificate needs both cert_file and key_file.' },
    ),
  ),
});

export type NatsSinkConfig = Static<typeof configSchema>;

/**
 * The rules the schema cannot express; pure, so `im-bridge check` refuses what create() would
 * (CONFIG_PLUGIN_INVALID at the key's file:line). create() runs it again for configs built in code.
 */
export function validateConfig(config: NatsSinkConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, message, code: 'NATS_CONFIG' });
  try {
    const subject = compileSubject(config.subject);
    const limits: SubjectLimits = { maxBytes: config.max_subject_bytes, maxTokens: config.max_subject_tokens };
    if (subject.shortest.tokens > limits.maxTokens || subject.shortest.bytes > limits.maxBytes) {
      problem(
        'subject',
        `subject template "${config.subject}" renders at least ${subject.shortest.tokens} tokens / ${subject.shortest.bytes} bytes, over max_subject_tokens ${limits.maxTokens} / max_subject_bytes ${limits.maxBytes}`,
      );
    }
  } catch (error) {
    if (!(error instanceof SubjectTemplateError)) throw error;
    problem('subject', error.message);
  }
  if (config.create_stream && !config.stream) problem('create_stream', 'create_stream needs `stream` (the name of the stream to create)');
  if (config.mode === 'core' && (config.stream || config.create_stream)) problem(config.stream ? 'stream' : 'create_stream', '`stream` and `create_stream` apply to mode: jetstream only');
  const auth = config.auth;
  if (auth) {
    const kinds = [auth.user !== undefined || auth.password !== undefined, auth.token !== undefined, auth.nkey_seed !== undefined || auth.nkey_seed_file !== undefined, auth.creds_file !== undefined].filter(Boolean).length;
    if (kinds > 1) problem('auth', 'use only one of user/password, token, nkey_seed(_file), creds_file');
    if ((auth.user === undefined) !== (auth.password === undefined)) problem(auth.user === undefined ? 'auth.password' : 'auth.user', 'user and password go together');
    if (auth.nkey_seed !== undefined && auth.nkey_seed_file !== undefined) problem('auth.nkey_seed_file', 'nkey_seed or nkey_seed_file, not both');
  }
  if (config.tls && (config.tls.cert_file === undefined) !== (config.tls.key_file === undefined)) {
    problem(config.tls.cert_file === undefined ? 'tls.key_file' : 'tls.cert_file', 'cert_file and key_file go together');
  }
  return problems;
}

/** Builds the nats.js connection options (auth, TLS, reconnect policy) from a config validateConfig accepts. */
export function connectionOptions(config: NatsSinkConfig, ctx: Pick<SinkContext, 'name' | 'configDir'>, connectTimeoutMs = 5000): ConnectionOptions {
  const servers = (Array.isArray(config.servers) ? config.servers : config.servers.split(',')).map((s) => s.trim()).filter(Boolean);
  const resolve = (file: string) => path.resolve(ctx.configDir, file);
  const options: ConnectionOptions = {
    servers,
    name: config.name ?? `im-bridge/${ctx.name}`,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: config.reconnect_wait_ms,
    waitOnFirstConnect: false,
    timeout: connectTimeoutMs,
    pingInterval: 10_000,
    maxPingOut: 3,
    // nats.js otherwise builds an Error (with a stack trace) for every request, i.e. every publish:
    // ~25% of the CPU of a JetStream publish. Our errors carry codes and the sink's context instead.
    noAsyncTraces: true,
  };
  const auth = config.auth;
  if (auth) {
    if (auth.user !== undefined) {
      options.user = auth.user;
      options.pass = auth.password;
    }
    if (auth.token !== undefined) options.token = auth.token;
    if (auth.nkey_seed !== undefined) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(auth.nkey_seed.trim()));
    if (auth.nkey_seed_file !== undefined) {
      const file = resolve(auth.nkey_seed_file);
      options.authenticator = nkeyAuthenticator(() => new TextEncoder().encode(readFileSync(file, 'utf8').trim()));
    }
    if (auth.creds_file !== undefined) {
      const file = resolve(auth.creds_file);
      options.authenticator = credsAuthenticator(() => readFileSync(file));
    }
  }
  if (config.tls) {
    options.tls = {
      handshakeFirst: config.tls.handshake_first,
      ...(config.tls.ca_file !== undefined && { caFile: resolve(config.tls.ca_file) }),
      ...(config.tls.cert_file !== undefined && { certFile: resolve(config.tls.cert_file) }),
      ...(config.tls.key_file !== undefined && { keyFile: resolve(config.tls.key_file) }),
    };
  }
  return options;
}

/** The stream create_stream asks for. */
export function streamConfig(config: NatsSinkConfig, subject: CompiledSubject): Partial<StreamConfig> & { name: string } {
  const c = config.create_stream!;
  return {
    name: config.stream!,
    subjects: c.subjects ?? [subject.filter],
    storage: c.storage === 'memory' ? StorageType.Memory : StorageType.File,
    retention: c.retention === 'interest' ? RetentionPolicy.Interest : c.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: c.duplicate_window_ms * 1_000_000,
    num_replicas: c.replicas,
    max_age: c.max_age_ms * 1_000_000,
    max_bytes: c.max_bytes,
    max_msgs: c.max_msgs,
  };
}

interface Prepared {
  subject: string;
  message: NatsMessage;
}

type Outcome = { ok: true; ack?: PubAck } | { ok: false; failure: Classified };

export default defineSink({
  type: 'nats',
  apiVersion: '1',
  configSchema,
  validate: validateConfig,
  create(config, ctx) {
    throwIfInvalid(validateConfig(config), 'NATS_CONFIG');
    const subject = compileSubject(config.subject);
    const limits: SubjectLimits = { maxBytes: config.max_subject_bytes, maxTokens: config.max_subject_tokens };
    const jetstream = config.mode === 'jetstream';
    const options = connectionOptions(config, ctx);
    const expectStreamHeaderBytes = config.stream === undefined ? 0 : Buffer.byteLength(`Nats-Expected-Stream: ${config.stream}\r\n`);
    const log = ctx.logger;

    let nc: NatsConnection | undefined;
    let js: JetStreamClient | undefined;
    let jsm: JetStreamManager | undefined;
    let up = false;
    let closing = false;
    let opening: Promise<NatsConnection> | undefined;
    /** Rejected when the connection drops: in-flight publishes fail at once instead of waiting for their timeout. */
    let dropped = deferred();

    async function open(): Promise<NatsConnection> {
      if (nc && !nc.isClosed()) return nc;
      opening ??= (async () => {
        try {
          const conn = await connect(options);
          nc = conn;
          up = true;
          dropped = deferred();
          watch(conn);
          if (jetstream) {
            js = conn.jetstream({ timeout: config.ack_timeout_ms });
            jsm = await conn.jetstreamManager({ timeout: config.ack_timeout_ms });
          }
          log.info({ code: 'NATS_CONNECTED', server: conn.getServer(), mode: config.mode }, `nats sink ${ctx.name} connected to ${conn.getServer()}`);
          return conn;
        } finally {
          opening = undefined;
        }
      })();
      return opening;
    }

    function watch(conn: NatsConnection): void {
      void (async () => {
        for await (const status of conn.status()) {
          switch (status.type) {
            case 'disconnect':
              up = false;
              dropped.reject(new RetriableError(`disconnected from NATS ${String(status.data)}`, { code: 'NATS_DISCONNECTED' }));
              log.warn({ code: 'NATS_DISCONNECTED', server: status.data }, `nats sink ${ctx.name} lost its connection; reconnecting`);
              break;
            case 'reconnect':
              dropped = deferred();
              up = true;
              log.info({ code: 'NATS_RECONNECTED', server: status.data }, `nats sink ${ctx.name} reconnected`);
              break;
            case 'error':
              log.warn({ code: 'NATS_ASYNC_ERROR', err: String(status.data) }, `nats sink ${ctx.name}: ${String(status.data)}`);
              break;
            case 'ldm':
              log.warn({ code: 'NATS_LAME_DUCK', server: status.data }, `nats sink ${ctx.name}: server entering lame duck mode`);
              break;
          }
        }
      })().catch(() => undefined);
      void conn.closed().then((error) => {
        up = false;
        dropped.reject(new RetriableError('the NATS connection is closed', { code: 'NATS_DISCONNECTED' }));
        if (!closing) log.error({ code: 'NATS_CONNECTION_CLOSED', err: error?.message }, `nats sink ${ctx.name}: connection closed${error ? `: ${error.message}` : ''}; will reopen on the next write`);
      });
    }

    /** Binds to (or creates) the configured stream. */
    async function bindStream(): Promise<void> {
      if (!jsm || !config.stream) return;
      try {
        const info = await jsm.streams.info(config.stream);
        logBound(info.config.subjects ?? [], info.config.duplicate_window, false);
      } catch (error) {
        if (!isStreamNotFound(error)) throw toSinkError(classify(error), 'cannot read the stream info');
        if (!config.create_stream) {
          throw new FatalError(`stream "${config.stream}" does not exist (create it, or set create_stream)`, { code: 'NATS_STREAM_NOT_FOUND' });
        }
        await createStream();
      }
    }

    async function createStream(): Promise<void> {
      const wanted = streamConfig(config, subject);
      try {
        const info = await jsm!.streams.add(wanted);
        logBound(info.config.subjects ?? [], info.config.duplicate_window, true);
        ctx.count('stream_created');
      } catch (error) {
        const c = classify(error);
        // Another instance may have created it at the same moment: that is fine.
        if ((error as { api_error?: { err_code?: number } }).api_error?.err_code === 10058) return;
        throw toSinkError(c, `cannot create stream "${config.stream}"`);
      }
    }

    function logBound(subjects: string[], duplicateWindowNs: number, created: boolean): void {
      const windowMs = Math.round(duplicateWindowNs / 1_000_000);
      log.info(
        { code: created ? 'NATS_STREAM_CREATED' : 'NATS_STREAM_BOUND', stream: config.stream, subjects, duplicateWindowMs: windowMs },
        `nats sink ${ctx.name}: ${created ? 'created' : 'bound to'} stream ${config.stream} (subjects ${subjects.join(', ')}; duplicate window ${windowMs} ms)`,
      );
      if (!subjects.some((s) => filterCovers(s, subject.filter))) {
        log.warn(
          { code: 'NATS_STREAM_SUBJECTS_MISMATCH', stream: config.stream, subjects, subjectFilter: subject.filter },
          `nats sink ${ctx.name}: stream ${config.stream} subjects (${subjects.join(', ')}) may not capture ${subject.filter}; such events would be dead-lettered`,
        );
      }
    }

    async function connected(): Promise<NatsConnection> {
      if (closing) throw new RetriableError('the sink is closing', { code: 'NATS_CLOSING' });
      if (!nc || nc.isClosed()) {
        try {
          await open();
          await bindStream();
        } catch (error) {
          if (error instanceof FatalError || error instanceof RetriableError) throw error;
          throw toSinkError(classify(error), 'cannot connect');
        }
      }
      if (!up) throw new RetriableError('not connected to NATS (reconnecting)', { code: 'NATS_DISCONNECTED' });
      return nc!;
    }

    /** Why did a JetStream publish get "no responders"? Decides fatal vs retriable. */
    async function diagnoseNoResponders(natsSubject: string): Promise<Classified> {
      try {
        if (config.stream) {
          const info = await jsm!.streams.info(config.stream);
          const subjects = info.config.subjects ?? [];
          if (!subjects.some((s) => subjectMatches(s, natsSubject))) {
            return { retriable: false, code: 'NATS_SUBJECT_NOT_IN_STREAM', message: `stream "${config.stream}" does not capture subject ${natsSubject} (its subjects: ${subjects.join(', ')})` };
          }
          return { retriable: true, code: 'NATS_NO_RESPONDERS', message: `no responders for ${natsSubject} although stream "${config.stream}" captures it` };
        }
        await jsm!.streams.find(natsSubject);
        return { retriable: true, code: 'NATS_NO_RESPONDERS', message: `no responders for ${natsSubject}` };
      } catch (error) {
        if (isStreamNotFound(error)) {
          if (config.create_stream) {
            await createStream();
            return { retriable: true, code: 'NATS_STREAM_RECREATED', message: `stream "${config.stream}" was missing and has been created again` };
          }
          return { retriable: false, code: 'NATS_STREAM_NOT_FOUND', message: `stream "${config.stream}" does not exist` };
        }
        if (error instanceof Error && /no stream matches subject/i.test(error.message)) {
          return { retriable: false, code: 'NATS_NO_STREAM_FOR_SUBJECT', message: `no JetStream stream captures subject ${natsSubject}` };
        }
        // JetStream itself does not answer (starting, restarting, not enabled yet): wait for it.
        const c = classify(error);
        return { retriable: true, code: 'NATS_JETSTREAM_UNAVAILABLE', message: `JetStream does not answer: ${c.message}` };
      }
    }

    function publishOne(event: CanonicalEvent, p: Prepared, diagnoses: Map<string, Promise<Classified>>): Promise<Outcome> {
      const publish = js!.publish(p.subject, p.message.payload, {
        msgID: event.id,
        headers: p.message.headers,
        timeout: config.ack_timeout_ms,
        ...(config.stream !== undefined && { expect: { streamName: config.stream } }),
      });
      return Promise.race([publish, dropped.promise]).then(
        (ack): Outcome => {
          if (ack.duplicate) ctx.count('jetstream_duplicates');
          return { ok: true, ack };
        },
        async (error): Promise<Outcome> => {
          publish.catch(() => undefined);
          if (error instanceof RetriableError) return { ok: false, failure: { retriable: true, code: error.code, message: error.message } };
          if (isNoResponders(error)) {
            let diagnosis = diagnoses.get(p.subject);
            if (!diagnosis) {
              diagnosis = diagnoseNoResponders(p.subject).catch((e: unknown) => ({ retriable: true, code: 'NATS_NO_RESPONDERS', message: String(e) }));
              diagnoses.set(p.subject, diagnosis);
            }
            return { ok: false, failure: await diagnosis };
          }
          return { ok: false, failure: classify(error) };
        },
      );
    }

    async function writeJetStream(events: readonly CanonicalEvent[], prepared: Array<Prepared | Classified>, signal: AbortSignal): Promise<ItemFailure[]> {
      const failures: ItemFailure[] = [];
      const diagnoses = new Map<string, Promise<Classified>>();
      const conversations = new Map<string, number[]>();
      events.forEach((event, index) => {
        const key = event.subject ?? '';
        const list = conversations.get(key);
        if (list) list.push(index);
        else conversations.set(key, [index]);
      });

      const runConversation = async (indexes: number[]): Promise<void> => {
        // Start all publishes now (pipelined) or one by one (sequential); either way they go out in order.
        const pending = new Map<number, Promise<Outcome>>();
        const start = (i: number) => {
          const p = prepared[i]!;
          if ('retriable' in p) return;
          pending.set(i, publishOne(events[i]!, p, diagnoses));
        };
        if (config.ordering === 'pipelined') for (const i of indexes) start(i);
        let broken: Classified | undefined;
        for (const i of indexes) {
          const p = prepared[i]!;
          if ('retriable' in p) {
            failures.push({ index: i, ...p });
            continue;
          }
          if (broken) {
            // An earlier event of this conversation failed: this one must follow it, in order.
            failures.push({ index: i, retriable: true, code: broken.code, message: `an earlier event of conversation ${events[i]!.subject} failed: ${broken.message}` });
            void pending.get(i)?.catch(() => undefined);
            continue;
          }
          if (config.ordering === 'sequential') {
            if (signal.aborted) {
              broken = { retriable: true, code: 'NATS_ABORTED', message: 'the write was abandoned by the host (timeout or shutdown)' };
              failures.push({ index: i, ...broken });
              continue;
            }
            start(i);
          }
          const outcome = await pending.get(i)!;
          if (outcome.ok) continue;
          failures.push({ index: i, ...outcome.failure });
          if (outcome.failure.retriable) broken = outcome.failure;
        }
      };
      await Promise.all([...conversations.values()].map(runConversation));
      return failures;
    }

    async function writeCore(conn: NatsConnection, prepared: Array<Prepared | Classified>): Promise<ItemFailure[]> {
      const failures: ItemFailure[] = [];
      let sent = 0;
      prepared.forEach((p, index) => {
        if ('retriable' in p) return failures.push({ index, ...p });
        try {
          conn.publish(p.subject, p.message.payload, { headers: p.message.headers });
          sent++;
        } catch (error) {
          failures.push({ index, ...classify(error) });
        }
      });
      try {
        await Promise.race([conn.flush(), dropped.promise, timeout(config.ack_timeout_ms, 'flush')]);
      } catch (error) {
        const c = error instanceof RetriableError ? { retriable: true, code: error.code, message: error.message } : classify(error);
        const failed = new Set(failures.map((f) => f.index));
        prepared.forEach((_, index) => {
          if (!failed.has(index)) failures.push({ index, retriable: true, code: c.code, message: `flush failed: ${c.message}` });
        });
        return failures;
      }
      if (sent > 0) ctx.count('published_at_most_once', sent);
      return failures;
    }

    /**
     * Subject and message of one event, or why this event alone cannot be published: checked before
     * anything is sent, because the server answers a bad subject or an oversized message by closing
     * the connection (or the client throws), which would fail the whole batch.
     */
    function prepare(event: CanonicalEvent, maxPayload: number | undefined): Prepared | Classified {
      let natsSubject: string;
      try {
        natsSubject = subject.render(event);
      } catch (error) {
        return { retriable: false, code: 'NATS_SUBJECT_INVALID', message: `cannot render the subject: ${(error as Error).message}` };
      }
      const problem = checkSubject(natsSubject, limits);
      if (problem) return { retriable: false, ...problem };
      let message: NatsMessage;
      try {
        message = toMessage(event, config.content_mode);
      } catch (error) {
        return { retriable: false, code: 'NATS_BAD_EVENT', message: `cannot build the message: ${(error as Error).message}` };
      }
      // The server's limit covers headers and payload together (as the client's own check does);
      // the exact header size is computed only when a cheap upper bound does not fit.
      if (maxPayload === undefined) return { subject: natsSubject, message };
      // JetStream publishes add Nats-Msg-Id (the event id) and Nats-Expected-Stream to these headers.
      const added = jetstream ? Buffer.byteLength(`Nats-Msg-Id: ${event.id}\r\n`) + expectStreamHeaderBytes : 0;
      if (message.payload.length + headerBytesBound(event, config.content_mode) + added > maxPayload) {
        const size = message.payload.length + messageHeaderBytes(message) + added;
        if (size > maxPayload) {
          return { retriable: false, code: 'NATS_MESSAGE_TOO_LARGE', message: `message of ${size} bytes (headers + payload) exceeds the server's max_payload of ${maxPayload} bytes` };
        }
      }
      return { subject: natsSubject, message };
    }

    return {
      async connect() {
        try {
          await open();
          await bindStream();
        } catch (error) {
          if (error instanceof FatalError || error instanceof RetriableError) throw error;
          throw toSinkError(classify(error), 'cannot connect');
        }
      },

      async writeBatch(events, signal) {
        const conn = await connected();
        const maxPayload = conn.info?.max_payload;
        const prepared = events.map((event) => prepare(event, maxPayload));
        const failures = jetstream ? await writeJetStream(events, prepared, signal) : await writeCore(conn, prepared);
        if (failures.length === 0) return;
        failures.sort((a, b) => a.index - b.index);
        const first = failures[0]!;
        if (failures.length === events.length && failures.every((f) => f.retriable === first.retriable && f.code === first.code)) {
          // The whole batch failed the same way: one error is clearer in the logs than N items.
          throw toSinkError(first, '');
        }
        throw new PartialBatchError(failures, `${failures.length} of ${events.length} event(s) not delivered to NATS (first: ${first.code}: ${first.message})`);
      },

      async healthcheck() {
        const conn = await connected();
        await conn.rtt();
        if (jsm) {
          if (config.stream) await jsm.streams.info(config.stream);
          else await jsm.getAccountInfo();
        }
      },

      async close() {
        closing = true;
        const conn = nc;
        if (!conn || conn.isClosed()) return;
        try {
          // drain = flush everything published so far, then close.
          await Promise.race([conn.drain(), timeout(Math.max(config.ack_timeout_ms, 2000), 'drain')]);
        } catch (error) {
          log.warn({ code: 'NATS_CLOSE_FAILED', err: (error as Error).message }, `nats sink ${ctx.name}: drain failed; closing`);
          await conn.close().catch(() => undefined);
        }
      },
    };
  },
});

/** Bytes the headers take on the wire (nats.js serializes MsgHdrs with toString(), then UTF-8). */
export function messageHeaderBytes(message: NatsMessage): number {
  return Buffer.byteLength(message.headers.toString(), 'utf8');
}

function toSinkError(c: Classified | ItemFailure, context: string): FatalError | RetriableError {
  const message = context ? `${context}: ${c.message}` : c.message;
  return c.retriable ? new RetriableError(message, { code: c.code }) : new FatalError(message, { code: c.code });
}

function deferred(): { promise: Promise<never>; reject: (error: Error) => void } {
  let reject!: (error: Error) => void;
  const promise = new Promise<never>((_, r) => (reject = r));
  promise.catch(() => undefined);
  return { promise, reject };
}

function timeout(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => {
    setTimeout(() => reject(new RetriableError(`${what} did not finish within ${ms} ms`, { code: 'NATS_TIMEOUT' })), ms).unref();
  });
}
