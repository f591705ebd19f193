/**
 * MsgBody → MessageElement[] with typed, camelCase contents (reference §5).
 *
 * - TIMTextElem → text {text}; TIMLocationElem → location {desc, latitude, longitude};
 *   TIMFaceElem → face {index, data}; TIMCustomElem → custom {data, desc, ext, sound};
 *   TIMSoundElem → sound {url, uuid, size, second, downloadFlag};
 *   TIMImageElem → image {uuid, format, images[{type, size, width, height, url}]};
 *   TIMFileElem → file {url, uuid, fileSize, fileName, downloadFlag} (FileName/fileName, Url/URL);
 *   TIMVideoFileElem → video {video{url, uuid, size, second, format, downloadFlag}, thumb{...}};
 *   TIMRelayElem → relay {title, msgNum, compatibleText, abstractList, jsonMsgKey, messages[...]}
 *   with nested elements, down to MAX_RELAY_DEPTH levels (deeper: `truncated: true`).
 * - Any other MsgType → kind 'unknown', content = a shallow copy of MsgContent.
 * Fields absent from the input are absent from the content (never undefined).
 */
import type { MessageElement } from './event.js';

/** Nesting limit for relay (forwarded) messages inside relay messages. */
export const MAX_RELAY_DEPTH = 8;

const IMAGE_FORMATS: Readonly<Record<number, string>> = { 1: 'jpg', 2: 'gif', 3: 'png', 4: 'bmp', 255: 'other' };
const IMAGE_TYPES: Readonly<Record<number, string>> = { 1: 'original', 2: 'large', 3: 'thumbnail' };

const hasOwn = Object.prototype.hasOwnProperty;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function s(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function n(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function put(target: Obj, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value;
}

export function normalizeElements(msgBody: readonly unknown[], depth: number): MessageElement[] {
  const out: MessageElement[] = new Array(msgBody.length);
  for (let i = 0; i < msgBody.length; i++) out[i] = normalizeElement(msgBody[i], depth);
  return out;
}

export function normalizeElement(el: unknown, depth: number): MessageElement {
  if (!isObj(el)) return { type: '', kind: 'unknown', content: {} };
  const type = typeof el.MsgType === 'string' ? el.MsgType : '';
  const c = isObj(el.MsgContent) ? el.MsgContent : undefined;
  switch (type) {
    case 'TIMTextElem': {
      const content: Obj = {};
      if (c) put(content, 'text', s(c.Text));
      return { type, kind: 'text', content };
    }
    case 'TIMLocationElem': {
      const content: Obj = {};
      if (c) {
        put(content, 'desc', s(c.Desc));
        put(content, 'latitude', n(c.Latitude));
        put(content, 'longitude', n(c.Longitude));
      }
      return { type, kind: 'location', content };
    }
    case 'TIMFaceElem': {
      const content: Obj = {};
      if (c) {
        put(content, 'index', n(c.Index));
        put(content, 'data', s(c.Data));
      }
      return { type, kind: 'face', content };
    }
    case 'TIMCustomElem': {
      const content: Obj = {};
      if (c) {
        put(content, 'data', s(c.Data));
        put(content, 'desc', s(c.Desc));
        put(content, 'ext', s(c.Ext));
        put(content, 'sound', s(c.Sound));
      }
      return { type, kind: 'custom', content };
    }
    case 'TIMSoundElem': {
      const content: Obj = {};
      if (c) {
        put(content, 'url', s(c.Url) ?? s(c.URL));
        put(content, 'uuid', s(c.UUID));
        put(content, 'size', n(c.Size));
        put(content, 'second', n(c.Second));
        put(content, 'downloadFlag', n(c.Download_Flag));
      }
      return { type, kind: 'sound', content };
    }
    case 'TIMImageElem':
      return { type, kind: 'image', content: c ? imageContent(c) : {} };
    case 'TIMFileElem': {
      const content: Obj = {};
      if (c) {
        put(content, 'url', s(c.Url) ?? s(c.URL));
        put(content, 'uuid', s(c.UUID));
        put(content, 'fileSize', n(c.FileSize));
        put(content, 'fileName', s(c.FileName) ?? s(c.fileName));
        put(content, 'downloadFlag', n(c.Download_Flag));
      }
      return { type, kind: 'file', content };
    }
    case 'TIMVideoFileElem':
      return { type, kind: 'video', content: c ? videoContent(c) : {} };
    case 'TIMRelayElem':
      return { type, kind: 'relay', content: c ? relayContent(c, depth) : {} };
    default: {
      const content: Obj = {};
      if (c) {
        for (const k in c) {
          if (!hasOwn.call(c, k)) continue;
          if (k === '__proto__') {
            Object.defineProperty(content, k, { value: c[k], enumerable: true, writable: true, configurable: true });
          } else content[k] = c[k];
        }
      }
      return { type, kind: 'unknown', content };
    }
  }
}

function imageContent(c: Obj): Obj {
  const content: Obj = {};
  put(content, 'uuid', s(c.UUID));
  const fmt = n(c.ImageFormat);
  if (fmt !== undefined) content.format = IMAGE_FORMATS[fmt] ?? 'other';
  const infos = c.ImageInfoArray;
  if (Array.isArray(infos)) {
    const images: Obj[] = [];
    for (let i = 0; i < infos.length; i++) {
      const info = infos[i];
      if (!isObj(info)) continue;
      const img: Obj = {};
      const t = n(info.Type);
      if (t !== undefined) img.type = IMAGE_TYPES[t] ?? String(t);
      put(img, 'size', n(info.Size));
      put(img, 'width', n(info.Width));
      put(img, 'height', n(info.Height));
      put(img, 'url', s(info.URL) ?? s(info.Url));
      images.push(img);
    }
    content.images = images;
  }
  return content;
}

function videoContent(c: Obj): Obj {
  const video: Obj = {};
  put(video, 'url', s(c.VideoUrl) ?? s(c.VideoURL));
  put(video, 'uuid', s(c.VideoUUID));
  put(video, 'size', n(c.VideoSize));
  put(video, 'second', n(c.VideoSecond));
  put(video, 'format', s(c.VideoFormat));
  put(video, 'downloadFlag', n(c.VideoDownloadFlag));
  const thumb: Obj = {};
  put(thumb, 'url', s(c.ThumbUrl) ?? s(c.ThumbURL));
  put(thumb, 'uuid', s(c.ThumbUUID));
  put(thumb, 'size', n(c.ThumbSize));
  put(thumb, 'width', n(c.ThumbWidth));
  put(thumb, 'height', n(c.ThumbHeight));
  put(thumb, 'format', s(c.ThumbFormat));
  put(thumb, 'downloadFlag', n(c.ThumbDownloadFlag));
  return { video, thumb };
}

function relayContent(c: Obj, depth: number): Obj {
  const content: Obj = {};
  put(content, 'title', s(c.Title));
  put(content, 'msgNum', n(c.MsgNum));
  put(content, 'compatibleText', s(c.CompatibleText));
  if (Array.isArray(c.AbstractList)) {
    const list: string[] = [];
    for (let i = 0; i < c.AbstractList.length; i++) {
      const a = c.AbstractList[i];
      if (typeof a === 'string') list.push(a);
    }
    content.abstractList = list;
  }
  put(content, 'jsonMsgKey', s(c.JsonMsgKey));
  const msgList = c.MsgList;
  if (Array.isArray(msgList)) {
    if (depth >= MAX_RELAY_DEPTH) {
      content.truncated = true;
    } else {
      const messages: Obj[] = [];
      for (let i = 0; i < msgList.length; i++) {
        const item = msgList[i];
        if (!isObj(item)) continue;
        const m: Obj = {};
        put(m, 'sender', s(item.From_Account));
        put(m, 'to', s(item.To_Account));
        put(m, 'groupId', s(item.GroupId));
        put(m, 'seq', n(item.MsgSeq));
        put(m, 'random', n(item.MsgRandom));
        const ts = n(item.MsgTimeStamp);
        if (ts !== undefined) m.timeMs = ts * 1000;
        put(m, 'cloudCustomData', s(item.CloudCustomData));
        if (Array.isArray(item.MsgBody)) m.elements = normalizeElements(item.MsgBody, depth + 1);
        messages.push(m);
      }
      content.messages = messages;
    }
  }
  return content;
}

/**
 * Searchable text of a message: text elements' text, custom elements' desc and location
 * elements' desc, in order, non-empty pieces joined by "\n". Relay contents are not included.
 */
export function elementsText(elements: readonly MessageElement[]): string {
  let text = '';
  for (let i = 0; i < elements.length; i++) {
    const el = elements[i]!;
    let piece: unknown;
    if (el.kind === 'text') piece = el.content.text;
    else if (el.kind === 'custom' || el.kind === 'location') piece = el.content.desc;
    else continue;
    if (typeof piece === 'string' && piece.length > 0) text = text.length === 0 ? piece : text + '\n' + piece;
  }
  return text;
}
