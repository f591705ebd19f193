/**
 * elasticsearch sink: canonical events as documents, written with `_bulk` (@elastic/elasticsearch 8).
 *
 * - `_id` = event id, so a redelivered event overwrites itself (`op_type: index`) or is refused as a
 *   duplicate, which counts as delivered (`op_type: create`, the only op data streams take).
 * - The index name is a template over the event's time (UTC) and fields (index-name.ts). Every
 *   rendered name is checked before the `_bulk` (Elasticsearch's rules, no hidden names) and counted
 *   against `max_indices` / `index_pattern` (index-budget.ts), because Elasticsearch creates any
 *   missing index a bulk item names and the values come from whoever sends the callback. An event
 *   that fails there fails alone and fatally (ES_INDEX_INVALID, ES_INDEX_LIMIT, ES_INDEX_RENDER_FAILED).
 * - Per-item results (bulk.ts): 429/5xx items are retried by the host, mapping errors and other 4xx
 *   items are dead-lettered with Elasticsearch's error type and reason; delivered batch-mates are
 *   not sent again (PartialBatchError).
 * - `install_template: true` puts a composable index template with a closed mapping (mapping.ts)
 *   at connect, so no callback shape can cause a mapping explosion or conflict.
 * - Health: `GET _cluster/health` (works on nodes without the root endpoint).
 * The client retries nothing on its own except a failover to another node: the host owns retries.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Client, errors, type ClientOptions } from '@elastic/elasticsearch';
import { defineSink, FatalError, PartialBatchError, RefusalLog, RetriableError, isAbortError, throwIfInvalid, type CanonicalEvent, type ConfigProblem, type ItemFailure, type SinkContext } from '../../src/sink/api.js';
import { bulkBody, describeError, errorCode, readBulkItems, type BulkError, type BulkResponseBody } from './bulk.js';
import { IndexBudget } from './index-budget.js';
import { compileIndexName, IndexNameError } from './index-name.js';
import { indexTemplateBody } from './mapping.js';

const AuthSchema = Type.Union(
  [
    Type.Object({ username: Type.String({ minLength: 1 }), password: Type.String() }, { additionalProperties: false, description: 'Basic authentication.' }),
    Type.Object({ api_key: Type.String({ minLength: 1, description: 'Base64 "id:api_key", as returned in `encoded` by the create API key API.' }) }, { additionalProperties: false }),
    Type.Object({ bearer: Type.String({ minLength: 1, description: 'A bearer token (service account token, OAuth).' }) }, { additionalProperties: false }),
  ],
  { description: 'One of {username, password}, {api_key} or {bearer}.' },
);

const TlsSchema = Type.Object(
  {
    ca_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA bundle that signed the nodes\' certificates; relative to bridge.yaml.' })),
    ca_fingerprint: Type.Optional(Type.String({ minLength: 1, description: 'SHA-256 fingerprint of the CA certificate (as printed by Elasticsearch at first start).' })),
    cert_file: Type.Optional(Type.String({ minLength: 1, description: 'Client certificate (PEM), for mutual TLS.' })),
    key_file: Type.Optional(Type.String({ minLength: 1, description: 'Client private key (PEM), for mutual TLS.' })),
    reject_unauthorized: Type.Boolean({ default: true, description: 'Verify the nodes\' certificates. Turn off only for tests.' }),
  },
  { additionalProperties: false },
);

const TemplateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[a-z0-9][a-z0-9._-]*$', default: 'im-bridge-events', description: 'Name of the composable index template.' }),
    index_patterns: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Default: derived from `index` (each {{…}} becomes *).' })),
    priority: Type.Integer({ minimum: 0, default: 200, description: 'Must be higher than any other composable template matching the same indices.' }),
    number_of_shards: Type.Integer({ minimum: 1, default: 1 }),
    number_of_replicas: Type.Optional(Type.Integer({ minimum: 0, description: 'Default: the cluster default (1).' })),
    refresh_interval: Type.Optional(Type.String({ pattern: '^(-1|[0-9]+(ms|s|m|h))$', description: 'e.g. 1s, 30s; -1 disables refresh.' })),
  },
  { additionalProperties: false, default: {} },
);

export const configSchema = Type.Object(
  {
    nodes: Type.Array(Type.String({ pattern: '^https?://', description: 'http(s)://host:port' }), { minItems: 1, description: 'Elasticsearch node URLs.' }),
    auth: Type.Optional(AuthSchema),
    tls: Type.Optional(TlsSchema),
    index: Type.String({
      minLength: 1,
      default: 'im-events-{{yyyy.MM.dd}}',
      description: 'Index, alias or data stream name; {{yyyy.MM.dd}}-style dates (event time, UTC) and {{field.path}} values allowed.',
    }),
    op_type: Type.Union([Type.Literal('index'), Type.Literal('create')], {
      default: 'index',
      description: 'index: a redelivered event overwrites itself. create: written once; a duplicate (409) counts as delivered. Data streams need create.',
    }),
    data_stream: Type.Boolean({ default: false, description: 'Write to a data stream: adds @timestamp (= time) to documents; needs op_type: create.' }),
    pipeline: Type.Optional(Type.String({ minLength: 1, description: 'Ingest pipeline applied to every document.' })),
    compression: Type.Boolean({ default: false, description: 'gzip request bodies.' }),
    request_timeout_ms: Type.Integer({ minimum: 100, default: 30_000, description: 'Timeout of one HTTP request to Elasticsearch.' }),
    install_template: Type.Boolean({ default: true, description: 'Put the index template (mapping.ts) at connect; needs the manage_index_templates privilege.' }),
    // Optional in the static type only (configs built in code before this key existed stay valid); ajv fills the default.
    max_indices: Type.Optional(Type.Integer({
      minimum: 1,
      default: 100,
      description:
        'Most distinct index names an `index` template with {{…}} may write to: the cluster\'s indices matching the template (each {{…}} as *) plus new names written by this sink. ' +
        'An event for a further new name is dead-lettered (ES_INDEX_LIMIT): Elasticsearch would create an index for it. With one index per day, keep it above the days you retain.',
    })),
    index_pattern: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Regular expression (whole name) a new index name must match to be written, e.g. ^im-events-(group|c2c)-[0-9.]+$ without the anchors. Others: dead-lettered (ES_INDEX_LIMIT).',
      }),
    ),
    template: TemplateSchema,
  },
  { additionalProperties: false },
);

export type ElasticsearchSinkConfig = Static<typeof configSchema>;

/**
 * The rules the schema cannot express; pure, so `im-bridge check` refuses what create() would
 * (CONFIG_PLUGIN_INVALID at the key's file:line). Only reading the TLS files is left to create().
 */
export function validateConfig(config: ElasticsearchSinkConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, message, code: 'ES_CONFIG' });
  if (config.data_stream && config.op_type !== 'create') problem('data_stream', 'data_stream: true needs op_type: create (data streams accept only create)');
  try {
    const indexName = compileIndexName(config.index);
    const indexPatterns = config.template.index_patterns ?? [indexName.pattern];
    if (config.install_template && indexPatterns.some((p) => /^\*+$/.test(p))) {
      problem(config.template.index_patterns ? 'template.index_patterns' : 'index', `index "${config.index}" gives the template pattern "*", which would match every index; set template.index_patterns`);
    }
  } catch (error) {
    if (!(error instanceof IndexNameError)) throw error;
    problem('index', error.message);
  }
  if (config.index_pattern !== undefined) {
    try {
      new RegExp(`^(?:${config.index_pattern})$`); // as IndexBudget compiles it
    } catch (error) {
      problem('index_pattern', `index_pattern is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** Response filter: the plugin reads only these fields of a `_bulk` answer. */
const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error';
const HEALTH_TIMEOUT_MS = 5000;
/** Default of max_indices when a config was not completed with the schema defaults. */
const DEFAULT_MAX_INDICES = 100;

interface ResolveIndexResponse {
  indices?: Array<{ name: string }>;
  aliases?: Array<{ name: string }>;
  data_streams?: Array<{ name: string }>;
}

export default defineSink({
  type: 'elasticsearch',
  apiVersion: '1',
  delivery: 'at_least_once',
  configSchema,
  validate: validateConfig,
  async create(config, ctx) {
    throwIfInvalid(validateConfig(config), 'ES_CONFIG');
    const indexName = compileIndexName(config.index);
    const indexPatterns = config.template.index_patterns ?? [indexName.pattern];
    const client = new Client(await clientOptions(config, ctx));
    const querystring: Record<string, string> = { filter_path: BULK_FILTER_PATH };
    if (config.pipeline) querystring.pipeline = config.pipeline;
    const names = indexName;
    // A fixed name is one index (or alias, data stream): nothing to bound.
    const budget = names.fixed ? undefined : new IndexBudget({ maxIndices: config.max_indices ?? DEFAULT_MAX_INDICES, pattern: config.index_pattern, list: listIndexNames });
    const refusals = new RefusalLog();

    /** Names on the cluster (indices, aliases, data streams) that the template's names can collide with. */
    async function listIndexNames(): Promise<string[]> {
      const answer = (await client.transport.request({
        method: 'GET',
        path: `/_resolve/index/${encodeURIComponent(names.pattern)}`,
        querystring: { expand_wildcards: 'open,closed' },
      })) as ResolveIndexResponse;
      return [...(answer.indices ?? []), ...(answer.aliases ?? []), ...(answer.data_streams ?? [])].map((entry) => entry.name);
    }

    /**
     * Each event's index name, or why it has none: checked and budgeted before anything is sent, so
     * one event that cannot be written fails alone (fatal: retrying renders the same name).
     */
    async function resolveNames(events: readonly CanonicalEvent[]): Promise<{ named: Map<CanonicalEvent, string>; failures: ItemFailure[] }> {
      const named = new Map<CanonicalEvent, string>();
      const failures: ItemFailure[] = [];
      const rendered: Array<string | undefined> = new Array(events.length);
      for (let index = 0; index < events.length; index++) {
        const event = events[index]!;
        let name: string;
        try {
          name = names.name(event);
        } catch (error) {
          failures.push({ index, retriable: false, code: 'ES_INDEX_RENDER_FAILED', message: `index "${config.index}" cannot be rendered for event ${event.id}: ${(error as Error)?.message ?? String(error)}` });
          continue;
        }
        const problem = names.problem(name);
        if (problem) {
          failures.push({ index, retriable: false, code: 'ES_INDEX_INVALID', message: `index "${config.index}" gives ${JSON.stringify(name.slice(0, 300))} for event ${event.id}: the name ${problem}` });
          continue;
        }
        rendered[index] = name;
      }
      const refused = budget ? await budget.admit(rendered.filter((name): name is string => name !== undefined)) : new Map();
      for (const [name, refusal] of refused) {
        const { log, suppressed } = refusals.take(name);
        if (!log) continue;
        ctx.logger.warn(
          { code: 'ES_INDEX_LIMIT', index: name, reason: refusal.reason, known: budget!.size, maxIndices: budget!.maxIndices, pattern: budget!.patternText, ...(suppressed > 0 ? { notLogged: suppressed } : {}) },
          `${refusal.message}; its events are dead-lettered` + (suppressed > 0 ? ` (${suppressed} other refused index name(s) not logged)` : ''),
        );
      }
      for (let index = 0; index < events.length; index++) {
        const name = rendered[index];
        if (name === undefined) continue;
        const refusal = refused.get(name);
        if (refusal) {
          ctx.count('indices_refused');
          failures.push({ index, retriable: false, code: 'ES_INDEX_LIMIT', message: refusal.message });
        } else {
          named.set(events[index]!, name);
        }
      }
      return { named, failures };
    }

    async function bulk(events: readonly CanonicalEvent[], named: ReadonlyMap<CanonicalEvent, string>, signal: AbortSignal): Promise<ItemFailure[]> {
      const body = bulkBody(events, { opType: config.op_type, indexName: (event) => named.get(event)!, timestamp: config.data_stream });
      let response: BulkResponseBody;
      try {
        response = (await client.transport.request({ method: 'POST', path: '/_bulk', querystring, bulkBody: body }, { signal })) as BulkResponseBody;
      } catch (error) {
        if (error instanceof errors.ResponseError && error.statusCode === 413) return tooLarge(events, named, signal, error);
        throw requestError(error);
      }
      if (response.errors === false) return [];
      const { failures, conflictsIgnored } = readBulkItems(response, events.length, config.op_type);
      if (conflictsIgnored > 0) ctx.count('create_conflicts_ignored', conflictsIgnored);
      return failures;
    }

    /** 413: the request is over http.max_content_length. Split it; a single event that is too large is dead-lettered. */
    async function tooLarge(events: readonly CanonicalEvent[], named: ReadonlyMap<CanonicalEvent, string>, signal: AbortSignal, error: errors.ResponseError): Promise<ItemFailure[]> {
      if (events.length === 1) {
        return [{ index: 0, retriable: false, code: 'ES_REQUEST_TOO_LARGE', message: `413 the event alone is larger than the node's http.max_content_length: ${responseReason(error)}` }];
      }
      ctx.count('bulk_split_413');
      ctx.logger.warn({ code: 'ES_BULK_SPLIT', events: events.length }, `_bulk of ${events.length} events is too large (413); splitting it (lower batch.max_bytes)`);
      const half = Math.ceil(events.length / 2);
      const failures: ItemFailure[] = [];
      // Halves go one after the other, so events of one subject stay in order; when the first half
      // fails as a whole, the second is not sent (it would overtake events of the same subject).
      let failed: RetriableError | FatalError | undefined;
      for (const [offset, part] of [[0, events.slice(0, half)], [half, events.slice(half)]] as const) {
        let own = false;
        if (!failed) {
          try {
            for (const f of await bulk(part, named, signal)) failures.push({ ...f, index: f.index + offset });
            continue;
          } catch (partError) {
            failed = requestError(partError);
            own = true;
          }
        }
        // Events not sent because an earlier half failed are retried whatever that failure was.
        const retriable = !own || failed instanceof RetriableError;
        const retryAfterMs = failed instanceof RetriableError ? failed.retryAfterMs : undefined;
        for (let i = 0; i < part.length; i++) failures.push({ index: offset + i, retriable, code: failed.code, message: failed.message, retryAfterMs });
      }
      return failures;
    }

    return {
      async connect(signal) {
        let health;
        try {
          health = await client.cluster.health({}, { signal, requestTimeout: HEALTH_TIMEOUT_MS });
        } catch (error) {
          throw requestError(error);
        }
        ctx.logger.info({ code: 'ES_CONNECTED', cluster: health.cluster_name, status: health.status }, `connected to Elasticsearch cluster ${health.cluster_name} (${health.status})`);
        if (budget) await learnIndexNames(budget, ctx, names.pattern);
        if (!config.install_template) return;
        const body = indexTemplateBody({
          indexPatterns,
          priority: config.template.priority,
          numberOfShards: config.template.number_of_shards,
          numberOfReplicas: config.template.number_of_replicas,
          refreshInterval: config.template.refresh_interval,
          dataStream: config.data_stream,
        });
        try {
          await client.transport.request({ method: 'PUT', path: `/_index_template/${encodeURIComponent(config.template.name)}`, body }, { signal });
        } catch (error) {
          throw new Error(`cannot install index template ${config.template.name}: ${error instanceof errors.ResponseError ? `${error.statusCode} ${responseReason(error)}` : (error as Error).message}`, { cause: error });
        }
        ctx.logger.info(
          { code: 'ES_TEMPLATE_INSTALLED', template: config.template.name, indexPatterns, priority: config.template.priority },
          `index template ${config.template.name} installed for ${indexPatterns.join(', ')}`,
        );
      },

      async writeBatch(events, signal) {
        if (events.length === 0) return;
        const { named, failures } = await resolveNames(events);
        if (named.size > 0) {
          const sendable = failures.length === 0 ? events : events.filter((event) => named.has(event));
          const positions = failures.length === 0 ? undefined : events.flatMap((event, index) => (named.has(event) ? [index] : []));
          let sent: ItemFailure[];
          try {
            sent = await bulk(sendable, named, signal);
          } catch (error) {
            if (!positions) throw error;
            // The request failed as a whole, but the events already failed on their own must not
            // share its fate (a retriable request error would retry them, a fatal one dead-letter them twice).
            const whole = requestError(error);
            const retryAfterMs = whole instanceof RetriableError ? whole.retryAfterMs : undefined;
            sent = sendable.map((_, index) => ({ index, retriable: whole instanceof RetriableError, code: whole.code, message: whole.message, retryAfterMs }));
          }
          for (const f of sent) failures.push(positions ? { ...f, index: positions[f.index]! } : f);
        }
        if (failures.length === 0) return;
        failures.sort((a, b) => a.index - b.index);
        if (failures.length === events.length && failures.every((f) => f.retriable)) {
          // Nothing got in and all of it may later: the node is overloaded or failing; back off the whole batch.
          const first = failures[0]!;
          throw new RetriableError(`all ${events.length} events failed: ${first.message}`, { code: first.code, retryAfterMs: first.retryAfterMs });
        }
        throw new PartialBatchError(failures, `${failures.length} of ${events.length} event(s) failed; first: ${failures[0]!.code} ${failures[0]!.message}`);
      },

      async healthcheck(signal) {
        let status: string;
        try {
          status = (await client.cluster.health({}, { signal, requestTimeout: HEALTH_TIMEOUT_MS })).status;
        } catch (error) {
          throw requestError(error);
        }
        if (String(status).toLowerCase() === 'red') throw new RetriableError('cluster health is red', { code: 'ES_CLUSTER_RED' });
      },

      async close() {
        await client.close();
      },
    };
  },
});

/** Learns the names already on the cluster; without them only this instance's names count. */
async function learnIndexNames(budget: IndexBudget, ctx: SinkContext, pattern: string): Promise<void> {
  try {
    await budget.refresh();
  } catch (error) {
    ctx.logger.warn(
      { code: 'ES_INDEX_LIST_FAILED', pattern, err: error instanceof errors.ResponseError ? `${error.statusCode} ${responseReason(error)}` : (error as Error).message },
      `cannot list the indices matching ${pattern} (needs view_index_metadata); max_indices counts only the names this sink writes`,
    );
    return;
  }
  const fields = { code: 'ES_INDEX_BUDGET', pattern, known: budget.size, maxIndices: budget.maxIndices };
  if (budget.size >= budget.maxIndices) {
    ctx.logger.warn({ ...fields, code: 'ES_INDEX_LIMIT_REACHED' }, `${budget.size} index name(s) on the cluster match ${pattern}, max_indices is ${budget.maxIndices}: events for new index names will be dead-lettered (ES_INDEX_LIMIT)`);
  } else {
    ctx.logger.info(fields, `${budget.size} index name(s) on the cluster match ${pattern}; up to ${budget.maxIndices} in all`);
  }
}

async function clientOptions(config: ElasticsearchSinkConfig, ctx: SinkContext): Promise<ClientOptions> {
  const options: ClientOptions = {
    nodes: config.nodes,
    compression: config.compression,
    requestTimeout: config.request_timeout_ms,
    // Fail over to another node within one attempt; anything else is the host's retry.
    maxRetries: Math.max(0, config.nodes.length - 1),
    name: `im-bridge/${ctx.name}`,
  };
  const auth = config.auth;
  if (auth) {
    if ('username' in auth) options.auth = { username: auth.username, password: auth.password };
    else if ('api_key' in auth) options.auth = { apiKey: auth.api_key };
    else options.auth = { bearer: auth.bearer };
  }
  const tls = config.tls;
  if (tls) {
    const read = async (file: string | undefined, what: string) => {
      if (file === undefined) return undefined;
      const resolved = path.resolve(ctx.configDir, file);
      try {
        return await readFile(resolved);
      } catch (error) {
        throw new FatalError(`cannot read tls.${what} ${resolved}: ${(error as Error).message}`, { code: 'ES_CONFIG', cause: error });
      }
    };
    const [ca, cert, key] = await Promise.all([read(tls.ca_file, 'ca_file'), read(tls.cert_file, 'cert_file'), read(tls.key_file, 'key_file')]);
    options.tls = { rejectUnauthorized: tls.reject_unauthorized };
    if (ca) options.tls.ca = ca;
    if (cert) options.tls.cert = cert;
    if (key) options.tls.key = key;
    if (tls.ca_fingerprint) options.caFingerprint = tls.ca_fingerprint;
  }
  return options;
}

/**
 * A failed request (not an item): transient conditions (connection, timeout, 429, 5xx, auth that an
 * operator can fix) are retriable; a 4xx that is about the request itself is fatal.
 */
export function requestError(error: unknown): RetriableError | FatalError {
  if (error instanceof RetriableError || error instanceof FatalError) return error;
  if (error instanceof errors.ResponseError) {
    const status = error.statusCode ?? 0;
    const reason = responseReason(error);
    const type = responseErrorType(error);
    const code = errorCode(type, status);
    if (status === 400 || status === 405 || status === 406 || status === 413 || status === 415 || status === 422) {
      return new FatalError(`_bulk refused (${status}): ${reason}`, { code, cause: error });
    }
    const retryAfter = error.headers?.['retry-after'];
    const retryAfterS = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    const hint = status === 401 || status === 403 ? ' (check the sink\'s auth and the user\'s index privileges)' : '';
    return new RetriableError(`Elasticsearch answered ${status}: ${reason}${hint}`, {
      code,
      retryAfterMs: Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : undefined,
      cause: error,
    });
  }
  if (error instanceof errors.ConnectionError) return new RetriableError(`cannot reach Elasticsearch: ${error.message}`, { code: 'ES_CONNECTION', cause: error });
  if (error instanceof errors.TimeoutError) return new RetriableError(`Elasticsearch request timed out: ${error.message}`, { code: 'ES_TIMEOUT', cause: error });
  if (error instanceof errors.NoLivingConnectionsError) return new RetriableError(`no Elasticsearch node is reachable: ${error.message}`, { code: 'ES_NO_LIVING_CONNECTIONS', cause: error });
  if (error instanceof errors.RequestAbortedError || isAbortError(error)) return new RetriableError('request aborted', { code: 'ES_ABORTED', cause: error });
  if (error instanceof errors.DeserializationError) return new RetriableError(`unreadable answer from Elasticsearch: ${error.message}`, { code: 'ES_BAD_RESPONSE', cause: error });
  if (error instanceof errors.ProductNotSupportedError) return new RetriableError(`the server is not Elasticsearch: ${error.message}`, { code: 'ES_PRODUCT_NOT_SUPPORTED', cause: error });
  return new RetriableError(`Elasticsearch request failed: ${(error as Error)?.message ?? String(error)}`, { code: 'ES_REQUEST_FAILED', cause: error });
}

function responseBodyError(error: errors.ResponseError): BulkError | string | undefined {
  const body = error.body as { error?: BulkError | string } | string | undefined;
  if (typeof body === 'string') return body.slice(0, 500);
  return body?.error;
}

function responseErrorType(error: errors.ResponseError): string | undefined {
  const e = responseBodyError(error);
  return typeof e === 'object' ? e.type : undefined;
}

function responseReason(error: errors.ResponseError): string {
  const e = responseBodyError(error);
  if (e === undefined) return error.message;
  return typeof e === 'string' ? e : describeError(e);
}
