/**
 * TIMMsgElement schemas (reference §5). The shared element schema is an open object with a string
 * `MsgType`; for each known MsgType an `if`/`then` clause checks `MsgContent`. Unknown MsgTypes
 * pass as long as the element is an object with a string `MsgType` (SDK-only types such as
 * TIMGroupTipsElem may show up; they are forwarded as is).
 *
 * Lenient where Tencent's docs disagree: TIMFileElem `FileName`/`fileName` and `Url`/`URL`, image
 * infos `URL`/`Url`; old SDKs omit URLs and download flags, so those are optional.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { MSG_ELEMENT_ID, MsgBody, UInt, Int, Account } from './common.js';

const Opt = Type.Optional;
const Str = () => Type.String();
const Num = () => Type.Number();

export const TextContent = Type.Object({ Text: Str() });

export const LocationContent = Type.Object({ Desc: Opt(Str()), Latitude: Num(), Longitude: Num() });

export const FaceContent = Type.Object({ Index: Num(), Data: Opt(Str()) });

export const CustomContent = Type.Object({ Data: Opt(Str()), Desc: Opt(Str()), Ext: Opt(Str()), Sound: Opt(Str()) });

export const SoundContent = Type.Object({
  Url: Opt(Str()),
  URL: Opt(Str()),
  UUID: Opt(Str()),
  Size: Opt(Num()),
  Second: Opt(Num()),
  Download_Flag: Opt(Num()),
});

export const ImageInfo = Type.Object({
  Type: Num(),
  Size: Opt(Num()),
  Width: Opt(Num()),
  Height: Opt(Num()),
  URL: Opt(Str()),
  Url: Opt(Str()),
});

export const ImageContent = Type.Object({
  UUID: Opt(Str()),
  ImageFormat: Opt(Num()),
  ImageInfoArray: Type.Array(ImageInfo),
});

export const FileContent = Type.Object({
  Url: Opt(Str()),
  URL: Opt(Str()),
  UUID: Opt(Str()),
  FileSize: Opt(Num()),
  FileName: Opt(Str()),
  fileName: Opt(Str()),
  Download_Flag: Opt(Num()),
});

export const VideoContent = Type.Object({
  VideoUrl: Opt(Str()),
  VideoUUID: Opt(Str()),
  VideoSize: Opt(Num()),
  VideoSecond: Opt(Num()),
  VideoFormat: Opt(Str()),
  VideoDownloadFlag: Opt(Num()),
  ThumbUrl: Opt(Str()),
  ThumbUUID: Opt(Str()),
  ThumbSize: Opt(Num()),
  ThumbWidth: Opt(Num()),
  ThumbHeight: Opt(Num()),
  ThumbFormat: Opt(Str()),
  ThumbDownloadFlag: Opt(Num()),
});

/** One forwarded message inside a TIMRelayElem `MsgList`; its MsgBody recurses to the element schema. */
export const RelayItem = Type.Object({
  From_Account: Opt(Account()),
  To_Account: Opt(Account()),
  GroupId: Opt(Str()),
  MsgSeq: Opt(UInt()),
  MsgRandom: Opt(UInt()),
  MsgTimeStamp: Opt(UInt()),
  MsgBody: Opt(MsgBody()),
  CloudCustomData: Opt(Str()),
});

export const RelayContent = Type.Object({
  Title: Opt(Str()),
  MsgNum: Opt(Int()),
  CompatibleText: Opt(Str()),
  AbstractList: Opt(Type.Array(Str())),
  MsgList: Opt(Type.Array(RelayItem)),
  JsonMsgKey: Opt(Str()),
});

/** MsgType → MsgContent schema for every documented element type. */
export const ELEMENT_CONTENT_SCHEMAS: Readonly<Record<string, TSchema>> = {
  TIMTextElem: TextContent,
  TIMLocationElem: LocationContent,
  TIMFaceElem: FaceContent,
  TIMCustomElem: CustomContent,
  TIMSoundElem: SoundContent,
  TIMImageElem: ImageContent,
  TIMFileElem: FileContent,
  TIMVideoFileElem: VideoContent,
  TIMRelayElem: RelayContent,
};

function contentClause(msgType: string, content: TSchema) {
  return {
    if: { required: ['MsgType'], properties: { MsgType: { const: msgType } } },
    then: { required: ['MsgContent'], properties: { MsgContent: content } },
  };
}

/**
 * The shared, recursive element schema. Registered once with ajv under MSG_ELEMENT_ID and
 * referenced from every MsgBody.
 */
export const MsgElement = Type.Unsafe<{ MsgType: string; MsgContent?: Record<string, unknown> }>({
  $id: MSG_ELEMENT_ID,
  type: 'object',
  'x-expect': 'an object with a string MsgType',
  required: ['MsgType'],
  properties: {
    MsgType: Type.String(),
    MsgContent: Type.Object({}, { 'x-expect': 'an object' }),
  },
  allOf: Object.keys(ELEMENT_CONTENT_SCHEMAS).map((k) => contentClause(k, ELEMENT_CONTENT_SCHEMAS[k]!)),
});
