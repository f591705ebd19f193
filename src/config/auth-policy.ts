/**
 * Unsigned must be a choice. An app without a token accepts any request that names its SdkAppid:
 * fine on a loopback address behind a proxy that checks, dangerous on a public one. So an unsigned
 * app on a non-loopback listener needs `allow_unsigned: true`, and every unsigned app is reported
 * (AUTH_DISABLED) by `im-bridge check` and at start. One rule, used by the loader, `check` and the daemon.
 */
import type { BridgeConfig } from './schema.js';

/** 127.0.0.0/8, ::1 and localhost. Everything else (0.0.0.0, ::, a LAN address, a name) may be reachable. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

export interface UnsignedApp {
  index: number;
  sdkAppId: string;
  /** Refused: non-loopback listener without allow_unsigned. */
  refused: boolean;
  message: string;
}

export function unsignedApps(config: Pick<BridgeConfig, 'apps' | 'listen'>): UnsignedApp[] {
  const loopback = isLoopbackHost(config.listen.host);
  const out: UnsignedApp[] = [];
  config.apps.forEach((app, index) => {
    if (app.token) return;
    const sdkAppId = String(app.sdk_app_id);
    const refused = !loopback && !app.allow_unsigned;
    const where = loopback ? `on loopback ${config.listen.host}` : `on ${config.listen.host}, which is not a loopback address`;
    out.push({
      index,
      sdkAppId,
      refused,
      message: refused
        ? `app ${sdkAppId} has no token (signature checking off) ${where}: anyone who can reach the port could forge callbacks. Set apps[${index}].token (e.g. \${IM_CALLBACK_TOKEN}), listen on 127.0.0.1 behind a proxy, or accept unsigned callbacks on purpose with apps[${index}].allow_unsigned: true`
        : `app ${sdkAppId} has no token: signature checking is off ${where}${loopback ? '' : ' (allow_unsigned: true)'}; set apps[${index}].token to require Sign/RequestTime`,
    });
  });
  return out;
}
