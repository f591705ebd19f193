/**
 * pino JSON logs. One line per notable event, each with a stable `code`. Secrets never reach a
 * log line: the redact list covers tokens, passwords, Sign and auth headers wherever they nest.
 */
import pino, { type Logger } from 'pino';

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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
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
