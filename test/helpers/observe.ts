/**
 * What tests read back from a daemon: rows of its queue database (read-only, never while holding a
 * write lock), Prometheus samples from /metrics, and callbacks posted one conversation at a time.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { postCallback } from './daemon.js';

/** Rows of a read-only query on `<dir>/queue/queue.db` ([] while the database does not exist yet). */
export function queueRows<T = Record<string, any>>(dir: string, sql: string, ...params: unknown[]): T[] {
  const file = path.join(dir, 'queue', 'queue.db');
  if (!fs.existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export interface DeadLetter {
  dlq_id: number;
  kind: string;
  sink: string | null;
  event_id: string | null;
  subject: string | null;
  error_code: string;
  error: string;
  attempts: number;
}

/** Dead letters in id order, optionally of one kind and/or one sink. */
export function deadLetters(dir: string, filter: { kind?: string; sink?: string } = {}): DeadLetter[] {
  const where: string[] = [];
  const args: string[] = [];
  if (filter.kind) (where.push('kind = ?'), args.push(filter.kind));
  if (filter.sink) (where.push('sink = ?'), args.push(filter.sink));
  return queueRows<DeadLetter>(dir, `SELECT dlq_id, kind, sink, event_id, subject, error_code, error, attempts FROM dead_letters ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY dlq_id`, ...args);
}

/** Sum of the samples of `name` in a /metrics text whose labels include every `label="value"` given (0 if none). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((w) => line.includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** metricSum over the daemon's current /metrics. */
export async function metric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricSum(await (await fetch(`${baseUrl}/metrics`)).text(), name, labels);
}

/** Posts each conversation's callbacks one after another (its ingest order is its seq order), conversations in parallel. */
export async function postInOrder(url: string, items: Array<{ command: string; body: Record<string, unknown> }>): Promise<number[]> {
  const byGroup = new Map<unknown, typeof items>();
  for (const item of items) byGroup.set(item.body.GroupId, [...(byGroup.get(item.body.GroupId) ?? []), item]);
  const statuses: number[] = [];
  await Promise.all(
    [...byGroup.values()].map(async (list) => {
      for (const item of list) statuses.push((await postCallback(url, item.command, item.body)).status);
    }),
  );
  return statuses;
}
