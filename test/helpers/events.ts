/** A canonical group-message event for sink tests, with its stored JSON remembered (as the host does). */
import type { CanonicalEvent } from '../../src/sink/api.js';
import { rememberEventJson } from '../../src/sink/event-json.js';

export function groupEvent(options: { id: string; groupId: string; seq: number; text: string }): CanonicalEvent {
  const { id, groupId, seq, text } = options;
  const event = {
    specversion: '1.0',
    id,
    type: 'com.tencent.im.Group.CallbackAfterSendMsg',
    source: '/tencent-im/1400000000',
    subject: `group/${groupId}`,
    time: new Date(1767225600000 + seq * 1000).toISOString(),
    datacontenttype: 'application/json',
    imsdkappid: '1400000000',
    imcommand: 'Group.CallbackAfterSendMsg',
    data: { family: 'group', conversation: { kind: 'group', groupId }, seq, text, receivedAtMs: 1 },
  } as CanonicalEvent;
  rememberEventJson(event, JSON.stringify(event));
  return event;
}
