/**
 * The shape of a CallbackCommand. Every documented Tencent command is `Family.Name` in ASCII letters
 * and digits (`Group.CallbackAfterSendMsg`, `C2C.CallbackBeforeSendMsg`, `State.StateChange`); unknown
 * future commands of that shape pass through. Anything else — 3,000 dots, 10 KB, control characters —
 * cannot be a callback and would otherwise reach subjects, topics, index names, metrics and logs.
 */
const COMMAND_SHAPE = /^[A-Za-z][A-Za-z0-9]{0,39}\.[A-Za-z][A-Za-z0-9]{0,79}$/;

/** For error messages and docs. */
export const COMMAND_SHAPE_TEXT = 'Family.Name (ASCII letters and digits, each starting with a letter; family ≤ 40, name ≤ 80 characters)';

export function isCommandShaped(command: string): boolean {
  return command.length <= 121 && COMMAND_SHAPE.test(command);
}
