/**
 * webhook sink: CloudEvents over HTTP to any receiver, signed with Standard Webhooks.
 *
 * structured / binary encoding: one event = one request. A batch's requests run concurrently
 * across subjects and one after another within a subject; when an event fails retriably, the
 * later events of its subject in the batch are not sent and are reported as retriable, so a
 * receiver always sees a conversation in order. An event that fails fatally (dead-lettered, never
 * sent again) does not hold the others back. batch encoding: one request per batch (per distinct
 * URL when the URL is a template), all-or-nothing.
 *
 * Whatever goes wrong while preparing one event (its URL, its headers, its body) fails that event
 * alone, fatally: an exception escaping writeBatch would make the host retry the whole batch, and
 * re-send every batch-mate that was already delivered.
 *
 * Outcomes: 2xx delivered; 408, 429, 5xx, timeouts and network errors retriable (Retry-After
 * honoured); redirects not followed unless configured; other 4xx (and 3xx) fatal, dead-lettered
 * with WEBHOOK_HTTP_<status> and a body excerpt. See README.md.
 */
import { setMaxListeners } from 'node:events';
import { defineSink, FatalError, PartialBatchError, RetriableError, throwIfInvalid, type CanonicalEvent, type ConfigProblem, type ItemFailure } from '../../src/sink/api.js';
import { WebhookConfigSchema, type WebhookConfig } from './config.js';
import { encodeBatch, encodeEvent, percentEncodeHeader, Signer, type EncodedRequest } from './encode.js';
import { Transport, type Failure } from './http.js';
import { compileUrlTemplate, TemplateError, type UrlTemplate } from './template.js';

/**
 * The rules the schema cannot express; pure, so `im-bridge check` refuses what create() would
 * (CONFIG_PLUGIN_INVALID at the key's file:line). Only reading the TLS files is left to create().
 */
export function validateConfig(config: WebhookConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, message, code: 'WEBHOOK_CONFIG' });
  try {
    compileUrlTemplate(config.url);
  } catch (error) {
    problem('url', (error as Error).message);
  }
  const reserved = Object.keys(config.headers).filter((name) => RESERVED_HEADERS.test(name));
  if (reserved.length) problem(`headers.${reserved[0]}`, `${reserved.join(', ')} ${reserved.length > 1 ? 'are' : 'is'} set by the sink and cannot be configured`);
  if (Boolean(config.tls.cert_file) !== Boolean(config.tls.key_file)) problem(config.tls.cert_file ? 'tls.cert_file' : 'tls.key_file', 'cert_file and key_file go together');
  if (config.signing) {
    try {
      new Signer(config.signing.secrets);
    } catch (error) {
      problem('signing.secrets', `invalid secret (${(error as Error).message})`);
    }
  }
  return problems;
}

/** Headers the sink sets itself; configuring them is an error rather than a silent override. */
const RESERVED_HEADERS = /^(host|content-type|content-length|transfer-encoding|connection|keep-alive|upgrade|expect|te|trailer|webhook-.*|ce-.*)$/i;
const CLOSE_GRACE_MS = 5000;

export default defineSink({
  type: 'webhook',
  apiVersion: '1',
  configSchema: WebhookConfigSchema,
  delivery: 'at_least_once',
  validate: validateConfig,
  create(config, ctx) {
    throwIfInvalid(validateConfig(config), 'WEBHOOK_CONFIG');
    const template = compileUrlTemplate(config.url);
    const signer = config.signing ? new Signer(config.signing.secrets) : undefined;
    let transport: Transport;
    try {
      transport = new Transport({
        timeoutMs: config.timeout_ms,
        maxConnections: config.max_connections,
        followRedirects: config.follow_redirects,
        maxRedirects: config.max_redirects,
        maxRetryAfterMs: config.max_retry_after_ms,
        tls: config.tls,
        configDir: ctx.configDir,
        count: (metric) => ctx.count(metric),
      });
    } catch (error) {
      throw new FatalError(`webhook tls: ${(error as Error).message}`, { code: 'WEBHOOK_CONFIG', cause: error });
    }
    const userHeaders = Object.fromEntries(Object.entries(config.headers).map(([k, v]) => [k.toLowerCase(), v]));
    userHeaders['user-agent'] ??= 'im-bridge-webhook';
    let closed = false;

    async function send(url: string, request: EncodedRequest, signal: AbortSignal): Promise<Failure | undefined> {
      let headers: Record<string, string>;
      try {
        // Event ids are ASCII hashes; anything else is percent-encoded to fit a header, and signed as sent.
        const id = percentEncodeHeader(request.id);
        headers = { ...userHeaders, ...request.headers, ...(signer ? signer.headers(id, request.body) : { 'webhook-id': id }) };
      } catch (error) {
        return { retriable: false, code: 'WEBHOOK_BAD_EVENT', message: `cannot build the request headers: ${describe(error)}` };
      }
      ctx.count('requests');
      try {
        return await transport.send({ url, method: config.method, headers, body: request.body, signal });
      } catch (error) {
        // transport.send maps every known outcome to a Failure; anything else is a bug of ours, kept to
        // this request (the host would otherwise re-send the whole batch).
        ctx.logger.error({ code: 'WEBHOOK_UNEXPECTED_ERROR', err: describe(error) }, `webhook sink ${ctx.name}: unexpected error sending a request`);
        return { retriable: true, code: 'WEBHOOK_UNEXPECTED_ERROR', message: describe(error) };
      }
    }

    /** The URL of one event; any error (a missing field, a value with no URL encoding) fails that event alone. */
    function render(event: CanonicalEvent): string | Failure {
      try {
        return template.render(event);
      } catch (error) {
        const message = error instanceof TemplateError ? error.message : `event ${event.id}: cannot render the URL template: ${describe(error)}`;
        return { retriable: false, code: 'WEBHOOK_URL_TEMPLATE', message };
      }
    }

    function encode(event: CanonicalEvent, encoding: 'structured' | 'binary'): EncodedRequest | Failure {
      try {
        return encodeEvent(event, encoding);
      } catch (error) {
        return { retriable: false, code: 'WEBHOOK_BAD_EVENT', message: `event ${event.id}: cannot encode the request: ${describe(error)}` };
      }
    }

    async function sendOne(event: CanonicalEvent, encoding: 'structured' | 'binary', signal: AbortSignal): Promise<Failure | undefined> {
      const url = render(event);
      if (typeof url !== 'string') return url;
      const request = encode(event, encoding);
      if ('code' in request) return request;
      return send(url, request, signal);
    }

    /** One request per event; subjects in parallel, each subject in order. */
    async function writeEach(events: readonly CanonicalEvent[], encoding: 'structured' | 'binary', signal: AbortSignal): Promise<ItemFailure[]> {
      const chains = new Map<string, number[]>();
      events.forEach((event, index) => {
        const chain = chains.get(event.subject);
        if (chain) chain.push(index);
        else chains.set(event.subject, [index]);
      });
      const failures: ItemFailure[] = [];
      await Promise.all(
        [...chains.values()].map(async (chain) => {
          for (let k = 0; k < chain.length; k++) {
            const event = events[chain[k]!]!;
            const failure = await sendOne(event, encoding, signal);
            if (!failure) continue;
            failures.push(item(chain[k]!, failure));
            // A fatal event is dead-lettered, never retried: holding the rest of its conversation would
            // only make them wait a retry round (counted as retries) and arrive after it all the same.
            if (!failure.retriable) continue;
            for (const later of chain.slice(k + 1)) {
              failures.push({
                index: later,
                retriable: true,
                code: 'WEBHOOK_ORDER_HELD',
                message: `not sent: earlier event ${event.id} of ${event.subject} failed (${failure.code})`,
                retryAfterMs: failure.retryAfterMs,
                notAttempted: true,
              });
            }
            return;
          }
        }),
      );
      return failures;
    }

    /** One request per distinct URL, carrying that URL's events as a JSON array. */
    async function writeBatched(events: readonly CanonicalEvent[], signal: AbortSignal): Promise<ItemFailure[]> {
      const failures: ItemFailure[] = [];
      const groups = new Map<string, number[]>();
      events.forEach((event, index) => {
        const url = render(event);
        if (typeof url !== 'string') return failures.push(item(index, url));
        const group = groups.get(url);
        if (group) group.push(index);
        else groups.set(url, [index]);
      });
      await Promise.all(
        [...groups].map(async ([url, indexes]) => {
          const failure = await send(url, encodeBatch(indexes.map((i) => events[i]!)), signal);
          if (failure) for (const index of indexes) failures.push(item(index, failure));
        }),
      );
      return failures;
    }

    return {
      async connect() {
        // Connections are opened on demand and kept alive; there is nothing to wait for here.
        // healthcheck() probes a static receiver.
      },

      async writeBatch(events, signal) {
        if (closed) throw new RetriableError('webhook sink is closed', { code: 'WEBHOOK_CLOSED' });
        if (events.length === 0) return;
        // One listener on the host's signal; each request of the batch listens on this one.
        const batch = new AbortController();
        setMaxListeners(0, batch.signal);
        const onAbort = () => batch.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
        let failures: ItemFailure[];
        try {
          failures = config.encoding === 'batch' ? await writeBatched(events, batch.signal) : await writeEach(events, config.encoding, batch.signal);
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
        if (failures.length === 0) return;
        failures.sort((a, b) => a.index - b.index);
        // Nothing got through: a plain retriable error marks the sink as failing in /readyz. Not
        // when events were held back (their attempts must not count), unless the host cut the
        // whole attempt short (a timeout: everything in it was attempted).
        if (failures.length === events.length && failures.every((f) => f.retriable) && (signal.aborted || !failures.some((f) => f.notAttempted))) {
          const cause = failures.find((f) => f.code !== 'WEBHOOK_ORDER_HELD') ?? failures[0]!;
          const retryAfterMs = Math.max(0, ...failures.map((f) => f.retryAfterMs ?? 0));
          throw new RetriableError(cause.message, { code: cause.code, retryAfterMs: retryAfterMs || undefined });
        }
        throw new PartialBatchError(failures, `${failures.length} of ${events.length} event(s) not delivered (first: ${failures[0]!.code}: ${failures[0]!.message})`);
      },

      async healthcheck(signal) {
        if (template.origin) await transport.probe(template.origin, signal);
      },

      async close() {
        if (closed) return;
        closed = true;
        await transport.close(CLOSE_GRACE_MS);
      },
    };
  },
});

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function item(index: number, failure: Failure): ItemFailure {
  return { index, retriable: failure.retriable, code: failure.code, message: failure.message, retryAfterMs: failure.retryAfterMs };
}
