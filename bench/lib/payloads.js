// The request mix every case receives: realistic Tencent IM callback bodies, pre-built once.
// Kinds (default weights, override with BENCH_MIX="group_text=54,group_multi=25,c2c_image=20,group_destroyed_2000=1"):
//   group_text            Group.CallbackAfterSendMsg, one TIMTextElem (test/helpers groupMessage() shape)  ~0.4 KB
//   group_multi           Group.CallbackAfterSendMsg, 2 elements (text+custom in a topic / video+location)  ~0.9 KB
//   c2c_image             C2C.CallbackAfterSendMsg, TIMImageElem with 3 renditions                         ~1 KB
//   group_destroyed_2000  Group.CallbackAfterGroupDestroyed with a 2000-member MemberList                    ~55 KB
// buildSizedPool(bytes): Group.CallbackAfterSendMsg of ~`bytes` (long TIMTextElem text) for the --scaling sweep.
import { createHash } from 'node:crypto';

export const SDK_APP_ID = '1400000000';
export const TOKEN = 'bench-token-7f3a9c2e51d04b8e';
export const DEFAULT_MIX = { group_text: 54, group_multi: 25, c2c_image: 20, group_destroyed_2000: 1 };

/**
 * One Group.CallbackAfterSendMsg text message, the body the per-sink scripts (bench/sinks/) post.
 * `seq` orders the messages of `groupId`; the rest defaults from it.
 */
export function groupTextMessage({ groupId, seq, text, from = `user_${seq % 7}`, msgTime = 1767225600 + seq, random = 1000 + seq, eventTimeMs = 1767225600000 + seq }) {
  return {
    CallbackCommand: 'Group.CallbackAfterSendMsg',
    GroupId: groupId,
    Type: 'Public',
    From_Account: from,
    Operator_Account: from,
    Random: random,
    MsgSeq: seq,
    MsgTime: msgTime,
    OnlineOnlyFlag: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
    CloudCustomData: '',
    EventTime: String(eventTimeMs),
  };
}

export function parseMix(text) {
  if (!text) return { ...DEFAULT_MIX };
  const mix = {};
  for (const part of text.split(',')) {
    const [k, v] = part.split('=');
    if (!(k in DEFAULT_MIX)) throw new Error(`BENCH_MIX: unknown kind ${k} (known: ${Object.keys(DEFAULT_MIX).join(', ')})`);
    mix[k] = Number(v);
  }
  return mix;
}

const BASE_TIME = 1767225600;

function groupText(i) {
  const seq = 1000 + i;
  return {
    command: 'Group.CallbackAfterSendMsg',
    platform: 'Android',
    body: {
      CallbackCommand: 'Group.CallbackAfterSendMsg',
      GroupId: `@TGS#bench${i % 97}`,
      Type: 'Public',
      From_Account: `user_${i % 7}`,
      Operator_Account: `user_${i % 7}`,
      Random: 1000 + seq,
      MsgSeq: seq,
      MsgTime: BASE_TIME + seq,
      OnlineOnlyFlag: 0,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `benchmark message ${i}: see you at the standup, bring the numbers 🙂` } }],
      CloudCustomData: '',
      EventTime: String((BASE_TIME + seq) * 1000 + 431),
    },
  };
}

function groupMulti(i) {
  const seq = 5000 + i;
  if (i % 2 === 0) {
    return {
      command: 'Group.CallbackAfterSendMsg',
      platform: 'iOS',
      body: {
        CallbackCommand: 'Group.CallbackAfterSendMsg',
        GroupId: `@TGS#_guild${i % 31}`,
        Type: 'Community',
        From_Account: `u_lina${i % 13}`,
        Operator_Account: `u_lina${i % 13}`,
        Random: 3021458832 - i,
        MsgId: `144115212345678901-${BASE_TIME + seq}-${3021458832 - i}`,
        MsgSeq: seq,
        MsgTime: BASE_TIME + seq,
        OnlineOnlyFlag: 0,
        MsgBody: [
          { MsgType: 'TIMTextElem', MsgContent: { Text: `Launch review moved to 15:00 (#${i})` } },
          { MsgType: 'TIMCustomElem', MsgContent: { Data: JSON.stringify({ kind: 'poll', pollId: `p-${i}` }), Desc: '[Poll]', Ext: '', Sound: '' } },
        ],
        CloudCustomData: JSON.stringify({ replyTo: String(seq - 3) }),
        TopicId: `@TGS#_@TGS#_guild${i % 31}@TOPIC#_planning`,
        EventTime: String((BASE_TIME + seq) * 1000 + 77),
      },
    };
  }
  return {
    command: 'Group.CallbackAfterSendMsg',
    platform: 'RESTAPI',
    body: {
      CallbackCommand: 'Group.CallbackAfterSendMsg',
      GroupId: `@TGS#2QH7KF${i % 53}`,
      Type: 'Private',
      From_Account: 'ops_bot',
      Operator_Account: 'administrator',
      Random: 66120457 + i,
      MsgSeq: seq,
      MsgTime: BASE_TIME + seq,
      OnlineOnlyFlag: 0,
      MsgBody: [
        {
          MsgType: 'TIMVideoFileElem',
          MsgContent: {
            VideoUrl: `https://cos.example.invalid/v/${i.toString(16)}9a1b.mp4`,
            VideoUUID: `9a1b7c2d3e4f50617283949a0b1c${(i % 65536).toString(16).padStart(4, '0')}`,
            VideoSize: 2310044 + i,
            VideoSecond: 12,
            VideoFormat: 'mp4',
            VideoDownloadFlag: 2,
            ThumbUrl: `https://cos.example.invalid/v/${i.toString(16)}9a1b.jpg`,
            ThumbUUID: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
            ThumbSize: 20188,
            ThumbWidth: 720,
            ThumbHeight: 1280,
            ThumbFormat: 'JPG',
            ThumbDownloadFlag: 2,
          },
        },
        { MsgType: 'TIMLocationElem', MsgContent: { Desc: 'Warehouse gate 4', Latitude: 22.5431, Longitude: 114.0579 } },
      ],
      CloudCustomData: '',
      EventTime: String((BASE_TIME + seq) * 1000 + 12),
    },
  };
}

function c2cImage(i) {
  const seq = 90000 + i;
  const random = 1748820093 - i;
  const msgTime = BASE_TIME + seq;
  const uuid = `48211_${createHash('md5').update(String(i)).digest('hex')}`;
  return {
    command: 'C2C.CallbackAfterSendMsg',
    platform: 'Android',
    body: {
      CallbackCommand: 'C2C.CallbackAfterSendMsg',
      From_Account: `u_omar${i % 41}`,
      To_Account: `u_sara${i % 43}`,
      MsgSeq: seq,
      MsgRandom: random,
      MsgTime: msgTime,
      MsgKey: `${seq}_${random}_${msgTime}`,
      MsgId: `144115298765432109-${msgTime}-${random}`,
      OnlineOnlyFlag: 0,
      SendMsgResult: 0,
      ErrorInfo: 'send msg succeed',
      UnreadMsgNum: i % 9,
      MsgBody: [
        {
          MsgType: 'TIMImageElem',
          MsgContent: {
            UUID: uuid,
            ImageFormat: 3,
            ImageInfoArray: [
              { Type: 1, Size: 482110, Width: 1440, Height: 1920, URL: `https://cos.example.invalid/img/${uuid}/0` },
              { Type: 2, Size: 120044, Width: 0, Height: 0, URL: `https://cos.example.invalid/img/${uuid}/720` },
              { Type: 3, Size: 9315, Width: 0, Height: 0, URL: `https://cos.example.invalid/img/${uuid}/198` },
            ],
          },
        },
      ],
      CloudCustomData: '',
      EventTime: msgTime * 1000 + 208,
    },
  };
}

function groupDestroyed(i, members = 2000) {
  return {
    command: 'Group.CallbackAfterGroupDestroyed',
    platform: 'Windows',
    body: {
      CallbackCommand: 'Group.CallbackAfterGroupDestroyed',
      GroupId: `@TGS#1NVTZ${i}`,
      Type: 'ChatRoom',
      Owner_Account: `u_owner_${i}`,
      Name: `Weekly sync ${i}`,
      MemberList: Array.from({ length: members }, (_, m) => ({ Member_Account: m === 0 ? `u_owner_${i}` : `u_member_${i}_${m}` })),
      EventTime: String((BASE_TIME + 9000 + i) * 1000),
    },
  };
}

const BUILDERS = { group_text: groupText, group_multi: groupMulti, c2c_image: c2cImage, group_destroyed_2000: groupDestroyed };

/**
 * A deterministic, shuffled pool of `size` requests following `mix`. Each: { kind, command, body (Buffer), queryBase }.
 * queryBase lacks Sign/RequestTime; append them per second (see Signer).
 */
export function buildPool(mix = DEFAULT_MIX, size = 2000) {
  const total = Object.values(mix).reduce((a, b) => a + b, 0);
  const kinds = [];
  for (const [kind, weight] of Object.entries(mix)) {
    const n = Math.max(weight > 0 ? 1 : 0, Math.round((size * weight) / total));
    for (let k = 0; k < n; k++) kinds.push(kind);
  }
  // Deterministic shuffle (LCG) so big bodies are spread out, same order every run.
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
  }
  const counters = {};
  return kinds.map((kind) => {
    const i = (counters[kind] = (counters[kind] ?? 0) + 1);
    const { command, platform, body } = BUILDERS[kind](i);
    const queryBase = `SdkAppid=${SDK_APP_ID}&CallbackCommand=${command}&contenttype=json&ClientIP=203.0.113.${i % 250}&OptPlatform=${platform}`;
    return { kind, command, body: Buffer.from(JSON.stringify(body)), queryBase };
  });
}

export function describePool(pool) {
  const byKind = {};
  for (const r of pool) {
    const k = (byKind[r.kind] ??= { count: 0, bytes: 0 });
    k.count++;
    k.bytes += r.body.length;
  }
  const out = {};
  for (const [kind, { count, bytes }] of Object.entries(byKind)) out[kind] = { share: +(count / pool.length).toFixed(3), avg_bytes: Math.round(bytes / count) };
  return { pool_size: pool.length, avg_body_bytes: Math.round(pool.reduce((s, r) => s + r.body.length, 0) / pool.length), kinds: out };
}

// Filler text for sized bodies: deterministic words (plain ASCII, so 1 char = 1 byte in the JSON).
const WORDS = 'the release train leaves at nine bring numbers for latency throughput and memory we ship when green ok'.split(' ');
let filler = '';
function fillerText(offset, length) {
  if (filler.length < 2 * 1024 * 1024 + 16384) {
    let seed = 777;
    const parts = [];
    let n = 0;
    while (n < 2 * 1024 * 1024 + 16384) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const w = WORDS[seed % WORDS.length];
      parts.push(w);
      n += w.length + 1;
    }
    filler = parts.join(' ');
  }
  const start = offset % (filler.length - length);
  return filler.slice(start, start + length);
}

/** At most this many bytes per TIMTextElem; bigger bodies carry several text elements. */
const SIZED_CHUNK = 8192;

/**
 * A signed-ready Group.CallbackAfterSendMsg (the groupText shape) of about `targetBytes` of JSON:
 * one TIMTextElem up to 8 KB of text, several above that (64 KB → 8 elements, 1 MB → 128).
 */
function sizedGroupText(i, targetBytes) {
  const msg = groupText(i);
  msg.body.MsgBody = [];
  const base = JSON.stringify(msg.body).length;
  const elemOverhead = JSON.stringify({ MsgType: 'TIMTextElem', MsgContent: { Text: '' } }).length + 1; // + comma
  let room = Math.max(16, targetBytes - base);
  let k = 0;
  while (room > elemOverhead) {
    const len = Math.min(SIZED_CHUNK, room - elemOverhead);
    msg.body.MsgBody.push({ MsgType: 'TIMTextElem', MsgContent: { Text: fillerText(i * 7919 + k * 104729, len) } });
    room -= len + elemOverhead;
    k++;
  }
  if (msg.body.MsgBody.length === 0) msg.body.MsgBody.push({ MsgType: 'TIMTextElem', MsgContent: { Text: 'x' } });
  return msg;
}

/**
 * A pool of valid Group.CallbackAfterSendMsg requests of about `targetBytes` each (same shape as
 * buildPool's entries). The pool shrinks for big bodies so it stays ≤ ~64 MB in the load generator.
 */
export function buildSizedPool(targetBytes, size = 2000) {
  const n = Math.max(4, Math.min(size, Math.floor((64 * 2 ** 20) / targetBytes)));
  const kind = `group_text_${targetBytes >= 2 ** 20 ? `${targetBytes / 2 ** 20}MB` : `${targetBytes / 1024}KB`}`;
  return Array.from({ length: n }, (_, k) => {
    const { command, platform, body } = sizedGroupText(k + 1, targetBytes);
    const queryBase = `SdkAppid=${SDK_APP_ID}&CallbackCommand=${command}&contenttype=json&ClientIP=203.0.113.${(k + 1) % 250}&OptPlatform=${platform}`;
    return { kind, command, body: Buffer.from(JSON.stringify(body)), queryBase };
  });
}

/** Precomputed Sign per second: sha256(token + RequestTime) lowercase hex, for [from, from + seconds). */
export class Signer {
  constructor(token, fromSec, seconds) {
    this.from = fromSec;
    this.suffix = [];
    for (let s = 0; s < seconds; s++) {
      const t = String(fromSec + s);
      this.suffix.push(`&Sign=${createHash('sha256').update(token + t).digest('hex')}&RequestTime=${t}`);
    }
  }
  /** Query suffix for the current second. */
  now(ms = Date.now()) {
    const idx = Math.floor(ms / 1000) - this.from;
    return this.suffix[Math.min(Math.max(idx, 0), this.suffix.length - 1)];
  }
}
