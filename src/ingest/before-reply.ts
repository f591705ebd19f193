/**
 * The "allow, unchanged" answer to a before-callback, in the shape its page documents (src/catalogue
 * `reply`). Most pages want only ActionStatus/ErrorCode/ErrorInfo with ErrorCode 0; the friend-request
 * callbacks (Sns.CallbackPrevFriendAdd, Sns.CallbackPrevFriendResponse) mark a `ResultItem` list
 * required, one `{To_Account, ResultCode: 0, ResultInfo: ""}` per account of the request.
 */
import { catalogueEntry } from '../catalogue/index.js';
import { OK_ANSWER, OK_BODY, type Answer } from './answers.js';

export function beforeCallbackAnswer(command: string, body: Record<string, unknown>): Answer {
  const entry = catalogueEntry(command);
  if (entry === undefined || entry.reply !== 'ok+ResultItem' || entry.replyItems === undefined) return OK_ANSWER;
  const items = body[entry.replyItems];
  const resultItems: Array<{ To_Account: string; ResultCode: 0; ResultInfo: '' }> = [];
  if (Array.isArray(items)) {
    for (const item of items) {
      const to = typeof item === 'object' && item !== null ? (item as Record<string, unknown>).To_Account : undefined;
      if (typeof to === 'string') resultItems.push({ To_Account: to, ResultCode: 0, ResultInfo: '' });
    }
  }
  return { status: 200, body: `${OK_BODY.slice(0, -1)},"ResultItem":${JSON.stringify(resultItems)}}` };
}
