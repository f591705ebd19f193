/**
 * Push.* (push-result) callbacks → canonical data (reference §7.4). The body is
 * `{"Events":[...]}`; each item becomes {command, eventType, eventTimeMs, ...other fields in
 * camelCase}. EventTime is in seconds in Tencent's sample; values < 1e12 are taken as seconds.
 * Subject `app/<sdkAppId>`. The event time is the first item's EventTime. Id: hash of the canonical body.
 */
import { type Body, type Draft, camelKey, isObject, safeSet } from './common.js';
import { eventTimeToMs } from './time.js';

export function normalizePush(body: Body, draft: Draft): void {
  const list = body.Events;
  if (Array.isArray(list)) {
    const events: Record<string, unknown>[] = [];
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
        } else safeSet(ev, camelKey(k), v);
      }
      events.push(ev);
    }
    draft.data.events = events;
  }
  draft.idKey = undefined;
}
