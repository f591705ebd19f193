/**
 * Push.* (push-result) callbacks → canonical data (reference §7.4). The body is
 * `{"Events":[...]}`; each item becomes {command, eventType, eventTimeMs, ...other fields in
 * camelCase} (`GroupID` → `groupId`, as everywhere else). EventTime is in seconds in Tencent's sample;
 * values < 1e12 are taken as seconds. The event time is the first item's EventTime.
 *
 * One event per batch, not per item: Tencent sends one request per batch, it is acknowledged once, and
 * the durable queue appends one record per request — one batch is one atomic, deduplicable unit (a
 * redelivered batch keeps its id). Per-item routing is still possible: `data.conversations` lists the
 * distinct conversations of the items (`c2c/<a>/<b>` for one-to-one pushes, `group/<GroupID>`,
 * `user/<To_Account>` for all-member pushes) in item order. Subject `app/<sdkAppId>`: a batch mixes
 * conversations. Id: the canonical body (the items carry their own EventTime; an empty batch, which
 * has none, is identified by its reception).
 */
import { type Body, type Draft, camelKey, isObject, nonEmpty, safeSet } from './common.js';
import { eventTimeToMs } from './time.js';

export function normalizePush(body: Body, draft: Draft): void {
  const list = body.Events;
  if (Array.isArray(list)) {
    const events: Record<string, unknown>[] = [];
    const conversations: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < list.length; i++) {
      const item = list[i];
      if (!isObject(item)) continue;
      const ev: Record<string, unknown> = {};
      for (const k in item) {
        if (!Object.prototype.hasOwnProperty.call(item, k)) continue;
        const v = item[k];
        if (k === 'CallbackCommand') ev.command = v;
        else if (k === 'EventTime') {
          const ms = eventTimeToMs(v);
          if (ms !== undefined) {
            ev.eventTimeMs = ms;
            if (draft.eventTimeMs === undefined) draft.eventTimeMs = ms;
          }
        } else safeSet(ev, k === 'GroupID' ? 'groupId' : camelKey(k), v);
      }
      events.push(ev);
      const conversation = itemConversation(item);
      if (conversation !== undefined && !seen.has(conversation)) {
        seen.add(conversation);
        conversations.push(conversation);
      }
    }
    draft.data.events = events;
    draft.data.conversations = conversations;
  }
  draft.idKey = undefined;
}

/** The conversation one push item is about, as a subject string. */
function itemConversation(item: Record<string, unknown>): string | undefined {
  const groupId = nonEmpty(item.GroupID) ?? nonEmpty(item.GroupId);
  if (groupId !== undefined) return 'group/' + groupId;
  const to = nonEmpty(item.To_Account);
  const from = nonEmpty(item.From_Account);
  if (to !== undefined && from !== undefined) return from <= to ? `c2c/${from}/${to}` : `c2c/${to}/${from}`;
  const one = to ?? from;
  return one === undefined ? undefined : 'user/' + one;
}
