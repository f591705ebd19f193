/**
 * Per-command validation of Tencent IM callback bodies (design.md §1: "per-command schema (ajv,
 * compiled once at start)").
 *
 * - Every body must be a JSON object (not an array, not null).
 * - Commands with a schema (every command of src/catalogue; a test checks) are checked against it;
 *   `Push.*` commands share one family schema; any other command is accepted as long as the body is
 *   an object (unknown future commands pass through).
 * - Schemas are open: unknown fields pass.
 * - Errors are one short line naming the JSON pointer: "/MsgSeq must be integer".
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { MsgElement } from './elements.js';
import { GROUP_SCHEMAS } from './group.js';
import { C2C_SCHEMAS } from './c2c.js';
import { STATE_SCHEMAS } from './state.js';
import { SNS_SCHEMAS } from './sns.js';
import { OTHER_SCHEMAS } from './others.js';
import { PushCallback, PUSH_FAMILY_PREFIX } from './push.js';

export type ValidationResult = { ok: true } | { ok: false; error: string };

export interface CallbackValidator {
  validate(command: string, body: unknown): ValidationResult;
}

/** Every command with an exact schema. */
export const CALLBACK_SCHEMAS: Readonly<Record<string, TSchema>> = {
  ...GROUP_SCHEMAS,
  ...C2C_SCHEMAS,
  ...STATE_SCHEMAS,
  ...SNS_SCHEMAS,
  ...OTHER_SCHEMAS,
};

/** Commands whose body is checked by a schema (exact ones; every `Push.*` is checked too). */
export function hasSchema(command: string): boolean {
  return Object.prototype.hasOwnProperty.call(CALLBACK_SCHEMAS, command) || command.startsWith(PUSH_FAMILY_PREFIX);
}

const OK: ValidationResult = Object.freeze({ ok: true }) as ValidationResult;

export function createCallbackValidator(): CallbackValidator {
  const ajv = new Ajv({
    allErrors: false,
    strict: true,
    verbose: true, // errors carry parentSchema, used for the `x-expect` phrases
    validateFormats: false,
  });
  ajv.addKeyword({ keyword: 'x-expect', schemaType: 'string' });
  ajv.addSchema(MsgElement as object);

  const validators = new Map<string, ValidateFunction>();
  for (const command of Object.keys(CALLBACK_SCHEMAS)) {
    validators.set(command, ajv.compile(CALLBACK_SCHEMAS[command] as object));
  }
  const pushValidator = ajv.compile(PushCallback as object);

  return {
    validate(command: string, body: unknown): ValidationResult {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return { ok: false, error: `/ must be a JSON object (got ${describe(body)})` };
      }
      let cmd = command;
      if (!cmd) {
        const fromBody = (body as Record<string, unknown>).CallbackCommand;
        cmd = typeof fromBody === 'string' ? fromBody : '';
      }
      const fn = validators.get(cmd) ?? (cmd.startsWith(PUSH_FAMILY_PREFIX) ? pushValidator : undefined);
      if (fn === undefined) return OK;
      try {
        if (fn(body)) return OK;
      } catch (err) {
        // Deeply nested relay messages can exhaust the stack inside the recursive element schema.
        if (err instanceof RangeError) return { ok: false, error: '/ is nested too deeply' };
        throw err;
      }
      return { ok: false, error: formatErrors(fn.errors) };
    },
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Picks the most useful ajv error and renders it as "<pointer> <message>".
 * With allErrors off, ajv stops at the first failing keyword, but `if/then` and `anyOf` append
 * wrapper errors after the specific ones: trailing `if` errors are dropped, and an `anyOf` error
 * (the last one for a union) is phrased with its `x-expect` annotation.
 */
export function formatErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return '/ is invalid';
  let i = errors.length - 1;
  while (i > 0 && errors[i]!.keyword === 'if') i--;
  const e = errors[i]!;
  const path = e.instancePath || '';
  switch (e.keyword) {
    case 'required':
      return `${path}/${(e.params as { missingProperty: string }).missingProperty} is required`;
    case 'type': {
      const expect = expectOf(e);
      return `${path || '/'} must be ${expect ?? (e.params as { type: string }).type}`;
    }
    case 'anyOf':
    case 'oneOf':
    case 'pattern':
    case 'minLength': {
      const expect = expectOf(e);
      if (expect) return `${path || '/'} must be ${expect}`;
      break;
    }
    case 'minItems':
    case 'maxItems':
      return `${path || '/'} ${e.message ?? 'has a wrong number of items'}`;
  }
  return `${path || '/'} ${e.message ?? 'is invalid'}`;
}

function expectOf(e: ErrorObject): string | undefined {
  const parent = e.parentSchema as Record<string, unknown> | undefined;
  const expect = parent?.['x-expect'];
  return typeof expect === 'string' ? expect : undefined;
}
