/**
 * What the command catalogue (src/catalogue) predicts for an official sample: its fixtures, the event
 * time, and whether two receptions share an id. Shared by the unit and the end-to-end command tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CommandEntry } from '../../src/catalogue/index.js';
import { eventTimeToMs, formatRfc3339, secondsToMs } from '../../src/normalize/time.js';
import { REPO_ROOT } from './daemon.js';

export interface OfficialFixture {
  file: string;
  /** The official page the sample comes from. */
  source: string;
  note?: string;
  /** The docs-repository file the body was read from, when it was. */
  sample?: string;
  query: Record<string, string>;
  body: Record<string, unknown>;
}

/** test/fixtures/callbacks/official-*.json by command. */
export function officialFixtures(): Map<string, OfficialFixture> {
  const dir = path.join(REPO_ROOT, 'test/fixtures/callbacks');
  const out = new Map<string, OfficialFixture>();
  for (const file of readdirSync(dir).filter((f) => f.startsWith('official-') && f.endsWith('.json'))) {
    const fx = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Omit<OfficialFixture, 'file'>;
    out.set(fx.query.CallbackCommand!, { file, ...fx });
  }
  return out;
}

/** The event time the catalogue's rule gives for a body received at `receivedAtMs`. */
export function expectedTime(entry: CommandEntry, body: Record<string, unknown>, receivedAtMs: number): string {
  let eventMs = eventTimeToMs(body.EventTime);
  if (entry.time === 'EventTime of the first item' && Array.isArray(body.Events)) {
    eventMs = eventTimeToMs((body.Events[0] as Record<string, unknown> | undefined)?.EventTime);
  }
  const msgMs = secondsToMs(body.MsgTime);
  const ms = entry.time === 'EventTime' ? (eventMs ?? msgMs) : (msgMs ?? eventMs);
  return formatRfc3339(ms ?? receivedAtMs);
}

/** Two receptions share an id when the command has a key or the body its own time (normalize/ids.ts). */
export function sameIdTwice(entry: CommandEntry, body: Record<string, unknown>): boolean {
  if (entry.idKey !== undefined) return true;
  if (entry.time === 'EventTime of the first item' && Array.isArray(body.Events)) {
    return eventTimeToMs((body.Events[0] as Record<string, unknown> | undefined)?.EventTime) !== undefined;
  }
  return eventTimeToMs(body.EventTime) !== undefined || secondsToMs(body.MsgTime) !== undefined;
}
