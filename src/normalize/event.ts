/**
 * The canonical event: a CloudEvents 1.0 structured-mode JSON object (design.md §4).
 * Every sink receives exactly this shape; its `id` is deterministic so that sinks can
 * deduplicate redeliveries (Kafka header, NATS Nats-Msg-Id, ES _id, webhook-id).
 */
export interface CanonicalEvent {
  specversion: '1.0';
  /** Deterministic: the same callback delivered twice yields the same id. */
  id: string;
  /** `com.tencent.im.<CallbackCommand>` */
  type: string;
  /** `/tencent-im/<SdkAppid>` */
  source: string;
  /**
   * Conversation: `group/<GroupId>`, `c2c/<a>/<b>` (sorted), `user/<id>`, `officialaccount/<id>`, or
   * `app/<SdkAppid>` (per command: src/catalogue).
   */
  subject: string;
  /** RFC 3339 UTC, from MsgTime (s) or EventTime (ms) as the catalogue says, else the receive time. */
  time: string;
  datacontenttype: 'application/json';
  imsdkappid: string;
  imcommand: string;
  implatform?: string;
  imclientip?: string;
  data: EventData;
}

/** The normalized view. Stable camelCase names; `raw` keeps the body exactly as received. */
export interface EventData {
  /** Callback family: the part of the command before the first dot, lowercased (group, c2c, state, sns, push...). */
  family: string;
  /** Whether this was a before-callback (answered at once, forwarded only when a route asks). */
  before?: boolean;
  conversation: Conversation;
  sender?: string;
  operator?: string;
  seq?: number;
  random?: number;
  msgId?: string;
  msgKey?: string;
  /** Message elements with typed contents, in MsgBody order. */
  elements?: MessageElement[];
  /** All text of the message (text elements, custom element Desc, location Desc) joined by newlines: for search. */
  text?: string;
  cloudCustomData?: string;
  /** EventTime in ms, whatever form it came in (number, string, seconds for Push.*). */
  eventTimeMs?: number;
  /** Receive time at this bridge, ms since epoch. */
  receivedAtMs: number;
  /** Family-specific normalized fields (members, action, pairs...). */
  [key: string]: unknown;
  raw?: Record<string, unknown>;
}

export interface Conversation {
  kind: 'group' | 'c2c' | 'user' | 'officialaccount' | 'app';
  groupId?: string;
  /** Current group-type name: Private→Work, ChatRoom→Meeting. */
  groupType?: string;
  topicId?: string;
  /** For c2c: the two accounts, sorted. For user and officialaccount: the one account. */
  accounts?: string[];
}

export interface MessageElement {
  /** The MsgType as sent, e.g. TIMTextElem. Unknown types pass through. */
  type: string;
  /** Short kind: text, location, face, custom, sound, image, file, video, relay, or unknown. */
  kind: string;
  /** Typed contents with camelCase names; the original MsgContent is kept under data.raw. */
  content: Record<string, unknown>;
}

/** What ingest knows about a request besides the body. */
export interface CallbackMeta {
  sdkAppId: string;
  command: string;
  clientIp?: string;
  optPlatform?: string;
  receivedAtMs: number;
}
