/**
 * Sns.* (relationship chain) callbacks → canonical data (reference §7.1).
 * Subject `user/<account>`: the first pair's From_Account, else From_Account, else Requester_Account.
 * data.pairs [{from, to, initiator}], clientCmd, admin, forceFlag; for Sns.CallbackPrevFriendAdd
 * requester, sender, friendItems [{to, remark, groupName, addSource, addWording}], addType,
 * forceAddFlags. Id: no key — the body when it has an EventTime, else body + reception (index.ts).
 */
import { type Body, type Draft, camelObject, isObject, nonEmpty, num, put, setUserConversation, str } from './common.js';

export function normalizeSns(body: Body, draft: Draft): void {
  const data = draft.data;
  let account: string | undefined;

  const pairList = body.PairList;
  if (Array.isArray(pairList)) {
    const pairs: Record<string, string>[] = [];
    for (let i = 0; i < pairList.length; i++) {
      const p = pairList[i];
      if (!isObject(p)) continue;
      const pair: Record<string, string> = {};
      put(pair, 'from', str(p.From_Account));
      put(pair, 'to', str(p.To_Account));
      put(pair, 'initiator', str(p.Initiator_Account));
      if (account === undefined) account = nonEmpty(p.From_Account);
      pairs.push(pair);
    }
    data.pairs = pairs;
  }
  put(data, 'clientCmd', str(body.ClientCmd));
  put(data, 'admin', str(body.Admin_Account));
  put(data, 'forceFlag', num(body.ForceFlag));

  put(data, 'requester', str(body.Requester_Account));
  put(data, 'sender', str(body.From_Account));
  const friendItems = body.FriendItem ?? body.ResponseFriendItem;
  if (Array.isArray(friendItems)) {
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < friendItems.length; i++) {
      const it = friendItems[i];
      if (!isObject(it)) continue;
      const item = camelObject(it);
      // `toAccount` reads better as `to`, like the pairs.
      if ('toAccount' in item) {
        const { toAccount, ...rest } = item;
        items.push({ to: toAccount, ...rest });
      } else items.push(item);
    }
    data.friendItems = items;
  }
  put(data, 'addType', str(body.AddType));
  put(data, 'forceAddFlags', num(body.ForceAddFlags));

  if (account === undefined) account = nonEmpty(body.From_Account) ?? nonEmpty(body.Requester_Account);
  if (account !== undefined) setUserConversation(draft, account);
  draft.idKey = undefined;
}
