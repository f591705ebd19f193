/**
 * A simulator of Tencent Chat's REST API for backfill tests (issue 25), built from the documentation
 * of v4/group_open_http_svc/group_msg_get_simple: URL parameters (sdkappid, identifier, usersig,
 * random, contenttype=json), the admin-only rule, UserSig verification with Tencent's own library
 * (tls-sig-api-v2: the HMAC is recomputed from the decoded ticket), the request body (GroupId,
 * ReqMsgNumber ≤ 20, ReqMsgSeq, TopicId), the answer (newest first, IsFinished, IsPlaceMsg: 1 for a
 * deleted/expired seq with an empty MsgBody) and the error codes (10004, 10010, 60010, 70001, 70003,
 * 70009, 70013, 70014, 10002/10006 on demand). AVChatRoom groups keep no history (10007 here).
 * Second endpoint, v4/openim/admin_getroammsg (a C2C conversation's roaming messages from the
 * side of Operator_Account, MinTime..MaxTime in seconds, newest first, at most MaxCnt and at most
 * `c2cPageLimit` per answer — Tencent's answer size limit; Complete 0 with LastMsgTime/LastMsgKey
 * of the oldest message returned, continued below it when asked again with MaxTime = LastMsgTime
 * and that LastMsgKey), with its errors: 90009 not an admin, 90010 missing or invalid fields,
 * 70107 an account that does not exist.
 * In-process HTTP server on 127.0.0.1; started and stopped by the tests.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

interface TlsSigInternals {
  _hmacsha256(identifier: string, currTime: number, expire: number, base64UserBuf: string | null): string;
}
const tlsSig = createRequire(import.meta.url)('tls-sig-api-v2') as { Api: new (sdkappid: number, key: string) => TlsSigInternals };

export interface SimMessage {
  From_Account: string;
  MsgSeq: number;
  MsgRandom: number;
  MsgTimeStamp: number;
  MsgBody: unknown[];
  MsgPriority?: number;
  CloudCustomData?: string;
  IsPlaceMsg?: number;
  IsSystemMsg?: number;
}

export interface SimRoamMessage {
  From_Account: string;
  To_Account: string;
  MsgSeq: number;
  MsgRandom: number;
  MsgTimeStamp: number;
  MsgKey: string;
  MsgId?: string;
  MsgFlagBits?: number;
  MsgBody: unknown[];
  CloudCustomData?: string;
}

export interface SimRequest {
  api: string;
  query: Record<string, string>;
  body: Record<string, unknown>;
  answer: Record<string, unknown>;
}

export class TencentRestSim {
  private server: http.Server | undefined;
  /** `groupId\0topicId` → seq → message */
  private readonly history = new Map<string, Map<number, SimMessage>>();
  private readonly types = new Map<string, string>();
  private readonly failures: number[] = [];
  private readonly c2c: SimRoamMessage[] = [];
  private readonly accounts = new Set<string>();
  /** Messages per admin_getroammsg answer at most (Tencent cuts an answer at about 13 KB). */
  c2cPageLimit = 20;
  readonly requests: SimRequest[] = [];
  url = '';

  constructor(readonly options: { sdkAppId: string; secretKey: string; admins: string[] }) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  createGroup(groupId: string, type = 'Public'): void {
    this.types.set(groupId, type);
  }

  /** Stores a message as Tencent would after a send (its seq is the caller's). */
  store(groupId: string, message: SimMessage, topicId = ''): void {
    if (!this.types.has(groupId)) this.createGroup(groupId);
    const key = `${groupId}\u0000${topicId}`;
    let list = this.history.get(key);
    if (!list) this.history.set(key, (list = new Map()));
    list.set(message.MsgSeq, message);
  }

  /** Stores a one-to-one message in both sides' roaming history; both accounts exist from then on. */
  storeC2C(message: SimRoamMessage): void {
    this.accounts.add(message.From_Account);
    this.accounts.add(message.To_Account);
    this.c2c.push(message);
  }

  /** The seq stays, its content goes: answered as IsPlaceMsg 1 (deleted or expired). */
  delete(groupId: string, seq: number, topicId = ''): void {
    const message = this.history.get(`${groupId}\u0000${topicId}`)?.get(seq);
    if (message) Object.assign(message, { IsPlaceMsg: 1, MsgBody: [] });
  }

  /** The next n requests fail with this ErrorCode (e.g. 10002 internal error, 10006 rate limit). */
  failNext(n: number, errorCode: number): void {
    for (let i = 0; i < n; i++) this.failures.push(errorCode);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://sim');
    const query = Object.fromEntries(url.searchParams);
    const api = url.pathname.replace(/^\/+/, '');
    let body: Record<string, unknown> = {};
    let answer: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      answer = this.answer(req.method ?? '', api, query, body);
    } catch {
      answer = fail(90001, 'json parse error');
    }
    this.requests.push({ api, query, body, answer });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  }

  private answer(method: string, api: string, query: Record<string, string>, body: Record<string, unknown>): Record<string, unknown> {
    if (method !== 'POST') return fail(60002, 'HTTP parse error');
    if (query.contenttype !== 'json') return fail(60002, 'contenttype must be json');
    if (!query.sdkappid) return fail(60012, 'sdkappid is missing');
    if (query.sdkappid !== this.options.sdkAppId) return fail(70020, 'SDKAppID does not exist');
    const random = Number(query.random);
    if (!/^\d+$/.test(query.random ?? '') || random > 4294967295) return fail(60002, 'random must be a 32-bit unsigned integer');
    const sigError = this.verifyUserSig(query.usersig ?? '', query.identifier ?? '');
    if (sigError) return sigError;
    const openim = api.startsWith('v4/openim/');
    if (!this.options.admins.includes(query.identifier!)) return openim ? fail(90009, 'the request needs an App admin') : fail(60010, 'the request needs an App admin');
    const injected = this.failures.shift();
    if (injected !== undefined) return fail(injected, 'injected failure');
    if (api === 'v4/group_open_http_svc/group_msg_get_simple') return this.groupMsgGetSimple(body);
    if (api === 'v4/openim/admin_getroammsg') return this.adminGetRoamMsg(body);
    return fail(60009, 'request resource error');
  }

  /** What Tencent checks of a UserSig, with the library that made it. */
  private verifyUserSig(usersig: string, identifier: string): Record<string, unknown> | undefined {
    let doc: Record<string, unknown>;
    try {
      const b64 = usersig.replace(/\*/g, '+').replace(/-/g, '/').replace(/_/g, '=');
      doc = JSON.parse(zlib.inflateSync(Buffer.from(b64, 'base64')).toString('utf8')) as Record<string, unknown>;
    } catch {
      return fail(70003, 'UserSig could not be parsed');
    }
    if (doc['TLS.identifier'] !== identifier) return fail(70013, 'identifier in the request does not match the UserSig');
    if (String(doc['TLS.sdkappid']) !== this.options.sdkAppId) return fail(70014, 'SDKAppID in the request does not match the UserSig');
    const time = Number(doc['TLS.time']);
    const expire = Number(doc['TLS.expire']);
    const userbuf = typeof doc['TLS.userbuf'] === 'string' ? (doc['TLS.userbuf'] as string) : null;
    const expected = new tlsSig.Api(Number(this.options.sdkAppId), this.options.secretKey)._hmacsha256(identifier, time, expire, userbuf);
    if (expected !== doc['TLS.sig']) return fail(70009, 'UserSig verification failed');
    if (time + expire < Math.floor(Date.now() / 1000)) return fail(70001, 'UserSig expired');
    return undefined;
  }

  private groupMsgGetSimple(body: Record<string, unknown>): Record<string, unknown> {
    const groupId = body.GroupId;
    const count = body.ReqMsgNumber;
    if (typeof groupId !== 'string' || groupId === '') return fail(10004, 'GroupId is required');
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 20) return fail(10004, 'ReqMsgNumber must be 1..20');
    const type = this.types.get(groupId);
    if (type === undefined) return fail(10010, 'group does not exist or was dismissed');
    if (type === 'AVChatRoom') return fail(10007, 'AVChatRoom keeps no history');
    const topicId = typeof body.TopicId === 'string' ? body.TopicId : '';
    const list = this.history.get(`${groupId}\u0000${topicId}`) ?? new Map<number, SimMessage>();
    const seqs = [...list.keys()].sort((a, b) => b - a);
    const top = typeof body.ReqMsgSeq === 'number' ? body.ReqMsgSeq : (seqs[0] ?? 0);
    const page = seqs.filter((s) => s <= top).slice(0, count);
    const lowest = page.at(-1);
    return {
      ActionStatus: 'OK',
      ErrorInfo: '',
      ErrorCode: 0,
      GroupId: groupId,
      IsFinished: lowest === undefined || !seqs.some((s) => s < lowest) ? 1 : 0,
      RspMsgList: page.map((s) => {
        const m = list.get(s)!;
        return { From_Account: m.From_Account, IsPlaceMsg: m.IsPlaceMsg ?? 0, MsgBody: m.MsgBody, MsgPriority: m.MsgPriority ?? 1, MsgRandom: m.MsgRandom, MsgSeq: m.MsgSeq, MsgTimeStamp: m.MsgTimeStamp, ...(m.CloudCustomData !== undefined ? { CloudCustomData: m.CloudCustomData } : {}), ...(m.IsSystemMsg ? { IsSystemMsg: m.IsSystemMsg } : {}) };
      }),
    };
  }

  private adminGetRoamMsg(body: Record<string, unknown>): Record<string, unknown> {
    const operator = body.Operator_Account;
    const peer = body.Peer_Account;
    const { MaxCnt: max, MinTime: min, MaxTime: maxTime, LastMsgKey: lastKey } = body;
    if (typeof operator !== 'string' || operator === '' || typeof peer !== 'string' || peer === '') return fail(90010, 'Operator_Account and Peer_Account are required');
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) return fail(90010, 'MaxCnt must be a positive integer');
    if (typeof min !== 'number' || typeof maxTime !== 'number' || !Number.isInteger(min) || !Number.isInteger(maxTime) || min > maxTime) return fail(90010, 'MinTime and MaxTime must be integers, MinTime <= MaxTime');
    if (lastKey !== undefined && typeof lastKey !== 'string') return fail(90010, 'LastMsgKey must be a string');
    if (!this.accounts.has(operator)) return fail(70107, `account ${operator} does not exist`);
    if (!this.accounts.has(peer)) return fail(70107, `account ${peer} does not exist`);
    const all = this.c2c
      .filter((m) => ((m.From_Account === operator && m.To_Account === peer) || (m.From_Account === peer && m.To_Account === operator)) && m.MsgTimeStamp >= min && m.MsgTimeStamp <= maxTime)
      .sort(roamOrder);
    let start = 0;
    if (typeof lastKey === 'string' && lastKey !== '') {
      // Continue below the named message (its second is MaxTime): skip it and the ones above it.
      const at = all.findIndex((m) => m.MsgKey === lastKey);
      start = at === -1 ? 0 : at + 1;
    }
    const page = all.slice(start, start + Math.min(max, this.c2cPageLimit));
    const oldest = page.at(-1);
    return {
      ActionStatus: 'OK',
      ErrorInfo: '',
      ErrorCode: 0,
      Complete: start + page.length >= all.length ? 1 : 0,
      MsgCnt: page.length,
      LastMsgTime: oldest?.MsgTimeStamp ?? 0,
      LastMsgKey: oldest?.MsgKey ?? '',
      // Listed oldest first within the answer, as in the documentation's sample.
      MsgList: [...page].reverse().map((m) => ({
        From_Account: m.From_Account,
        To_Account: m.To_Account,
        MsgSeq: m.MsgSeq,
        MsgRandom: m.MsgRandom,
        MsgTimeStamp: m.MsgTimeStamp,
        MsgFlagBits: m.MsgFlagBits ?? 0,
        IsPeerRead: 0,
        MsgKey: m.MsgKey,
        ...(m.MsgId !== undefined ? { MsgId: m.MsgId } : {}),
        MsgBody: m.MsgBody,
        CloudCustomData: m.CloudCustomData ?? '',
      })),
    };
  }
}

/** Newest first; within one second by MsgKey, descending, so LastMsgKey marks a position. */
function roamOrder(a: SimRoamMessage, b: SimRoamMessage): number {
  return b.MsgTimeStamp - a.MsgTimeStamp || (a.MsgKey < b.MsgKey ? 1 : a.MsgKey > b.MsgKey ? -1 : 0);
}

function fail(code: number, info: string): Record<string, unknown> {
  return { ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: info };
}

/** The REST message that corresponds to test/helpers/daemon.ts groupMessage(groupId, seq). */
export function restMessageFor(body: Record<string, unknown>): SimMessage {
  return {
    From_Account: String(body.From_Account),
    MsgSeq: Number(body.MsgSeq),
    MsgRandom: Number(body.Random),
    MsgTimeStamp: Number(body.MsgTime),
    MsgBody: body.MsgBody as unknown[],
    ...(typeof body.CloudCustomData === 'string' ? { CloudCustomData: body.CloudCustomData } : {}),
  };
}

/** The roaming message that corresponds to a C2C.CallbackAfterSendMsg body (test/integration/backfill/c2c.test.ts). */
export function roamMessageFor(body: Record<string, unknown>): SimRoamMessage {
  return {
    From_Account: String(body.From_Account),
    To_Account: String(body.To_Account),
    MsgSeq: Number(body.MsgSeq),
    MsgRandom: Number(body.MsgRandom),
    MsgTimeStamp: Number(body.MsgTime),
    MsgKey: String(body.MsgKey),
    ...(typeof body.MsgId === 'string' ? { MsgId: body.MsgId } : {}),
    MsgBody: body.MsgBody as unknown[],
    ...(typeof body.CloudCustomData === 'string' ? { CloudCustomData: body.CloudCustomData } : {}),
  };
}
