/**
 * UserSig of the app admin account for Tencent's REST API, made by Tencent's own library
 * (npm tls-sig-api-v2: HMAC-SHA256 over identifier, sdkappid, time and expiry with the SDK secret
 * key, deflated, base64url). One signature is reused until a fifth of its lifetime is left, so a
 * backfill does not sign per request; a 70001 (expired) answer makes the client ask for a new one.
 */
import { createRequire } from 'node:module';

interface TlsSigApi {
  genUserSig(userid: string, expire: number): string;
}
type TlsSigModule = { Api: new (sdkappid: number, key: string) => TlsSigApi };

const tlsSig = createRequire(import.meta.url)('tls-sig-api-v2') as TlsSigModule;

export class UserSigSource {
  private readonly api: TlsSigApi;
  private sig: string | undefined;
  private renewAtMs = 0;

  constructor(
    readonly sdkAppId: string,
    readonly identifier: string,
    secretKey: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.api = new tlsSig.Api(Number(sdkAppId), secretKey);
  }

  current(): string {
    const nowMs = this.now();
    if (this.sig === undefined || nowMs >= this.renewAtMs) {
      this.sig = this.api.genUserSig(this.identifier, this.ttlSeconds);
      this.renewAtMs = nowMs + this.ttlSeconds * 800;
    }
    return this.sig;
  }

  /** The API said the signature expired (clock skew, a long pause): sign again at the next request. */
  invalidate(): void {
    this.sig = undefined;
  }
}
