/**
 * State.* callbacks → canonical data (reference §7.1). State.StateChange: subject
 * `user/<Info.To_Account>`, data.action / reason / account, kickedDevices (platforms normalized:
 * IOS→iOS, Mac→macOS...). Id: hash of the canonical body (it carries EventTime).
 */
import { type Body, type Draft, isObject, nonEmpty, put, setUserConversation, str } from './common.js';
import { normalizePlatform } from './platform.js';

export function normalizeState(body: Body, draft: Draft): void {
  const data = draft.data;
  const info = body.Info;
  if (isObject(info)) {
    const account = nonEmpty(info.To_Account);
    if (account !== undefined) {
      setUserConversation(draft, account);
      data.account = account;
    }
    put(data, 'action', str(info.Action));
    put(data, 'reason', str(info.Reason));
  } else {
    const account = nonEmpty(body.To_Account);
    if (account !== undefined) {
      setUserConversation(draft, account);
      data.account = account;
    }
  }
  const kicked = body.KickedDevice;
  if (Array.isArray(kicked)) {
    const devices: string[] = [];
    for (let i = 0; i < kicked.length; i++) {
      const d = kicked[i];
      if (isObject(d) && typeof d.Platform === 'string') devices.push(normalizePlatform(d.Platform));
    }
    data.kickedDevices = devices;
  }
  draft.idKey = undefined;
}
