/**
 * Callback authentication (tencent-im-callbacks.md §2): SdkAppid must be ours; when the app has a
 * token, Sign = lowercase hex sha256(token + RequestTime), |now − RequestTime| within the window.
 * Every configured token (current + previous, for rotation) is compared with timingSafeEqual, and
 * all of them are always compared, so timing says nothing about which one matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppConfig } from '../config/schema.js';
import { AddressList } from './address-list.js';
import type { RejectCode } from './answers.js';

/**
 * `reason` is what the client is told; `detail`, when given, is what the log says. The answer comes
 * before authentication has passed, so it must not tell a stranger which SdkAppids are configured
 * beyond the code itself, the server's clock, or the allowlist's view of its address; operators get
 * all of it in the log line.
 */
export interface AuthFailure {
  code: RejectCode;
  reason: string;
  detail?: string;
}

interface AppAuth {
  sdkAppId: string;
  tokens: string[];
  allow: AddressList | undefined;
  /** RequestTime → the expected Sign of each token. Tencent signs per second, so a burst shares one. */
  expected: Map<string, Buffer[]>;
}

/** Distinct RequestTimes remembered per app: the time window is ±5 min, far fewer are live at once. */
const EXPECTED_CACHE_SIZE = 64;

const DIGITS = /^[0-9]{1,12}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;

export function signature(token: string, requestTime: string): string {
  return createHash('sha256').update(token + requestTime).digest('hex');
}

export class Authenticator {
  private readonly apps = new Map<string, AppAuth>();

  constructor(
    apps: readonly AppConfig[],
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    for (const app of apps) {
      const tokens = [app.token ?? '', ...(app.previous_tokens ?? [])].filter((t) => t !== '');
      this.apps.set(String(app.sdk_app_id), { sdkAppId: String(app.sdk_app_id), tokens, allow: app.allow_ips && app.allow_ips.length > 0 ? new AddressList(app.allow_ips, 'allow_ips') : undefined, expected: new Map() });
    }
  }

  /** Checks SdkAppid, client IP and signature. Returns undefined when the request may proceed. */
  /** `clientIp` may be a function: it is only called when the app has an allowlist. */
  check(sdkAppId: string | undefined, sign: string | undefined, requestTime: string | undefined, clientIp: string | (() => string)): AuthFailure | undefined {
    if (!sdkAppId) return { code: 'APP_MISSING', reason: 'SdkAppid is missing from the query string' };
    const app = this.apps.get(sdkAppId);
    if (!app) return { code: 'APP_UNKNOWN', reason: 'SdkAppid is not accepted here', detail: `SdkAppid ${truncate(sdkAppId)} is not configured here` };
    if (app.allow) {
      const ip = typeof clientIp === 'function' ? clientIp() : clientIp;
      if (!app.allow.has(ip)) return { code: 'IP_NOT_ALLOWED', reason: 'the client address is not allowed for this SdkAppid', detail: `client address ${ip} is not in apps[].allow_ips` };
    }
    if (app.tokens.length === 0) return undefined;
    if (!sign || !requestTime) return { code: 'SIGN_MISSING', reason: 'Sign and RequestTime are required (callback authentication is on)' };
    if (!DIGITS.test(requestTime)) return { code: 'REQUEST_TIME_INVALID', reason: 'RequestTime must be Unix seconds' };
    const skewMs = Math.abs(this.now() - Number(requestTime) * 1000);
    if (skewMs > this.windowMs) {
      // Rounded up: 60.4 s off in a 60 s window must not read "60 s from now (window 60 s)".
      return {
        code: 'REQUEST_TIME_OUT_OF_WINDOW',
        reason: 'RequestTime is outside the accepted window',
        detail: `RequestTime is ${Math.ceil(skewMs / 1000)} s from now (window ${this.windowMs / 1000} s)`,
      };
    }
    if (!HEX64.test(sign)) return { code: 'SIGN_INVALID', reason: 'Sign does not match' };
    const given = Buffer.from(sign.toLowerCase(), 'latin1');
    let match = false;
    for (const expected of expectedSigns(app, requestTime)) {
      if (timingSafeEqual(expected, given)) match = true;
    }
    return match ? undefined : { code: 'SIGN_INVALID', reason: 'Sign does not match' };
  }
}

function expectedSigns(app: AppAuth, requestTime: string): Buffer[] {
  let signs = app.expected.get(requestTime);
  if (signs === undefined) {
    signs = app.tokens.map((token) => Buffer.from(signature(token, requestTime), 'latin1'));
    if (app.expected.size >= EXPECTED_CACHE_SIZE) app.expected.delete(app.expected.keys().next().value!);
    app.expected.set(requestTime, signs);
  }
  return signs;
}

function truncate(value: string): string {
  return value.length > 32 ? `${value.slice(0, 32)}…` : value;
}
