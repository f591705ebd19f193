/** Sns.* (relationship chain) callback schemas (reference §7.1). */
import { Type, type TSchema } from '@sinclair/typebox';
import { Account, CallbackObject, Int } from './common.js';

const Opt = Type.Optional;

const Pair = Type.Object({
  From_Account: Account(),
  To_Account: Account(),
  Initiator_Account: Opt(Account()),
});

export const SnsFriendAdd = CallbackObject({
  PairList: Type.Array(Pair),
  ClientCmd: Opt(Type.String()),
  Admin_Account: Opt(Account()),
  ForceFlag: Opt(Int()),
});

export const SnsFriendDelete = CallbackObject({
  PairList: Type.Array(Pair),
  ClientCmd: Opt(Type.String()),
});

export const SnsBlackList = CallbackObject({
  PairList: Type.Array(Pair),
});

export const SnsPrevFriendAdd = CallbackObject({
  Requester_Account: Opt(Account()),
  From_Account: Account(),
  FriendItem: Type.Array(
    Type.Object({
      To_Account: Account(),
      Remark: Opt(Type.String()),
      GroupName: Opt(Type.String()),
      AddSource: Opt(Type.String()),
      AddWording: Opt(Type.String()),
    }),
  ),
  AddType: Opt(Type.String()),
  ForceAddFlags: Opt(Int()),
});

export const SnsPrevFriendResponse = CallbackObject({
  Requester_Account: Opt(Account()),
  From_Account: Account(),
  ResponseFriendItem: Type.Array(
    Type.Object({
      To_Account: Account(),
      Remark: Opt(Type.String()),
      TagName: Opt(Type.String()),
      ResponseAction: Opt(Type.String()),
    }),
  ),
});

export const SNS_SCHEMAS: Readonly<Record<string, TSchema>> = {
  'Sns.CallbackPrevFriendResponse': SnsPrevFriendResponse,
  'Sns.CallbackFriendAdd': SnsFriendAdd,
  'Sns.CallbackFriendDelete': SnsFriendDelete,
  'Sns.CallbackBlackListAdd': SnsBlackList,
  'Sns.CallbackBlackListDelete': SnsBlackList,
  'Sns.CallbackPrevFriendAdd': SnsPrevFriendAdd,
};
