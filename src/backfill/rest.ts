/**
 * Tencent Chat REST API client for what backfill needs: v4/group_open_http_svc/group_msg_get_simple
 * (a group's stored messages by seq, newest first, at most 20 per request) and
 * v4/openim/admin_getroammsg (a one-to-one conversation's roaming messages in a time window, paged
 * with LastMsgTime/LastMsgKey until Complete is 1; 200 requests/s per app too). Requests are signed
 * with the admin UserSig (usersig.ts) and spaced to the configured rate (Tencent allows this API
 * 200 requests/s per app). Every failure becomes a RestError with a stable code and a verdict:
 * retriable (later, with backoff), group gone (no history left to fetch), or fatal (configuration:
 * wrong key, admin, app or region; retrying cannot help).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { UserSigSource } from './usersig.js';

export interface RestMessage {
  From_Account?: string;
  /** 1: deleted, expired or never stored; 2: recalled (only with WithRecalledMsg). MsgBody is empty then. */
  IsPlaceMsg?: number;
  /** 1: a system message (group tips): it takes a seq but never had a callback. */
  IsSystemMsg?: number;
  MsgBody?: unknown[];
  MsgPriority?: number;
  MsgRandom?: number;
  MsgSeq: number;
  MsgTimeStamp?: number;
  CloudCustomData?: string;
  [key: string]: unknown;
}

export interface GroupMsgGetSimpleResponse {
  ActionStatus: string;
  ErrorCode: number;
  ErrorInfo?: string;
  GroupId?: string;
  /** 1 when there are no older messages. */
  IsFinished?: number;
  RspMsgList?: RestMessage[];
}

/** One message of admin_getroammsg's MsgList. */
export interface RoamMessage {
  From_Account?: string;
  To_Account?: string;
  MsgSeq?: number;
  MsgRandom?: number;
  MsgTimeStamp?: number;
  /** Bit flags; recalled messages are listed too (with an empty MsgBody). */
  MsgFlagBits?: number;
  MsgKey?: string;
  /** Newer accounts only: the id C2C callbacks carry as MsgId. */
  MsgId?: string;
  MsgBody?: unknown[];
  CloudCustomData?: string;
  [key: string]: unknown;
}

export interface AdminGetRoamMsgRequest {
  /** The side whose roaming history is read (the other side's deletions do not matter then). */
  Operator_Account: string;
  Peer_Account: string;
  MaxCnt: number;
  /** Unix seconds, inclusive. */
  MinTime: number;
  MaxTime: number;
  /** With MaxTime = the previous page's LastMsgTime: continue below that message. */
  LastMsgKey?: string;
}

export interface AdminGetRoamMsgResponse {
  ActionStatus: string;
  ErrorCode: number;
  ErrorInfo?: string;
  /** 1 when every message of the window was returned; 0: pull again from LastMsgTime/LastMsgKey. */
  Complete?: number;
  MsgCnt?: number;
  LastMsgTime?: number;
  LastMsgKey?: string;
  MsgList?: RoamMessage[];
}

export type RestVerdict = 'retriable' | 'group_gone' | 'fatal';

export class RestError extends Error {
  constructor(
    readonly code: 'TENCENT_REST_RETRIABLE' | 'TENCENT_REST_GROUP_GONE' | 'TENCENT_REST_FATAL',
    message: string,
    readonly errorCode?: number,
  ) {
    super(message);
    this.name = 'RestError';
  }

  get verdict(): RestVerdict {
    return this.code === 'TENCENT_REST_RETRIABLE' ? 'retriable' : this.code === 'TENCENT_REST_GROUP_GONE' ? 'group_gone' : 'fatal';
  }
}

/**
 * Tencent's error codes (REST common codes and group_msg_get_simple's own) that a later attempt
 * can fix. Everything else not listed in GROUP_GONE is fatal.
 */
const RETRIABLE = new Set([
  10002, // internal server error, retry
  10006, // operation rate limited
  60007, // REST call rate over the limit
  60008, // service request timed out
  60011, // SDKAppID request rate over the limit
  60014, // account exchange timed out
  60018, 60019, // too many requests, retry later
  70001, // UserSig expired: signed again before the retry
  70050, // UserSig check failed and rate limited: retry after a minute
]);
/** The group does not exist (any more): its history cannot be fetched. */
const GROUP_GONE = new Set([10010, 10015]);

export function classify(errorCode: number): RestVerdict {
  if (RETRIABLE.has(errorCode)) return 'retriable';
  if (GROUP_GONE.has(errorCode)) return 'group_gone';
  return 'fatal';
}

export interface RestClientOptions {
  /** `https://adminapisgp.im.qcloud.com`, or a bare host name (https is then implied). */
  apiHost: string;
  userSig: UserSigSource;
  ratePerSecond: number;
  timeoutMs: number;
}

export class TencentRestClient {
  private readonly base: string;
  private nextSlotMs = 0;

  constructor(private readonly options: RestClientOptions) {
    const host = options.apiHost.replace(/\/+$/, '');
    this.base = /^https?:\/\//.test(host) ? host : `https://${host}`;
  }

  async groupMsgGetSimple(request: { GroupId: string; ReqMsgSeq?: number; ReqMsgNumber: number; TopicId?: string }): Promise<GroupMsgGetSimpleResponse> {
    return (await this.call('v4/group_open_http_svc/group_msg_get_simple', request)) as GroupMsgGetSimpleResponse;
  }

  async adminGetRoamMsg(request: AdminGetRoamMsgRequest): Promise<AdminGetRoamMsgResponse> {
    return (await this.call('v4/openim/admin_getroammsg', request)) as AdminGetRoamMsgResponse;
  }

  private async call(api: string, body: unknown): Promise<{ ActionStatus: string; ErrorCode: number; ErrorInfo?: string }> {
    await this.slot();
    const sig = this.options.userSig;
    const query = new URLSearchParams({
      sdkappid: sig.sdkAppId,
      identifier: sig.identifier,
      usersig: sig.current(),
      random: String(Math.floor(Math.random() * 4294967295)),
      contenttype: 'json',
    });
    let response: Response;
    try {
      response = await fetch(`${this.base}/${api}?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      throw new RestError('TENCENT_REST_RETRIABLE', `${api}: ${(error as Error).message}`);
    }
    const text = await response.text().catch(() => '');
    if (response.status !== 200) {
      const retriable = response.status === 429 || response.status >= 500;
      throw new RestError(retriable ? 'TENCENT_REST_RETRIABLE' : 'TENCENT_REST_FATAL', `${api}: HTTP ${response.status} ${text.slice(0, 200)}`);
    }
    let parsed: { ActionStatus: string; ErrorCode: number; ErrorInfo?: string };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new RestError('TENCENT_REST_RETRIABLE', `${api}: the answer is not JSON: ${text.slice(0, 200)}`);
    }
    const errorCode = typeof parsed.ErrorCode === 'number' ? parsed.ErrorCode : -1;
    if (parsed.ActionStatus === 'OK' && errorCode === 0) return parsed;
    if (errorCode === 70001) sig.invalidate();
    const verdict = classify(errorCode);
    const code = verdict === 'retriable' ? 'TENCENT_REST_RETRIABLE' : verdict === 'group_gone' ? 'TENCENT_REST_GROUP_GONE' : 'TENCENT_REST_FATAL';
    throw new RestError(code, `${api}: ErrorCode ${errorCode}: ${String(parsed.ErrorInfo ?? '').slice(0, 200)}`, errorCode);
  }

  /** Spaces requests 1/rate apart (one client per app; Tencent counts per app). */
  private async slot(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.nextSlotMs);
    this.nextSlotMs = at + 1000 / this.options.ratePerSecond;
    if (at > now) await sleep(at - now);
  }
}
