/**
 * pino logs: JSON lines, or the same records rendered for a terminal (log.format, src/telemetry/pretty.ts).
 * One line per notable event, each with a stable `code`. Secrets never reach a
 * log line: the redact list covers tokens, passwords, Sign and auth headers wherever they nest.
 */
import pino, { type Logger } from 'pino';
import { PrettyDestination } from './pretty.js';

export type { Logger } from 'pino';

export const REDACT_PATHS = [
  'token',
  '*.token',
  '*.*.token',
  'tokens',
  '*.previous_tokens',
  'password',
  '*.password',
  '*.*.password',
  'sign',
  'Sign',
  '*.Sign',
  'query.Sign',
  'secret',
  '*.secret',
  '*.secrets',
  '*.*.secrets',
  'api_key',
  '*.api_key',
  '*.*.api_key',
  'headers.authorization',
  '*.headers.authorization',
  'headers.Authorization',
  '*.headers.Authorization',
];

export type LogFormat = 'auto' | 'json' | 'pretty';

/** auto: readable text when stdout is a terminal, JSON (for collectors) when it is a pipe or file. */
export function resolveLogFormat(format: LogFormat | undefined, isTTY = process.stdout.isTTY === true): 'json' | 'pretty' {
  if (format === 'json' || format === 'pretty') return format;
  return isTTY ? 'pretty' : 'json';
}

export function createLogger(level: string, destination?: pino.DestinationStream, format?: LogFormat): Logger {
  if (!destination && resolveLogFormat(format) === 'pretty') {
    destination = new PrettyDestination(process.stdout.isTTY === true && !process.env.NO_COLOR);
  }
  return pino(
    {
      level,
      base: { service: 'im-bridge' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
