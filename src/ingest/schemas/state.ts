/** State.StateChange (reference §7.1). Platform values are free strings (IOS/iOS, Mac/macOS...). */
import { Type, type TSchema } from '@sinclair/typebox';
import { Account, CallbackObject } from './common.js';

const Opt = Type.Optional;

export const StateChange = CallbackObject({
  Info: Type.Object({
    Action: Opt(Type.String()),
    To_Account: Account(),
    Reason: Opt(Type.String()),
  }),
  KickedDevice: Opt(Type.Array(Type.Object({ Platform: Opt(Type.String()) }))),
});

export const STATE_SCHEMAS: Readonly<Record<string, TSchema>> = {
  'State.StateChange': StateChange,
};
