/** C2C.* callback schemas (reference §7.2). */
import { Type, type TSchema } from '@sinclair/typebox';
import { Account, CallbackObject, Int, MsgBody, UInt } from './common.js';

const Opt = Type.Optional;

const C2CMsgFields = {
  From_Account: Account(),
  To_Account: Account(),
  MsgSeq: Opt(UInt()),
  MsgRandom: Opt(UInt()),
  MsgTime: Opt(UInt()),
  MsgKey: Opt(Type.String()),
  MsgId: Opt(Type.String()),
  OnlineOnlyFlag: Opt(Int()),
  MsgBody: MsgBody(),
  CloudCustomData: Opt(Type.String()),
};

export const C2CAfterSendMsg = CallbackObject({
  ...C2CMsgFields,
  SendMsgResult: Opt(Int()),
  ErrorInfo: Opt(Type.String()),
  UnreadMsgNum: Opt(Int()),
});

export const C2CBeforeSendMsg = CallbackObject(C2CMsgFields);

export const C2CAfterMsgWithDraw = CallbackObject({
  From_Account: Account(),
  To_Account: Account(),
  MsgKey: Type.String(),
  UnreadMsgNum: Opt(Int()),
});

export const C2CAfterMsgReport = CallbackObject({
  Report_Account: Account(),
  Peer_Account: Account(),
  LastReadTime: Opt(UInt()),
  UnreadMsgNum: Opt(Int()),
});

export const C2CAfterModifyMsg = CallbackObject({
  Operator_Account: Opt(Account()),
  From_Account: Account(),
  To_Account: Account(),
  MsgSeq: Opt(UInt()),
  MsgRandom: Opt(UInt()),
  MsgTime: Opt(UInt()),
  MsgKey: Opt(Type.String()),
  MsgBody: Opt(MsgBody()),
  CloudCustomData: Opt(Type.String()),
});

export const C2CAfterMsgReadReceipt = CallbackObject({
  Operator_Account: Account(),
  Peer_Account: Account(),
  C2CMsgInfo: Opt(Type.Array(Type.Object({ From_Account: Opt(Account()), To_Account: Opt(Account()), MsgKey: Opt(Type.String()), MsgId: Opt(Type.String()) }))),
});

export const C2CAfterMsgReadAll = CallbackObject({
  Report_Account: Account(),
  GroupReadInfo: Opt(Type.Array(Type.Object({ GroupId: Opt(Type.String()), MsgSeq: Opt(UInt()) }))),
});

export const C2CAfterMsgExtension = CallbackObject({
  From_Account: Account(),
  To_Account: Account(),
  MsgKey: Opt(Type.String()),
  OperateType: Opt(Int()),
  ExtensionList: Opt(Type.Array(Type.Object({ Key: Opt(Type.String()), Value: Opt(Type.String()), Seq: Opt(UInt()) }))),
  Seq: Opt(UInt()),
});

export const C2C_SCHEMAS: Readonly<Record<string, TSchema>> = {
  'C2C.CallbackAfterMsgReadReceipt': C2CAfterMsgReadReceipt,
  'C2C.CallbackAfterMsgReadAll': C2CAfterMsgReadAll,
  'C2C.CallbackAfterC2CMsgExtension': C2CAfterMsgExtension,
  'C2C.CallbackAfterSendMsg': C2CAfterSendMsg,
  'C2C.CallbackBeforeSendMsg': C2CBeforeSendMsg,
  'C2C.CallbackAfterMsgWithDraw': C2CAfterMsgWithDraw,
  'C2C.CallbackAfterMsgReport': C2CAfterMsgReport,
  'C2C.CallbackAfterModifyMsg': C2CAfterModifyMsg,
};
