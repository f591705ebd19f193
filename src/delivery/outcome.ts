/**
 * The one rule for what a write's outcome means for each event of the batch, whatever queue backs
 * the sink: delivered → ack; fatal → dead letter; retriable → again, in order, after a backoff,
 * until `retry.max_attempts`, then dead letter as RETRIES_EXHAUSTED:<code>.
 *
 * - An event the sink reports `notAttempted` (held back behind a failed event of its conversation)
 *   is retried without counting an attempt: it never reached the destination.
 * - The backoff of a retry group follows its most-tried event (held-back events share the group
 *   with the event that failed), and honours the largest retry-after a sink asked for.
 */
import type { ItemFailure } from '../sink/api.js';
import type { WriteOutcome } from '../sink/runner.js';
import { backoffDelay } from '../sink/backoff.js';

/** What the engine tracks per event across attempts. */
export interface Attempted {
  attempts: number;
  lastCode?: string;
  lastError?: string;
}

export interface RetryPolicy {
  max_attempts: number;
  initial_backoff_ms: number;
  max_backoff_ms: number;
}

export interface Settlement<T> {
  ack: T[];
  deadLetter: T[];
  /** Empty when nothing is retried. */
  retry: T[];
  /** Backoff before the retry; 0 when nothing is retried. */
  delayMs: number;
  /** The most attempts among the retried events (for the log line). */
  attempts: number;
  /** The failure that decided the retry (first retried event's code and message). */
  code: string;
  message: string;
}

/**
 * Splits a batch by its outcome, updating each event's attempts and last error. `random` is the
 * backoff's jitter source (tests pass a fixed one).
 */
export function settle<T extends Attempted>(items: readonly T[], outcome: WriteOutcome, policy: RetryPolicy, random: () => number = Math.random): Settlement<T> {
  const ack: T[] = [];
  const deadLetter: T[] = [];
  const retry: T[] = [];
  let retryAfterMs = 0;
  const fail = (item: T, code: string, message: string, counted: boolean) => {
    if (counted) item.attempts++;
    item.lastCode = code;
    item.lastError = message;
  };
  switch (outcome.kind) {
    case 'ok':
      ack.push(...items);
      break;
    case 'fatal':
      for (const item of items) fail(item, outcome.code, outcome.message, true);
      deadLetter.push(...items);
      break;
    case 'retry':
      for (const item of items) fail(item, outcome.code, outcome.message, true);
      retry.push(...items);
      retryAfterMs = outcome.retryAfterMs ?? 0;
      break;
    case 'partial': {
      const byIndex = new Map<number, ItemFailure>();
      for (const f of outcome.failures) byIndex.set(f.index, f);
      items.forEach((item, index) => {
        const failure = byIndex.get(index);
        if (!failure) return void ack.push(item);
        fail(item, failure.code, failure.message, !failure.notAttempted);
        if (!failure.retriable) return void deadLetter.push(item);
        retryAfterMs = Math.max(retryAfterMs, failure.retryAfterMs ?? 0);
        retry.push(item);
      });
      break;
    }
  }
  const again: T[] = [];
  for (const item of retry) {
    if (item.attempts >= policy.max_attempts) {
      item.lastCode = `RETRIES_EXHAUSTED:${item.lastCode}`;
      deadLetter.push(item);
    } else again.push(item);
  }
  let attempts = 0;
  for (const item of again) attempts = Math.max(attempts, item.attempts);
  const first = again[0] ?? retry[0];
  return {
    ack,
    deadLetter,
    retry: again,
    delayMs: again.length ? Math.max(retryAfterMs, backoffDelay(attempts, policy.initial_backoff_ms, policy.max_backoff_ms, random)) : 0,
    attempts,
    code: first?.lastCode ?? '',
    message: first?.lastError ?? '',
  };
}

/** Backoff between attempts to store dead letters that the queue refused (same shape as a sink's). */
export function deadLetterRetryDelay(attempt: number): number {
  return backoffDelay(attempt, 200, 10_000);
}
