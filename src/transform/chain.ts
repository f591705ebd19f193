/**
 * A sink's transform chain, run by the sink runner on every batch just before writeBatch: at
 * delivery, per sink, so one stored event is shaped differently for each sink, and again — with
 * the same result — on every retry, redelivery and replay (the input is always the event parsed
 * from the stored JSON, which no step changes: path.ts copies on write, plugins get a copy).
 *
 * Per event, the chain yields the event to deliver, or "filtered" (a plugin returned null: the
 * event is acknowledged for this sink and counted), or a failure with a code (a step threw, timed
 * out, returned something that is not an event, or changed id/subject): that event alone is
 * dead-lettered for this sink, like a fatal PartialBatchError item; the others go on in order.
 */
import type { Logger } from 'pino';
import { rememberEventJson } from '../sink/event-json.js';
import { eventJson, type CanonicalEvent, type ItemFailure, type TransformFunction, type TransformPlugin } from '../sink/api.js';
import type { Metrics } from '../telemetry/metrics.js';
import { compileStep, IMMUTABLE, type CompiledStep, type EventFn } from './steps.js';
import { markBigIntegers, unmarkJson } from './exact.js';
import type { TransformStepConfig } from './schema.js';

export const DEFAULT_TRANSFORM_TIMEOUT_MS = 1000;

export type TransformPluginResolver = (module: string, configDir: string) => Promise<TransformPlugin>;

/** Per-event failure codes (kept in the dead-letter store). */
export type TransformFailureCode = 'TRANSFORM_FAILED' | 'TRANSFORM_TIMEOUT' | 'TRANSFORM_BAD_RESULT' | 'TRANSFORM_IMMUTABLE_CHANGED';

export interface ShapedBatch {
  /** The events to write, in input order. */
  events: CanonicalEvent[];
  /** For each written event, its index in the input batch. */
  index: number[];
  /** Fatal failures, indexed into the input batch. */
  failures: ItemFailure[];
  /** Events left out by a step returning null. */
  filtered: number;
}

interface Step extends CompiledStep {
  timeoutMs: number;
  config: TransformStepConfig;
  fn?: TransformFunction;
}

type Passed = { event: Record<string, unknown> };
type Failed = { failed: number; code: TransformFailureCode; message: string };
type One = Passed | { filtered: number } | Failed;
/** What one plugin call gives. */
type Called = typeof FILTERED | Passed | Failed;

const FILTERED = 'filtered';

export class TransformChain {
  private readonly steps: Step[];
  private started: Promise<void> | undefined;

  constructor(
    private readonly sink: string,
    configs: readonly TransformStepConfig[] | undefined,
    private readonly configDir: string,
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
    private readonly resolve?: TransformPluginResolver,
  ) {
    this.steps = (configs ?? []).map((config, index) => ({ ...compileStep(config, index), config, timeoutMs: config.timeout_ms ?? DEFAULT_TRANSFORM_TIMEOUT_MS }));
  }

  /** True when the sink has at least one step. */
  get active(): boolean {
    return this.steps.length > 0;
  }

  get labels(): string[] {
    return this.steps.map((s) => s.label);
  }

  /** Loads the plugin steps and calls their create(); idempotent once it succeeded. */
  start(): Promise<void> {
    this.started ??= this.createPlugins().catch((error: unknown) => {
      this.started = undefined;
      throw error;
    });
    return this.started;
  }

  private async createPlugins(): Promise<void> {
    for (const step of this.steps) {
      if (step.action !== 'plugin' || step.fn) continue;
      if (!this.resolve) throw new Error(`sink ${this.sink}: transform plugin ${step.config.plugin} cannot be loaded here`);
      const plugin = await this.resolve(step.config.plugin!, this.configDir);
      if (step.config.name === undefined) step.label = plugin.type;
      const fn = await plugin.create((step.config.options ?? {}) as never, {
        sink: this.sink,
        name: step.label,
        logger: this.logger.child({ transform: step.label }),
        configDir: this.configDir,
      });
      if (typeof fn !== 'function') throw new Error(`transform plugin ${step.config.plugin}: create() must return a function (event, ctx) => event | null`);
      step.fn = fn;
    }
  }

  /** Shapes a batch; synchronous unless a plugin step answers with a promise. */
  apply(events: readonly CanonicalEvent[]): ShapedBatch | Promise<ShapedBatch> {
    const results: Array<One | Promise<One>> = new Array(events.length);
    let async = false;
    for (let i = 0; i < events.length; i++) {
      const one = this.begin(events[i]!);
      if (one instanceof Promise) async = true;
      results[i] = one;
    }
    if (async) return Promise.all(results).then((all) => this.collect(events, all));
    return this.collect(events, results as One[]);
  }

  /** Runs the chain on one stored event; with integers beyond 2^53, on the exact parse (exact.ts). */
  private begin(original: CanonicalEvent): One | Promise<One> {
    if (this.steps[0]!.apply) {
      const stored = eventJson(original);
      const marked = markBigIntegers(stored);
      if (marked !== stored) {
        let exact: Record<string, unknown>;
        try {
          exact = JSON.parse(marked) as Record<string, unknown>;
        } catch (error) {
          return { failed: 0, code: 'TRANSFORM_FAILED', message: `exact parse of the stored event: ${describe(error)}` };
        }
        return this.run(original, exact, 0, exact);
      }
    }
    return this.run(original, original as unknown as Record<string, unknown>, 0);
  }

  /**
   * Runs the steps from `from` on; continues synchronously for as long as no step is async.
   * `exact`: the marked parse the run started from, while the event still holds markers.
   */
  private run(original: CanonicalEvent, event: Record<string, unknown>, from: number, exact?: Record<string, unknown>): One | Promise<One> {
    let current = event;
    // Objects copied while shaping this event (path.ts own()): later steps change them in place.
    let owned: Set<object> | undefined;
    for (let s = from; s < this.steps.length; s++) {
      const step = this.steps[s]!;
      if (step.apply) {
        try {
          current = (step.apply as EventFn)(current, (owned ??= new Set()));
        } catch (error) {
          return { failed: s, code: 'TRANSFORM_FAILED', message: `transform ${step.label}: ${describe(error)}` };
        }
        continue;
      }
      if (exact) {
        // A plugin sees plain JSON numbers (as any JSON.parse gives them), not markers.
        current = JSON.parse(unmarkJson(JSON.stringify(current))) as Record<string, unknown>;
        exact = undefined;
      }
      const outcome = this.callPlugin(step, s, original, current);
      if (outcome instanceof Promise) {
        return outcome.then((r) => (r === FILTERED ? { filtered: s } : 'failed' in r ? r : this.run(original, r.event, s + 1)));
      }
      if (outcome === FILTERED) return { filtered: s };
      if ('failed' in outcome) return outcome;
      current = outcome.event;
    }
    if (exact) {
      if (current === exact) return { event: original as unknown as Record<string, unknown> };
      const json = unmarkJson(JSON.stringify(current));
      const shaped = JSON.parse(json) as Record<string, unknown>;
      rememberEventJson(shaped as unknown as CanonicalEvent, json);
      return { event: shaped };
    }
    return { event: current };
  }

  private callPlugin(step: Step, s: number, original: CanonicalEvent, current: Record<string, unknown>): Called | Promise<Called> {
    // The plugin gets a private deep copy: it may change it in place without touching the stored
    // event, which other sinks and the next retry read.
    const copy = JSON.parse(current === (original as unknown) ? eventJson(original) : JSON.stringify(current)) as CanonicalEvent;
    const controller = new AbortController();
    const started = performance.now();
    let result: unknown;
    try {
      result = step.fn!(copy, { sink: this.sink, signal: controller.signal });
    } catch (error) {
      return { failed: s, code: 'TRANSFORM_FAILED', message: `transform ${step.label}: ${describe(error)}` };
    }
    if (result !== null && typeof (result as { then?: unknown })?.then === 'function') {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          controller.abort(new Error(`transform deadline of ${step.timeoutMs} ms`));
          resolve(this.timedOut(step, s));
        }, step.timeoutMs);
        (result as Promise<unknown>).then(
          (value) => {
            clearTimeout(timer);
            resolve(this.check(step, s, original, value));
          },
          (error: unknown) => {
            clearTimeout(timer);
            resolve({ failed: s, code: 'TRANSFORM_FAILED', message: `transform ${step.label}: ${describe(error)}` });
          },
        );
      });
    }
    // A synchronous step cannot be interrupted, but one over its deadline is failed the same way.
    if (performance.now() - started > step.timeoutMs) return this.timedOut(step, s);
    return this.check(step, s, original, result);
  }

  private timedOut(step: Step, s: number): Failed {
    return { failed: s, code: 'TRANSFORM_TIMEOUT', message: `transform ${step.label} did not finish within ${step.timeoutMs} ms` };
  }

  private check(step: Step, s: number, original: CanonicalEvent, value: unknown): Called {
    if (value === null) return FILTERED;
    if (value === undefined || typeof value !== 'object' || Array.isArray(value)) {
      return { failed: s, code: 'TRANSFORM_BAD_RESULT', message: `transform ${step.label} returned ${value === undefined ? 'undefined' : Array.isArray(value) ? 'an array' : typeof value}; expected the event or null` };
    }
    for (const key of IMMUTABLE) {
      if ((value as Record<string, unknown>)[key] !== original[key]) {
        return { failed: s, code: 'TRANSFORM_IMMUTABLE_CHANGED', message: `transform ${step.label} changed the event ${key} (${JSON.stringify(original[key])} → ${JSON.stringify((value as Record<string, unknown>)[key])}); id and subject cannot be changed` };
      }
    }
    return { event: value as Record<string, unknown> };
  }

  private collect(input: readonly CanonicalEvent[], results: readonly One[]): ShapedBatch {
    const shaped: ShapedBatch = { events: [], index: [], failures: [], filtered: 0 };
    const passed = new Array<number>(this.steps.length).fill(0);
    const filtered = new Array<number>(this.steps.length).fill(0);
    const failed = new Array<number>(this.steps.length).fill(0);
    results.forEach((one, i) => {
      const stop = 'event' in one ? this.steps.length : 'filtered' in one ? one.filtered : one.failed;
      for (let s = 0; s < stop; s++) passed[s]!++;
      if ('event' in one) {
        shaped.events.push(one.event as unknown as CanonicalEvent);
        shaped.index.push(i);
      } else if ('filtered' in one) {
        filtered[one.filtered]!++;
        shaped.filtered++;
        this.logger.debug({ code: 'TRANSFORM_FILTERED', eventId: input[i]!.id, transform: this.steps[one.filtered]!.label }, `sink ${this.sink}: event ${input[i]!.id} filtered out`);
      } else {
        failed[one.failed]!++;
        shaped.failures.push({ index: i, retriable: false, code: one.code, message: one.message });
        this.logger.warn({ code: one.code, eventId: input[i]!.id, subject: input[i]!.subject, transform: this.steps[one.failed]!.label, err: one.message }, `sink ${this.sink}: transform failed on event ${input[i]!.id}`);
      }
    });
    if (this.metrics) {
      this.steps.forEach((step, s) => {
        const labels = { sink: this.sink, transform: step.label };
        if (passed[s]) this.metrics!.transformEvents.inc({ ...labels, outcome: 'passed' }, passed[s]);
        if (filtered[s]) this.metrics!.transformEvents.inc({ ...labels, outcome: 'filtered' }, filtered[s]);
        if (failed[s]) this.metrics!.transformEvents.inc({ ...labels, outcome: 'failed' }, failed[s]);
      });
    }
    return shaped;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code !== undefined ? `${String(code)}: ${error.message}` : error.message;
  }
  return String(error);
}
