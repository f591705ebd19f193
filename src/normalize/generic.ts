/**
 * Unknown commands and families (Bot.*, Alert.*, OfficialAccount.*, Profile.*, Follow.*...).
 * Conversation: `group/<GroupId>` when a GroupId is present; `c2c/<a>/<b>` when both From_Account
 * and To_Account are; else `app/<sdkAppId>`. Common message fields (sender, operator, seq, elements,
 * text...) are filled when present. Id: hash of the canonical body. Everything else stays under
 * data.raw.
 */
import {
  type Body,
  type Draft,
  applyMessageFields,
  nonEmpty,
  setC2CConversation,
  setGroupConversation,
  str,
} from './common.js';

export function normalizeGeneric(body: Body, draft: Draft): void {
  const groupId = nonEmpty(body.GroupId);
  if (groupId !== undefined) {
    setGroupConversation(draft, body, groupId);
  } else {
    const from = str(body.From_Account);
    const to = str(body.To_Account);
    if (from !== undefined && to !== undefined) setC2CConversation(draft, from, to);
  }
  applyMessageFields(body, draft.data);
  draft.idKey = undefined;
}
