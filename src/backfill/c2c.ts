/**
 * C2C backfill for a time window (issue 25). One-to-one messages have no per-conversation sequence,
 * so a lost C2C callback cannot be detected; an operator who knows a window was lost (an outage)
 * names the conversation and the window, and every message Tencent still holds for it is queued as
 * the event its callback produced (mapping.ts: same id, `imorigin: backfill`). Messages whose
 * callback did arrive get the same id, so sinks deduplicate them.
 *
 * admin_getroammsg returns the window newest first, a page at a time (MaxCnt, and at most ~13 KB per
 * answer); `Complete: 0` means: ask again with MaxTime = LastMsgTime and LastMsgKey, which continues
 * below the last message returned. Any RestError ends the run (the CLI reports it; nothing is
 * retried behind the operator's back); what was queued before stays queued.
 */
import type { CanonicalEvent } from '../normalize/event.js';
import { c2cBackfilledEvent } from './mapping.js';
import type { RoamMessage, TencentRestClient } from './rest.js';

/** Messages asked per request; Tencent may return fewer (the answer size limit) and says Complete: 0. */
export const C2C_PAGE_SIZE = 100;

export interface C2CWindow {
  sdkAppId: string;
  /** The side whose roaming history is read (Operator_Account). */
  account: string;
  peer: string;
  sinceMs: number;
  untilMs: number;
}

export interface C2CBackfillResult {
  requests: number;
  /** Messages in the window as Tencent listed them. */
  listed: number;
  /** Queued as events (imorigin: backfill). */
  backfilled: number;
  /** Recalled messages and others without a MsgBody: nothing to rebuild a callback from. */
  skipped: number;
  /** Without MsgKey and MsgId: no deterministic id, so queuing them could duplicate. */
  withoutId: number;
}

export async function backfillC2C(
  client: TencentRestClient,
  window: C2CWindow,
  enqueue: (event: CanonicalEvent) => Promise<void>,
  options: { includeRaw: boolean; now?: () => number },
): Promise<C2CBackfillResult> {
  const now = options.now ?? Date.now;
  const result: C2CBackfillResult = { requests: 0, listed: 0, backfilled: 0, skipped: 0, withoutId: 0 };
  const minTime = Math.floor(window.sinceMs / 1000);
  let maxTime = Math.ceil(window.untilMs / 1000);
  let lastMsgKey: string | undefined;
  // A message listed twice (same-second neighbours at a page edge) is queued once.
  const seen = new Set<string>();
  for (;;) {
    const response = await client.adminGetRoamMsg({
      Operator_Account: window.account,
      Peer_Account: window.peer,
      MaxCnt: C2C_PAGE_SIZE,
      MinTime: minTime,
      MaxTime: maxTime,
      ...(lastMsgKey !== undefined ? { LastMsgKey: lastMsgKey } : {}),
    });
    result.requests++;
    const list: RoamMessage[] = Array.isArray(response.MsgList) ? response.MsgList : [];
    let fresh = 0;
    for (const message of list) {
      const key = typeof message.MsgKey === 'string' && message.MsgKey !== '' ? message.MsgKey : typeof message.MsgId === 'string' && message.MsgId !== '' ? `id:${message.MsgId}` : undefined;
      if (key === undefined) {
        result.listed++;
        result.withoutId++;
        continue;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      fresh++;
      result.listed++;
      if (!Array.isArray(message.MsgBody) || message.MsgBody.length === 0) {
        result.skipped++;
        continue;
      }
      await enqueue(c2cBackfilledEvent(window.sdkAppId, message, now(), options.includeRaw));
      result.backfilled++;
    }
    if (response.Complete === 1 || list.length === 0) return result;
    const nextKey = response.LastMsgKey;
    const nextTime = response.LastMsgTime;
    // An answer that neither completes nor moves on would page forever: stop and say so.
    if (typeof nextKey !== 'string' || typeof nextTime !== 'number' || fresh === 0 || (nextKey === lastMsgKey && nextTime === maxTime)) {
      throw new C2CPagingError(`admin_getroammsg answered Complete 0 without a way on (LastMsgTime ${String(nextTime)}, LastMsgKey ${JSON.stringify(nextKey)}); ${result.backfilled} message(s) were queued before that`);
    }
    maxTime = nextTime;
    lastMsgKey = nextKey;
  }
}

export class C2CPagingError extends Error {
  readonly code = 'BACKFILL_C2C_PAGING';
  constructor(message: string) {
    super(message);
    this.name = 'C2CPagingError';
  }
}
