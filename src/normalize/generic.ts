/**
 * Families without a dedicated normalizer (Bot.*, Chatbot.*, Alert.*, ContentCallback.*,
 * OfficialAccount.*, Profile.*, Follow.*, and unknown commands). Conversation: `group/<GroupId>` when
 * a GroupId is present; `c2c/<a>/<b>` when both From_Account and To_Account are; else
 * `app/<sdkAppId>`. Common message fields (sender, operator, seq, elements, text...) are filled when
 * present. For a catalogued command, index.ts then applies the entry's subject template and maps its
 * other documented fields (catalogue-fields.ts); an unknown command keeps the rest under data.raw.
 * Id: no key (the body with its own time, else body + reception: index.ts).
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
