/**
 * A log line with a registered code: `logEvent(logger, 'QUEUE_OPENED', { dir }, 'queue opened')`.
 * The code is typed (`Code`, src/codes.ts) and the level comes from the registry, so a line cannot
 * drift from what docs/codes.md says. Codes logged at two levels (`warn/debug`) take the first unless
 * `level` is given; codes of other kinds (errors, answers) are logged at `level`, `error` by default.
 */
import type { Logger } from 'pino';
import { CODES, type Code, type CodeInfo, type LogLevel } from '../codes.js';

export function logLevelOf(code: Code): LogLevel | undefined {
  const info: CodeInfo = CODES[code];
  return info.kind === 'log' ? (info.level.split('/')[0] as LogLevel) : undefined;
}

export function logEvent(logger: Logger, code: Code, fields: Record<string, unknown>, msg: string, level?: LogLevel): void {
  logger[level ?? logLevelOf(code) ?? 'error']({ ...fields, code }, msg);
}
