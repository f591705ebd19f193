/**
 * The HTTP answers of design.md §5. Bodies always have Tencent's reply shape; `ErrorInfo` starts
 * with our stable code so that operators can grep for it. Bodies are built once where possible.
 */
export const OK_BODY = '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}';

export type RejectCode =
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'LENGTH_REQUIRED'
  | 'CONTENT_LENGTH_INVALID'
  | 'REQUEST_TIMEOUT'
  | 'APP_MISSING'
  | 'APP_UNKNOWN'
  | 'IP_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'SIGN_MISSING'
  | 'SIGN_INVALID'
  | 'REQUEST_TIME_INVALID'
  | 'REQUEST_TIME_OUT_OF_WINDOW'
  | 'QUERY_PARAM_REPEATED'
  | 'BODY_NOT_UTF8'
  | 'BODY_NOT_JSON'
  | 'BODY_NOT_OBJECT'
  | 'COMMAND_MISSING'
  | 'COMMAND_INVALID'
  | 'BODY_DUPLICATE_KEY'
  | 'SCHEMA_VIOLATION'
  | 'QUEUE_UNAVAILABLE'
  | 'SHUTTING_DOWN'
  | 'INFLIGHT_LIMIT'
  | 'INTERNAL_ERROR';

/** HTTP status and numeric ErrorCode per rejection. */
export const REJECTIONS: Record<RejectCode, { status: number; errorCode: number }> = {
  NOT_FOUND: { status: 404, errorCode: 40400 },
  METHOD_NOT_ALLOWED: { status: 405, errorCode: 40500 },
  PAYLOAD_TOO_LARGE: { status: 413, errorCode: 41300 },
  LENGTH_REQUIRED: { status: 411, errorCode: 41100 },
  CONTENT_LENGTH_INVALID: { status: 400, errorCode: 40007 },
  REQUEST_TIMEOUT: { status: 408, errorCode: 40800 },
  APP_MISSING: { status: 403, errorCode: 40300 },
  APP_UNKNOWN: { status: 403, errorCode: 40301 },
  IP_NOT_ALLOWED: { status: 403, errorCode: 40302 },
  RATE_LIMITED: { status: 429, errorCode: 42900 },
  SIGN_MISSING: { status: 401, errorCode: 40101 },
  SIGN_INVALID: { status: 401, errorCode: 40102 },
  REQUEST_TIME_INVALID: { status: 401, errorCode: 40103 },
  REQUEST_TIME_OUT_OF_WINDOW: { status: 401, errorCode: 40104 },
  QUERY_PARAM_REPEATED: { status: 400, errorCode: 40006 },
  BODY_NOT_UTF8: { status: 400, errorCode: 40001 },
  BODY_NOT_JSON: { status: 400, errorCode: 40002 },
  BODY_NOT_OBJECT: { status: 400, errorCode: 40003 },
  COMMAND_MISSING: { status: 400, errorCode: 40005 },
  COMMAND_INVALID: { status: 400, errorCode: 40008 },
  BODY_DUPLICATE_KEY: { status: 400, errorCode: 40009 },
  SCHEMA_VIOLATION: { status: 400, errorCode: 40004 },
  QUEUE_UNAVAILABLE: { status: 503, errorCode: 50301 },
  SHUTTING_DOWN: { status: 503, errorCode: 50302 },
  INFLIGHT_LIMIT: { status: 503, errorCode: 50310 },
  INTERNAL_ERROR: { status: 500, errorCode: 50000 },
};

export interface Answer {
  status: number;
  body: string;
  /** Set for rejections. */
  code?: RejectCode;
  reason?: string;
}

export const OK_ANSWER: Answer = Object.freeze({ status: 200, body: OK_BODY });

export function reject(code: RejectCode, reason: string): Answer {
  const { status, errorCode } = REJECTIONS[code];
  return { status, code, reason, body: JSON.stringify({ ActionStatus: 'FAIL', ErrorCode: errorCode, ErrorInfo: `${code}: ${reason}` }) };
}
