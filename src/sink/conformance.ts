/**
 * Sink conformance kit, exported as `im-bridge/conformance` for plugin authors and run by every
 * built-in sink's tests. It drives a plugin the way the host does and reports each check; it does
 * not depend on a test framework:
 *
 *   const report = await runSinkConformance(plugin, { config, verify });
 *   assert.ok(report.passed, formatConformanceReport(report));
 */
import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import pino from 'pino';
import { FatalError, PartialBatchError, RetriableError, SINK_API_VERSION, type CanonicalEvent, type Sink, type SinkContext, type SinkPlugin } from './api.js';

export interface ConformanceOptions {
  /** A config block (the plugin's own keys) pointing at a working target. */
  config: Record<string, unknown>;
  /**
   * Optional: returns which of the given event ids are at the destination. With it the kit checks
   * that written events arrived, and that writing the same batch twice leaves one copy per id when
   * `idempotent` is true.
   */
  verify?: (ids: readonly string[]) => Promise<ReadonlySet<string> | readonly string[]>;
  /** Whether redelivering an event (same id) must not duplicate it at the destination. */
  idempotent?: boolean;
  /** Optional: counts the copies of an id at the destination (for the idempotency check). */
  countCopies?: (id: string) => Promise<number>;
  /** Optional: a config whose target is unreachable; writes must fail with a RetriableError in time. */
  unreachableConfig?: Record<string, unknown>;
  /** Per-operation limit in ms (default 15000). */
  timeoutMs?: number;
  /** Events to use; default: realistic group and C2C messages. */
  events?: (count: number, prefix: string) => CanonicalEvent[];
  /** Directory that relative paths in the config resolve against (default: process.cwd()). */
  configDir?: string;
  /**
   * Optional: turns a good event into one this sink cannot write (a subject over the server's limit,
   * an invalid topic or index name, a record over the size limit…). The kit writes it in the middle of
   * 100 good events of the same and of other conversations and expects a PartialBatchError that fails
   * the poison alone, fatally, with a code; the 100 must arrive. Without it the kit still sends a
   * hostile event (lone UTF-16 surrogates, `..`, `/`, control characters in the subject, the group id,
   * the sender and the text): the sink must write it or fail it alone, never the batch.
   */
  poison?: (event: CanonicalEvent) => CanonicalEvent;
  /**
   * Optional: a config the schema accepts but that can never work (keys that contradict each other,
   * a template that does not parse). The kit expects the plugin's `validate` to return at least one
   * problem for it, synchronously, without touching the config.
   */
  invalidConfig?: Record<string, unknown>;
}

export interface ConformanceCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface ConformanceReport {
  plugin: string;
  passed: boolean;
  checks: ConformanceCheck[];
}

export function formatConformanceReport(report: ConformanceReport): string {
  const lines = report.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  return `sink conformance for "${report.plugin}": ${report.passed ? 'passed' : 'FAILED'}\n${lines.join('\n')}`;
}

/** Realistic canonical events: group messages over a few conversations, and a C2C message. */
export function sampleEvents(count: number, prefix = 'conformance'): CanonicalEvent[] {
  const events: CanonicalEvent[] = [];
  for (let i = 0; i < count; i++) {
    const group = `@TGS#${prefix}-${i % 5}`;
    const c2c = i % 7 === 6;
    const id = createHash('sha256').update(`${prefix}|${i}`).digest('hex').slice(0, 32);
    const raw = c2c
      ? { CallbackCommand: 'C2C.CallbackAfterSendMsg', From_Account: 'alice', To_Account: 'bob', MsgSeq: i, MsgRandom: i, MsgTime: 1767225600 + i, MsgKey: `${i}_${i}_1767225600`, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `hello ${i}` } }] }
      : { CallbackCommand: 'Group.CallbackAfterSendMsg', GroupId: group, Type: 'Public', From_Account: 'alice', MsgSeq: i, MsgTime: 1767225600 + i, Random: i, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `hello ${i}` } }] };
    events.push({
      specversion: '1.0',
      id,
      type: `com.tencent.im.${raw.CallbackCommand}`,
      source: '/tencent-im/1400000000',
      subject: c2c ? 'c2c/alice/bob' : `group/${group}`,
      time: new Date((1767225600 + i) * 1000).toISOString().replace('.000Z', 'Z'),
      datacontenttype: 'application/json',
      imsdkappid: '1400000000',
      imcommand: raw.CallbackCommand,
      implatform: 'Android',
      data: {
        family: c2c ? 'c2c' : 'group',
        before: false,
        conversation: c2c ? { kind: 'c2c', accounts: ['alice', 'bob'] } : { kind: 'group', groupId: group, groupType: 'Public' },
        sender: 'alice',
        seq: i,
        elements: [{ type: 'TIMTextElem', kind: 'text', content: { text: `hello ${i}` } }],
        text: `hello ${i}`,
        receivedAtMs: 1767225600000 + i,
        raw,
      },
    });
  }
  return events;
}

export async function runSinkConformance(plugin: SinkPlugin, options: ConformanceOptions): Promise<ConformanceReport> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const checks: ConformanceCheck[] = [];
  const make = options.events ?? sampleEvents;
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const record = (name: string, ok: boolean, detail?: string) => checks.push({ name, ok, detail });
  const attempt = async (name: string, fn: () => Promise<void | string>): Promise<boolean> => {
    try {
      const detail = await within(fn(), timeoutMs, name);
      record(name, true, detail || undefined);
      return true;
    } catch (error) {
      record(name, false, describe(error));
      return false;
    }
  };
  const report = (): ConformanceReport => ({ plugin: String(plugin?.type), passed: checks.every((c) => c.ok), checks });

  // 1. Shape and config.
  const shapeProblems: string[] = [];
  if (typeof plugin?.type !== 'string' || !/^[a-z][a-z0-9_]*$/.test(plugin.type)) shapeProblems.push('type must be snake_case');
  if (typeof plugin?.create !== 'function') shapeProblems.push('create must be a function');
  if (!plugin?.configSchema || typeof plugin.configSchema !== 'object') shapeProblems.push('configSchema must be a schema object');
  if (String(plugin?.apiVersion).split('.')[0] !== SINK_API_VERSION) shapeProblems.push(`apiVersion must be ${SINK_API_VERSION}`);
  record('export shape and apiVersion', shapeProblems.length === 0, shapeProblems.join('; ') || undefined);
  if (shapeProblems.length) return report();

  const ajv = new Ajv({ useDefaults: true, strict: false, allErrors: true });
  const config = structuredClone(options.config);
  const validate = ajv.compile(plugin.configSchema);
  const schemaOk = validate(config) === true;
  record('configSchema accepts the config', schemaOk, validate.errors ? ajv.errorsText(validate.errors) : undefined);

  if (schemaOk) checkValidate(plugin, config, options.invalidConfig, (c) => validate(c) === true, record);

  const controller = new AbortController();
  const ctx: SinkContext = {
    name: `conformance-${plugin.type}`,
    logger: pino({ level: 'silent' }),
    signal: controller.signal,
    configDir: options.configDir ?? process.cwd(),
    count: () => undefined,
  };
  let sink: Sink | undefined;
  const created = await attempt('create returns a sink with connect, writeBatch, close', async () => {
    sink = await plugin.create(config as never, ctx);
    for (const m of ['connect', 'writeBatch', 'close'] as const) if (typeof sink?.[m] !== 'function') throw new Error(`missing ${m}()`);
  });
  if (!created || !sink) return report();
  const s = sink;
  if (!(await attempt('connect resolves', () => s.connect(controller.signal)))) return report();

  const verifyArrived = async (events: CanonicalEvent[]) => {
    if (!options.verify) return 'not verified (no verify option)';
    const ids = events.map((e) => e.id);
    const found = new Set(await options.verify(ids));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length) throw new Error(`${missing.length} event(s) not at the destination, e.g. ${missing[0]}`);
    return `${ids.length} event(s) verified at the destination`;
  };

  const single = make(1, `${run}-single`);
  await attempt('writeBatch of one event', async () => {
    await s.writeBatch(single, controller.signal);
    return verifyArrived(single);
  });
  const batch = make(100, `${run}-batch`);
  await attempt('writeBatch of 100 events', async () => {
    await s.writeBatch(batch, controller.signal);
    return verifyArrived(batch);
  });
  const parallel = [0, 1, 2, 3].map((k) => make(25, `${run}-parallel${k}`));
  await attempt('4 batches in parallel', async () => {
    await Promise.all(parallel.map((b) => s.writeBatch(b, controller.signal)));
    return verifyArrived(parallel.flat());
  });
  await attempt(options.poison ? 'a poison event fails alone, fatally, with a code' : 'a hostile event is written or fails alone', async () => {
    const good = make(100, `${run}-poison`);
    const at = 37;
    const poison = (options.poison ?? hostileEvent)(structuredClone(good[at]!));
    poison.id = createHash('sha256').update(`${run}|poison`).digest('hex').slice(0, 32);
    const events = [...good.slice(0, at), poison, ...good.slice(at)];
    let failures: Array<{ index: number; retriable: boolean; code: string }> = [];
    try {
      await s.writeBatch(events, controller.signal);
    } catch (error) {
      const shaped = error as { name?: string; failures?: Array<{ index: number; retriable: boolean; code: string }> };
      if (!(error instanceof PartialBatchError) && shaped?.name !== 'PartialBatchError') throw new Error(`the whole batch failed for one event: ${describe(error)} (throw PartialBatchError for that event alone)`);
      failures = [...(shaped.failures ?? [])];
    }
    const others = failures.filter((f) => f.index !== at);
    if (others.length) throw new Error(`${others.length} good event(s) failed with the poison, e.g. index ${others[0]!.index} ${others[0]!.code}`);
    const own = failures.find((f) => f.index === at);
    if (options.poison) {
      if (!own) throw new Error('the poison event was accepted although it cannot be written');
      if (own.retriable) throw new Error(`the poison event failed as retriable (${own.code}); retrying cannot help: fail it as fatal`);
      if (!own.code || typeof own.code !== 'string') throw new Error('the poison event failed without a code');
    }
    const arrived = await verifyArrived(good);
    return own ? `poison failed alone (${own.code}); ${arrived}` : `hostile event written; ${arrived}`;
  });
  await attempt('the same batch written again (redelivery)', async () => {
    await s.writeBatch(single, controller.signal);
    if (options.idempotent && options.countCopies) {
      const copies = await options.countCopies(single[0]!.id);
      if (copies !== 1) throw new Error(`${copies} copies of a redelivered id; expected 1 (idempotent sink)`);
      return 'one copy per id';
    }
    return undefined;
  });
  if (typeof s.healthcheck === 'function') await attempt('healthcheck resolves on a healthy target', () => s.healthcheck!(controller.signal));
  await attempt('an aborted signal does not hang writeBatch', async () => {
    const aborted = new AbortController();
    aborted.abort(new Error('conformance abort'));
    try {
      await s.writeBatch(make(3, `${run}-abort`), aborted.signal);
    } catch (error) {
      checkClassified(error);
    }
  });
  await attempt('close resolves (flush)', () => s.close());

  if (options.unreachableConfig) {
    const unreachable = structuredClone(options.unreachableConfig);
    validate(unreachable);
    const broken = await plugin.create(unreachable as never, ctx);
    await attempt('unreachable target: a RetriableError, not a hang or a crash', async () => {
      const probe = new AbortController();
      const timer = setTimeout(() => probe.abort(new Error('conformance timeout')), Math.max(1000, timeoutMs - 2000));
      try {
        await broken.connect(probe.signal);
        await broken.writeBatch(make(2, `${run}-unreachable`), probe.signal);
        throw new Error('writeBatch resolved although the target is unreachable');
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('writeBatch resolved')) throw error;
        if (!isRetriable(error)) throw new Error(`expected a RetriableError, got ${describe(error)}`);
        return `RetriableError ${(error as { code?: string }).code ?? ''}`.trim();
      } finally {
        clearTimeout(timer);
        await broken.close().catch(() => undefined);
      }
    });
  }
  controller.abort();
  return report();
}

/** The default poison: hostile strings in every field a sink may put in a name, a path or a URL. */
function hostileEvent(event: CanonicalEvent): CanonicalEvent {
  const hostile = '../..\\/\ud800x\u0000\n%2e%2e';
  const groupId = `@TGS#${hostile}`;
  event.subject = `group/${groupId}`;
  event.data.conversation = { kind: 'group', groupId, groupType: 'Public' };
  event.data.sender = hostile;
  event.data.text = hostile;
  return event;
}

function isRetriable(error: unknown): boolean {
  return error instanceof RetriableError || (error as { name?: string })?.name === 'RetriableError' || (error as { name?: string })?.name === 'AbortError';
}

function checkClassified(error: unknown): void {
  if (error instanceof RetriableError || error instanceof FatalError || error instanceof PartialBatchError) return;
  const name = (error as { name?: string })?.name;
  if (name === 'AbortError' || name === 'RetriableError' || name === 'FatalError' || name === 'PartialBatchError') return;
  throw new Error(`unclassified error: ${describe(error)} (throw RetriableError, FatalError or PartialBatchError)`);
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}${(error as { code?: string }).code ? ` ${(error as { code?: string }).code}` : ''}: ${error.message}`;
  return String(error);
}

/**
 * `validate` (when the plugin has one) is what `im-bridge check` runs: it must be synchronous and
 * leave the config alone, accept the working config and, given `invalidConfig`, find its problem.
 * Purity beyond that (no I/O) cannot be observed from here; calling it twice must agree.
 */
function checkValidate(
  plugin: SinkPlugin,
  config: Record<string, unknown>,
  invalidConfig: Record<string, unknown> | undefined,
  schemaAccepts: (config: Record<string, unknown>) => boolean,
  record: (name: string, ok: boolean, detail?: string) => void,
): void {
  if (typeof plugin.validate !== 'function') {
    if (invalidConfig) record('validate refuses invalidConfig', false, 'invalidConfig was given but the plugin has no validate()');
    return;
  }
  const run = (input: Record<string, unknown>): { problems: ReadonlyArray<{ path: string; message: string }> } | { error: string } => {
    const before = JSON.stringify(input);
    let result: unknown;
    try {
      result = plugin.validate!(input as never);
    } catch (error) {
      return { error: `validate threw: ${describe(error)}` };
    }
    if (result && typeof (result as { then?: unknown }).then === 'function') return { error: 'validate returned a promise: it must be synchronous (no I/O)' };
    if (!Array.isArray(result)) return { error: `validate returned ${typeof result}, not an array of problems` };
    if (result.some((p: unknown) => typeof (p as { path?: unknown })?.path !== 'string' || typeof (p as { message?: unknown })?.message !== 'string')) {
      return { error: 'every problem needs a string path and message' };
    }
    if (JSON.stringify(input) !== before) return { error: 'validate changed the config it was given' };
    if (JSON.stringify(plugin.validate!(input as never)) !== JSON.stringify(result)) return { error: 'two calls on the same config disagree' };
    return { problems: result };
  };
  const good = run(config);
  record('validate is synchronous and accepts the config', 'problems' in good && good.problems.length === 0, 'error' in good ? good.error : good.problems.map((p) => `${p.path}: ${p.message}`).join('; ') || undefined);
  if (!invalidConfig) return;
  const bad = structuredClone(invalidConfig);
  if (!schemaAccepts(bad)) {
    record('validate refuses invalidConfig', false, 'the schema already refuses invalidConfig: give one only validate can refuse');
    return;
  }
  const refused = run(bad);
  const ok = 'problems' in refused && refused.problems.length > 0;
  record('validate refuses invalidConfig', ok, 'error' in refused ? refused.error : ok ? refused.problems.map((p) => `${p.path}: ${p.message}`).join('; ') : 'no problem found');
}
