/**
 * Time helpers. MsgTime is Unix seconds; EventTime is milliseconds (seconds for Push.*) and comes as
 * a number or a digit string. Values below 1e12 are taken as seconds.
 */

/** 9999-12-31T23:59:59.999Z: the last instant RFC 3339 (four-digit years) can express. Later → unusable. */
export const MAX_RFC3339_MS = 253402300799999;
const SECONDS_THRESHOLD = 1e12;
const DECIMAL = /^[0-9]{1,16}(\.[0-9]{1,7})?$/;

/** EventTime (number or digit string, ms or s) → ms, or undefined when absent/unusable. */
export function eventTimeToMs(value: unknown): number | undefined {
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string') {
    // Digits, optionally with a fraction ("1670574414123.5"): the forms Tencent's pages show.
    if (value.length === 0 || value.length > 24 || !DECIMAL.test(value)) return undefined;
    n = Number(value);
  } else {
    return undefined;
  }
  if (!Number.isFinite(n) || n < 0) return undefined;
  if (n < SECONDS_THRESHOLD) n *= 1000;
  n = Math.trunc(n);
  return n <= MAX_RFC3339_MS ? n : undefined;
}

/** Seconds (MsgTime, LastReadTime, MsgTimeStamp) → ms, or undefined when not a usable number. */
export function secondsToMs(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  const ms = Math.trunc(value * 1000);
  return ms <= MAX_RFC3339_MS ? ms : undefined;
}


/**
 * RFC 3339 UTC: `2017-03-28T07:30:22Z` when the milliseconds are zero, `2026-01-01T00:00:00.431Z`
 * otherwise.
 */
export function formatRfc3339(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) {
    const iso = new Date(ms).toISOString();
    return iso.endsWith('.000Z') ? iso.slice(0, -5) + 'Z' : iso;
  }
  // The date is formatted once per UTC day, the time of day by arithmetic: events of one day share
  // the prefix even when each has its own second (MsgTime of a backlog, a mix of conversations),
  // where a cache of one second missed on every event (toISOString was 1.8 % of ingest).
  const day = Math.floor(ms / DAY_MS);
  if (day !== lastDay) {
    lastDayPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    lastDay = day;
  }
  const ofDay = ms - day * DAY_MS;
  const seconds = Math.floor(ofDay / 1000);
  const millis = ofDay - seconds * 1000;
  const time = TWO_DIGITS[Math.floor(seconds / 3600)]! + ':' + TWO_DIGITS[Math.floor(seconds / 60) % 60]! + ':' + TWO_DIGITS[seconds % 60]!;
  if (millis === 0) return lastDayPrefix + time + 'Z';
  return lastDayPrefix + time + (millis < 10 ? '.00' : millis < 100 ? '.0' : '.') + millis + 'Z';
}

const DAY_MS = 86_400_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
let lastDay = Number.NaN;
/** `YYYY-MM-DDT` of lastDay. */
let lastDayPrefix = '';
